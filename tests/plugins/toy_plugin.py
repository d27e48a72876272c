"""A user's own system, registered with the decorator (used by the tests and README)."""

from typing import ClassVar, Dict, FrozenSet, Mapping

import sionna.phy
import torch
from pydantic import Field

from linksim import ParamsModel
from linksim.registry import systems
from linksim.systems import System


@systems.register("toy_coin")
class ToyCoin(System):
    """Each trial fails with probability p = 0.5 * 10**(-snr_db / scale): a known truth."""

    class Params(ParamsModel):
        scale: float = Field(10.0, gt=0)
        trials_per_example: int = Field(10, ge=1)

    metrics_provided: ClassVar[FrozenSet[str]] = frozenset({"ber", "accuracy"})

    def error_probability(self, snr_db: float) -> float:
        return 0.5 * 10 ** (-snr_db / self.params.scale)

    def simulate(self, batch_size: int, point: Mapping[str, float]) -> Dict[str, float]:
        gen = sionna.phy.config.torch_rng("cpu")
        n = batch_size * self.params.trials_per_example
        errors = (torch.rand(n, generator=gen, dtype=torch.float64) < self.error_probability(point["snr_db"])).sum().item()
        return {"bit_errors": errors, "bits": n, "correct": n - errors, "trials": n}
