"""A coin-flip system whose worker fails on purpose (tests of the parallel runner)."""

import os
from pathlib import Path
from typing import ClassVar, Dict, FrozenSet, Literal, Mapping

from pydantic import Field

from linksim.registry import systems
from toy_plugin import ToyCoin


@systems.register("toy_flaky")
class FlakyCoin(ToyCoin):
    """:class:`ToyCoin`, except at ``snr_db == fail_at``: ``raise`` an error, or ``die`` (the
    worker process exits; with ``marker`` given, only the first time, when the file is created)."""

    class Params(ToyCoin.Params):
        fail_at: float = 5.0
        mode: Literal["raise", "die"] = "raise"
        marker: str = Field("", description="file created by the first death; no second death once it exists")

    metrics_provided: ClassVar[FrozenSet[str]] = ToyCoin.metrics_provided

    def simulate(self, batch_size: int, point: Mapping[str, float]) -> Dict[str, float]:
        p = self.params
        if point["snr_db"] == p.fail_at:
            if p.mode == "raise":
                raise RuntimeError("flaky: simulated failure")
            marker = Path(p.marker) if p.marker else None
            if marker is None or not marker.exists():
                if marker is not None:
                    marker.write_text("died once")
                os._exit(3)
        return super().simulate(batch_size, point)
