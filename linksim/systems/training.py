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


@contextmanager
def preserved_random_state(device: str = "cpu") -> Iterator[None]:
    """Run a side computation (a probe, a measurement) without moving any generator.

    Saves and restores Python's, numpy's and torch's global generators (CUDA's too when
    ``device`` is ``cuda``) and Sionna's torch, numpy and Python generators, so that
    training interleaved with the computation draws exactly what it would have drawn
    without it, even if the computation reseeds (:func:`seed_training`).
    """
    import random

    import numpy as np
    import sionna.phy

    config = sionna.phy.config
    states = (random.getstate(), np.random.get_state(), torch.get_rng_state(),
              config.np_rng.bit_generator.state, config.py_rng.getstate())
    cuda = torch.cuda.get_rng_state_all() if device.startswith("cuda") and torch.cuda.is_available() else None
    sionna_torch = config.torch_rng(device)
    sionna_torch_state = sionna_torch.get_state()
    try:
        yield
    finally:
        random.setstate(states[0])
        np.random.set_state(states[1])
        torch.set_rng_state(states[2])
        if cuda is not None:
            torch.cuda.set_rng_state_all(cuda)
        config = sionna.phy.config  # the computation may have reseeded: restore into the live generators
        config.torch_rng(device).set_state(sionna_torch_state)
        config.np_rng.bit_generator.state = states[3]
        config.py_rng.setstate(states[4])
