"""Physical layer: channels, modulation, channel codes and theory curves (Sionna-based)."""
