"""A plugin that adds a metric and a system reporting it (used by tests/test_trust.py).

A scenario names ``leak_rate`` in its ``metrics:``; it validates only when this module is
listed by the user (``--plugin leak_plugin``), because plugins load before names are checked.
"""

from typing import ClassVar, Dict, FrozenSet, Mapping

from linksim.metrics import ProportionMetric
from linksim.registry import metrics, systems
from linksim.systems import System


@metrics.register("leak_rate", summary="Fraction of messages an eavesdropper decodes (toy).")
def _leak_rate() -> ProportionMetric:
    return ProportionMetric("leak_rate", count="leaks", total="messages")


@systems.register("toy_leaky_link")
class ToyLeakyLink(System):
    """Leaks exactly one message in four: a known truth for the metric."""

    metrics_provided: ClassVar[FrozenSet[str]] = frozenset({"leak_rate"})

    def simulate(self, batch_size: int, point: Mapping[str, float]) -> Dict[str, float]:
        return {"leaks": batch_size // 4, "messages": batch_size}
