"""Helpers shared by the training code of every learned system."""

from __future__ import annotations

import sys
from contextlib import contextmanager
from typing import Any, Dict, Iterator, Optional

import torch


@contextmanager
def torch_threads(count: Optional[int]) -> Iterator[None]:
    """Run with ``count`` torch intra-op threads (None: unchanged), then restore.

    Small layers on a few (shared) CPU cores often run several times faster on one
    thread than on two, whose synchronisation dominates.
    """
    before = torch.get_num_threads()
    if count is not None:
        torch.set_num_threads(count)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def log_stderr(message: str) -> None:
    """Default progress logger of training: one line on stderr."""
    print(message, file=sys.stderr, flush=True)


def seed_training(material: Dict[str, Any]) -> int:
    """Seed Keras (initial weights, dropout), Python, numpy, torch and Sionna from ``material``.

    Training is then a function of what it is seeded with (e.g. the scenario seed and
    the weight-cache key), not of what ran before it in the process.

    :param material: JSON-able values; the seed is their :func:`~linksim.weights.config_hash`
        modulo 2**31.
    :returns: The seed used.
    """
    import keras
    import sionna.phy

    from ..weights import config_hash

    seed = int(config_hash(material), 16) % (2**31)
    keras.utils.set_random_seed(seed)
    sionna.phy.config.seed = seed
    return seed
