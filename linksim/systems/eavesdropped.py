"""The registered ``eavesdropped`` system: any learned image link, attacked by an eavesdropper.

::

    systems:
      - label: DeepJSCC 1/24 (eavesdropped)
        type: eavesdropped
        params:
          victim: {type: image_jscc, params: {method: deepjscc, bandwidth_ratio: 0.041667}}
          eavesdropper: {snr_offset_db: -3}
    metrics: [accuracy, psnr, attacker_psnr, mi_leakage]

The victim is built exactly as it would be on its own (same weights, same numbers: its
``training:`` block is the wrapper's) and reports its own metrics; the eavesdropper
(:class:`linksim.privacy.attack.Eavesdropper`) intercepts the symbols it transmits
through a channel of its own and inverts them with a network trained on training images
after the victim's, keyed by the victim's weights.

A victim must expose its transmitted symbols: the methods of
:class:`InterceptableImageLink` (``image_jscc`` has them). Anything else is refused with
exit code 2 naming ``params.victim.type``. ``privacy_tosc`` has its eavesdropper built in.
"""

from __future__ import annotations

from typing import Any, ClassVar, Dict, FrozenSet, List, Mapping, Optional, Protocol, Tuple, runtime_checkable

import torch
from pydantic import Field

from ..errors import UserError
from ..learning.stages import StageSettings
from ..privacy.attack import (ATTACK_METRICS, Eavesdropper, EavesdropperParams, check_attribute_attack,
                              check_eavesdropper)
from ..registry import ParamsModel, systems, validate_params
from ..vision import quality
from ..vision.training import to_tensor
from .base import SystemContext
from .image_system import ImageSystem
from .training import log_stderr

CPU_ATTACKER_STAGE = StageSettings(8, 64, 1e-3, 3, 0.5)
QUICK_ATTACKER_STAGE = StageSettings(1, 32, 1e-3, 1, 0.5)
QUICK_ATTACKER_IMAGES = 96


@runtime_checkable
class InterceptableImageLink(Protocol):
    """What a learned image system exposes to be eavesdropped."""

    def victim_key(self, point: Mapping[str, float]) -> str:
        """The weight key of the model serving ``point``."""

    def victim_train_snr_db(self, point: Mapping[str, float]) -> float:
        """That model's training SNR in dB (the attacker trains at it by default)."""

    def victim_training_images(self) -> int:
        """How many images (from the start of the training split) the victim trained on."""

    def transmitted_symbols(self, x: torch.Tensor, point: Mapping[str, float]) -> torch.Tensor:
        """Images ``[N, C, H, W]`` in [0, 1] -> the symbols ``[N, k, 2]`` the model at ``point`` transmits."""


class VictimSpec(ParamsModel):
    type: str = Field(..., description="a registered learned image system exposing its symbols (image_jscc)")
    params: Dict[str, Any] = Field(default_factory=dict, description="the victim's own params")


class EavesdroppedParams(ParamsModel):
    victim: VictimSpec
    eavesdropper: EavesdropperParams = Field(default_factory=EavesdropperParams)
    attacker_images: int = Field(5000, ge=16, le=10**7, description="the attacker's training images, right after "
                                                                    "the victim's in the training split")


def _victim_field(message: str) -> str:
    """A victim's error names ``params.victim.params.X`` instead of ``params.X``."""
    return message.replace("params.", "params.victim.params.", 1) if message.startswith("params.") else message


