"""A module the bad-input corpus names but never allows as a plugin.

Importing it leaves a trace (the environment variable below) before anything else
runs, so tests/test_bad_inputs.py can check that a scenario naming
``corpus_sentinel:...`` is refused without importing it. Its classes are proper
subclasses of linksim's base classes: only the plugin allow-list may refuse them.
"""

import os

os.environ["LINKSIM_CORPUS_SENTINEL"] = "imported"

from typing import ClassVar, Dict, FrozenSet, Mapping  # noqa: E402

from linksim.metrics import Metric  # noqa: E402
from linksim.phy.base import Channel, ChannelCode  # noqa: E402
from linksim.systems import System  # noqa: E402


class SentinelSystem(System):
    """A system that reports one bit error per trial."""

    metrics_provided: ClassVar[FrozenSet[str]] = frozenset({"ber"})

    def simulate(self, batch_size: int, point: Mapping[str, float]) -> Dict[str, float]:
        return {"bit_errors": float(batch_size), "bits": float(batch_size)}


class SentinelChannel(Channel):
    """Never used: exists to be named."""


class SentinelCode(ChannelCode):
    """Never used: exists to be named."""


class SentinelMetric(Metric):
    """Never used: exists to be named."""

    name = "sentinel"


def sentinel_curve(x, scale=1.0):
    """A theory-curve-shaped function."""
    return x * 0 + scale
