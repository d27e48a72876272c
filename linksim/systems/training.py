"""Helpers shared by the training code of every learned system."""

from __future__ import annotations

import sys
from contextlib import contextmanager
from typing import Iterator, Optional

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