@systems.register("eavesdropped")
class EavesdroppedSystem(ImageSystem):
    """A learned image link (the victim) with an eavesdropper inverting its symbols."""

    Params = EavesdroppedParams
    sweep_parameters: ClassVar[FrozenSet[str]] = quality.IMAGE_SWEEP_PARAMETERS | {"alpha", "epsilon", "eve_snr_db"}
    sweep_labels: ClassVar[Dict[str, str]] = {**ImageSystem.sweep_labels, "eve_snr_db": "Eavesdropper SNR (dB)"}
    metrics_provided: ClassVar[FrozenSet[str]] = frozenset({"psnr", "ssim", "mse", "accuracy", "symbols_per_message",
                                                            "attribute_leakage"}) | ATTACK_METRICS
    accepts_training: ClassVar[bool] = True

    def __init__(self, params: EavesdroppedParams, context: SystemContext) -> None:
        super().__init__(params, context)
        victim_class = self._victim_class(params)
        victim_params = validate_params(victim_class, params.victim.params, field="params.victim.params")
        self.victim = victim_class(victim_params, context)
        self.simulate_needs_gradients = bool(getattr(self.victim, "simulate_needs_gradients", False))
        self._eavesdropper: Optional[Eavesdropper] = None
        self._inverters: Dict[str, Any] = {}
        self._attribute_nets: Dict[str, Any] = {}

    @staticmethod
    def _victim_class(params: EavesdroppedParams) -> Any:
        cls = systems.get(params.victim.type, field="params.victim.type")
        if not (isinstance(cls, type) and issubclass(cls, ImageSystem)
                and all(callable(getattr(cls, name, None)) for name in
                        ("victim_key", "victim_train_snr_db", "victim_training_images", "transmitted_symbols"))):
            raise UserError(f"params.victim.type: system type {params.victim.type!r} exposes no channel symbols to "
                            "intercept (an eavesdropped victim is a learned image link with transmitted_symbols, "
                            "e.g. image_jscc; privacy_tosc has its own eavesdropper)")
        return cls

    @classmethod
    def validate_context(cls, params: EavesdroppedParams, context: SystemContext) -> None:
        victim_class = cls._victim_class(params)
        victim_params = validate_params(victim_class, params.victim.params, field="params.victim.params")
        for point in context.points:
            for name in point:
                if name != "eve_snr_db" and name not in victim_class.sweep_parameters:
                    raise UserError(f"sweep: the victim {params.victim.type!r} does not take {name!r}")
        try:
            victim_class.validate_context(victim_params, context)
        except UserError as error:
            raise UserError(_victim_field(str(error))) from None
        check_eavesdropper(params.eavesdropper, context.channel, "params.eavesdropper")
        victim = victim_class(victim_params, context)
        check_attribute_attack(params.eavesdropper, victim.dataset, context.metrics, "params.eavesdropper")
        need = victim.victim_training_images() + cls._attacker_count(params, context)
        have = len(victim.dataset.split("train"))
        if need > have:
            raise UserError(f"params.attacker_images: the victim trains on {victim.victim_training_images()} images "
                            f"and the attacker needs {cls._attacker_count(params, context)} others, but the training "
                            f"split has {have}")

    @staticmethod
    def _attacker_count(params: EavesdroppedParams, context: SystemContext) -> int:
        return QUICK_ATTACKER_IMAGES if context.quick else params.attacker_images

    # ----------------------------------------------------------------- setup
    def eavesdropper(self, point: Mapping[str, float]) -> Eavesdropper:
        if self._eavesdropper is None:
            stage = QUICK_ATTACKER_STAGE if self.context.quick else CPU_ATTACKER_STAGE
            self._eavesdropper = Eavesdropper(self.params.eavesdropper, self.context, self.dataset, stage,
                                              self.victim.victim_train_snr_db(point))
        return self._eavesdropper

    def training_groups(self) -> List[List[int]]:
        return self.victim.training_groups()

    def setup(self) -> None:
        self.victim.setup()
        first = self.victim.victim_training_images()
        count = self._attacker_count(self.params, self.context)
        images = self.dataset.split("train").images[first: first + count]
        view = {"system": self.params.victim.type, "tap": self.params.eavesdropper.tap,
                "channel": self.params.eavesdropper.channel or self.context.channel}
        for point in self.context.points or [{}]:
            key = self.victim.victim_key(point)
            if key in self._inverters:
                continue
            eve = self.eavesdropper(point)
            if not eve.inversion_ready:
                eve.setup()
            values = int(self.victim.transmitted_symbols(to_tensor(images[:2]), point).numel() // 2)

            def features_of(x: torch.Tensor, snr_db: float, point: Mapping[str, float] = point) -> torch.Tensor:
                return eve.intercept(self.victim.transmitted_symbols(x, point), snr_db)

            log = None if self.context.quick else log_stderr
            self._inverters[key] = eve.inverter(key, view, values, images, (first, first + count), features_of,
                                                log=log)
            if eve.params.attribute is not None:
                self._attribute_nets[key] = eve.attribute_network(key, view, values, images, (first, first + count),
                                                                  features_of, log=log)

    # ----------------------------------------------------------------- simulate
    def simulate(self, batch_size: int, point: Mapping[str, float]) -> Dict[str, float]:
        import sionna.phy

        stats = self.victim.simulate(batch_size, point)
        eve = self.eavesdropper(point)
        test = self.dataset.split("test")
        index = sionna.phy.config.np_rng.integers(0, len(test), size=batch_size)
        with torch.no_grad():
            key = self.victim.victim_key(point)
            tx = self.victim.transmitted_symbols(to_tensor(test.images[index]), point)
            features = eve.intercept(tx, eve.snr_db(point))
            stats.update(eve.statistics(test.images[index], self._inverters[key](features, training=False),
                                        test.labels[index]))
            if key in self._attribute_nets:
                stats.update(eve.attribute_statistics(self._attribute_nets[key](features, training=False),
                                                      eve.attribute_targets("test")[index]))
        return stats

    # ----------------------------------------------------------------- records
    def provenance(self) -> Dict[str, Any]:
        return {"victim": {"type": self.params.victim.type, **self.victim.provenance()},
                "eavesdropper": self._eavesdropper.provenance() if self._eavesdropper is not None else None}

    def trained_weights(self) -> List[Tuple[str, str]]:
        out = list(self.victim.trained_weights())
        extra = self._eavesdropper.trained_weights() if self._eavesdropper is not None else []
        return out + [item for item in extra if item not in out]


__all__ = ["EavesdroppedSystem", "InterceptableImageLink"]
