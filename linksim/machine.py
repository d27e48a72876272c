"""What this machine has: memory and processors (for limits stated in messages)."""

from __future__ import annotations

import os
from typing import Optional


def memory_bytes() -> Optional[int]:
    """Physical memory of this machine in bytes, or None where it cannot be read."""
    try:
        return int(os.sysconf("SC_PAGE_SIZE")) * int(os.sysconf("SC_PHYS_PAGES"))
    except (AttributeError, ValueError, OSError):  # pragma: no cover - not POSIX
        return None


def cpu_count() -> int:
    """Processors this process may use (at least 1)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


def max_threads() -> int:
    """The most torch threads (or parallel jobs) linksim accepts: 4 per processor, at least 8."""
    return max(8, 4 * cpu_count())
