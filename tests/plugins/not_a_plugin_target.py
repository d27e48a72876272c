"""A module with a callable that is not a linksim component (tests/test_trust.py)."""

CALLS = []


def record(*args, **kwargs):
    """Would run if a scenario could call any function by import path; it must not."""
    CALLS.append((args, kwargs))
    return 0.5
