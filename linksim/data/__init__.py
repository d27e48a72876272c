"""Datasets: official-format loaders and embedded deterministic data."""
