"""Image datasets (being written)."""
