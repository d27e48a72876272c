"""The registered ``privacy_cost`` system: Table I of the privacy-ToSC paper, measured on linksim's networks.

For a scheme of ``privacy_tosc`` (the same ``params``), without training anything:

* ``params_m``: deployed parameters (encoder, task head, LBVQ codebook), millions;
* ``params_train_m``: parameters of every network training needs (IBAL adds its
  simulated adversary), millions;
* ``gflops``: forward FLOPs of one image through the deployed path (transmitter and
  receiver, noiseless), counted by ``torch.utils.flop_counter`` (2 per multiply-add;
  noise, clipping and permutations count nothing), GFLOP;
* ``train_epoch_s``: seconds per epoch of ``reference_images`` at batch ``batch_size``,
  extrapolated from ``timed_steps`` optimizer steps of the scheme's own objectives on
  random images (the paper: 50 000 CIFAR-10 images, batch 512); an IBAL epoch holds an
  adversary step beside each transceiver step;
* ``infer_ms``: median batch-1 latency of the deployed path over ``latency_runs`` runs.

Times depend on the machine (the figure footer names it); parameter and FLOP counts do
not. One record per sweep point: run it with ``monte_carlo: {max_batches: 1}``.
"""

from __future__ import annotations

import math
import statistics
import time
from typing import Any, ClassVar, Dict, FrozenSet, Mapping

import numpy as np
import torch
from pydantic import Field

from ...learning import Batches, TrainingLoop
from ...learning.stages import StageSettings
from ...registry import systems
from ...vision import quality
from ..base import SystemContext
from ..image_system import ImageSystem
from .schemes import ADVERSARIAL, WITH_IB
from .system import PrivacyParams, PrivacyToscSystem
from .training import Regularisers, transceiver_objectives

#: Table I's metrics (registered in :mod:`linksim.metrics`).
COST_METRICS = ("params_m", "params_train_m", "gflops", "train_epoch_s", "infer_ms")


class CostParams(PrivacyParams):
    """``privacy_tosc``'s params plus the timing settings."""

    reference_images: int = Field(50000, ge=1, le=10**8, description="images per epoch the time is extrapolated to")
    batch_size: int = Field(512, ge=2, le=8192, description="batch of the timed training steps")
    timed_steps: int = Field(20, ge=1, le=10**4, description="optimizer steps timed")
    latency_runs: int = Field(50, ge=1, le=10**5, description="batch-1 forward passes timed (median)")


def parameter_count(*models: Any) -> int:
    """Trainable scalars of Keras ``models`` (each weight counted once)."""
    seen: Dict[int, int] = {}
    for model in models:
        for variable in model.trainable_weights:
            seen[id(variable.value)] = math.prod(variable.shape)
    return sum(seen.values())


@systems.register("privacy_cost")
class PrivacyCostSystem(ImageSystem):
    """Table I: parameters, FLOPs and times of a privacy scheme (module docstring)."""

    Params = CostParams
    sweep_parameters: ClassVar[FrozenSet[str]] = frozenset({"snr_db"})
    metrics_provided: ClassVar[FrozenSet[str]] = frozenset(COST_METRICS)
    simulate_needs_gradients: ClassVar[bool] = True  # it times training steps

    def __init__(self, params: CostParams, context: SystemContext) -> None:
        super().__init__(params, context)
        self.tosc = PrivacyToscSystem(PrivacyParams(**{k: getattr(params, k) for k in PrivacyParams.model_fields}),
                                      context)

    @classmethod
    def validate_context(cls, params: CostParams, context: SystemContext) -> None:
        PrivacyToscSystem.validate_context(params, context)

    def simulate(self, batch_size: int, point: Mapping[str, float]) -> Dict[str, float]:
        from .networks import build_inverter

        p, tosc = self.params, self.tosc
        mp = tosc._model_point(point)
        model = tosc._build_transceiver(tosc.num_classes(mp))
        link = tosc._link(model, mp)
        extra = Regularisers(ib_beta=p.ib_beta if p.scheme in WITH_IB else 0.0)
        if p.scheme in ADVERSARIAL:
            extra.adversary = build_inverter(link.listener_values, self.image_shape, p.adversary_width)
            extra.adversarial_weight = mp[1]
        h, w, c = self.image_shape
        one = torch.rand(1, c, h, w)
        with torch.no_grad():
            link.logits(link.transmit(one), link.transmit(one).tx)  # warm-up
            with torch.utils.flop_counter.FlopCounterMode(display=False) as counter:
                sent = link.transmit(one)
                link.logits(sent, sent.tx)
            latency = []
            for _ in range(1 if self.context.quick else p.latency_runs):
                start = time.perf_counter()
                sent = link.transmit(one)
                link.logits(sent, sent.tx)
                latency.append(time.perf_counter() - start)
        values = {"params_m": parameter_count(model) / 1e6,
                  "params_train_m": parameter_count(model, *([extra.adversary] if extra.adversary else [])) / 1e6,
                  "gflops": counter.get_total_flops() / 1e9,
                  "infer_ms": 1e3 * statistics.median(latency),
                  "train_epoch_s": self._epoch_seconds(link, extra)}
        stats: Dict[str, float] = {}
        for name, value in values.items():
            stats.update(quality.mean_statistics(name, np.array([value])))
        return stats

    def _epoch_seconds(self, link: Any, extra: Regularisers) -> float:
        """Seconds per epoch of ``reference_images``, from ``timed_steps`` steps of the scheme's objectives."""
        from ...layers.channel import ChannelLayer

        p = self.params
        batch, steps = (8, 2) if self.context.quick else (p.batch_size, p.timed_steps)
        settings = StageSettings(1, batch, 1e-3)
        channel = ChannelLayer(self.context.channel, self.tosc.training.train_snr_db)
        objectives, _ = transceiver_objectives(link, channel, settings, train_snr_db=self.tosc.training.train_snr_db,
                                               extra=extra)
        h, w, c = self.image_shape
        gen = torch.Generator().manual_seed(0)
        x = torch.rand(batch * steps, c, h, w, generator=gen)
        y = torch.randint(0, self.dataset.num_classes, (batch * steps,), generator=gen)
        arrays = [x, y, x] if extra.adversary is not None else [x, y]
        loop = TrainingLoop("timing", Batches(arrays, batch), objectives, epochs=1, seed=0)
        start = time.perf_counter()
        loop.run()
        per_batch = (time.perf_counter() - start) / steps
        rounds = 2 if extra.adversary is not None else 1  # IBAL: an adversary step beside every transceiver step
        return per_batch * rounds * math.ceil(p.reference_images / batch)


__all__ = ["PrivacyCostSystem", "COST_METRICS", "parameter_count"]
