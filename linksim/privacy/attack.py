"""An eavesdropper on any learned image link: its own channel and a model-inversion network.

The eavesdropper intercepts the symbols a victim transmits (``[N, k, 2]``, unit average
energy) through a channel of its own (independent noise; its SNR fixed, or the point's
plus an offset, or swept as ``eve_snr_db``; ``tap: channel_input`` is the noiseless worst
case) and reconstructs the source image with an inversion network (the SemCC decoder
architecture, MSE plus a perceptual L1 term on a frozen ResNet-20's stage outputs). The
network is trained on images disjoint from the victim's, each batch sent through the
deployed transmitter (so it sees fresh DP noise and nonces) and the eavesdropper's
channel, and it is cached in the weight store under a key made of the victim's weight
key, what the eavesdropper sees, and its own settings: a changed victim retrains it.

Metrics of one batch (:meth:`Eavesdropper.statistics`): ``attacker_psnr``,
``attacker_ssim``, ``mi_leakage`` (:mod:`.leakage`) and ``attacker_accuracy`` (a judge,
by default the shipped ResNet-32, classifies the reconstructions; not the ResNet-20 of
the perceptual term, which would favour the attacker).

With ``attribute:`` the eavesdropper also infers a private attribute (or the image class)
from the same intercepted symbols with a network of its own (the legitimate receiver's
:class:`~linksim.systems.privacy.networks.TaskHead` architecture, trained by
cross-entropy on its own images): ``attribute_leakage`` is its accuracy on the test images.

Used by ``privacy_tosc`` and by the ``eavesdropped`` wrapper around other systems.
"""

from __future__ import annotations

from typing import Any, Callable, Dict, List, Literal, Mapping, Optional, Tuple

import numpy as np
import torch
from pydantic import Field

from ..learning.cache import load_or_train
from ..learning.stages import StageSettings
from ..registry import ParamsModel
from ..vision import quality
from ..vision.classifier import ClassifierParams, classifier_weights, downstream_classifier
from ..vision.training import stage_dict, to_images
from ..weights import WeightStore, config_hash
from .leakage import mi_per_image

ATTACKER_VERSION = "privacy-inverter-1"
ATTRIBUTE_ATTACKER_VERSION = "privacy-attribute-attacker-1"
WEIGHT_KIND = "privacy"
#: Metrics an eavesdropper reports.
ATTACK_METRICS = frozenset({"attacker_psnr", "attacker_ssim", "attacker_accuracy", "mi_leakage"})


class AttackerParams(ParamsModel):
    width: int = Field(16, ge=4, le=256, description="feature maps of the inversion network")
    perceptual_weight: float = Field(0.01, ge=0, allow_inf_nan=False,
                                     description="weight of the perceptual L1 term (0: MSE only); 0.01 measured best "
                                                 "of 0, 0.01, 0.1, 1 against DeepJSCC (README): at 1 the ResNet term, "
                                                 "about 60 times the MSE, left the attacker below the mean image")
    train_snr_db: Optional[float] = Field(None, ge=-50, le=100, description="the eavesdropper channel's SNR in "
                                                                            "the attacker's training (default: "
                                                                            "the victim's training SNR)")


class EavesdropperParams(ParamsModel):
    channel: Optional[Dict[str, Any]] = Field(None, description="the eavesdropper's channel (default: the "
                                                                "scenario's channel type)")
    snr_db: Optional[float] = Field(None, ge=-50, le=100, description="fixed eavesdropper SNR (default: the "
                                                                      "point's SNR plus snr_offset_db)")
    snr_offset_db: float = Field(0.0, ge=-100, le=100)
    tap: Literal["channel_output", "channel_input"] = Field("channel_output", description="channel_input: the "
                                                                                          "noiseless symbols "
                                                                                          "(worst case)")
    attacker: AttackerParams = Field(default_factory=AttackerParams)
    attribute: Optional[str] = Field(None, max_length=64,
                                     description="attribute inference: what the eavesdropper reads off the "
                                                 "intercepted symbols with a network of its own ('class': the "
                                                 "image's class; or an attribute of the data: embedded occluded, "
                                                 "noisy, two_blobs; CelebA e.g. Male); metric attribute_leakage")
    judge: ClassifierParams = Field(default_factory=lambda: ClassifierParams(width=16, blocks=5),
                                    description="classifies the attacker's reconstructions (ResNet-32; the "
                                                "perceptual term uses the ResNet-20, so the judge is another net)")


def check_eavesdropper(params: EavesdropperParams, channel: Dict[str, Any], field: str) -> None:
    """The eavesdropper's channel must be SISO (the victims send ``k`` symbols per image).

    :raises UserError: naming ``field.channel`` (or ``channel`` when it is the scenario's).
    """
    from ..errors import UserError
    from ..phy.channels import build_channel

    for where, spec in (("channel", channel), (f"{field}.channel", params.channel)):
        if spec is not None and getattr(build_channel(spec, field=where), "symbols_multiple", 1) != 1:
            raise UserError(f"{where}: the eavesdropper intercepts k symbols per image over a SISO channel "
                            "(awgn, rayleigh, rician)")


def check_attribute_attack(params: EavesdropperParams, dataset: Any, metrics: Optional[List[str]],
                           field: str) -> None:
    """``attribute_leakage`` needs ``field.attribute``; that must be ``class`` or an attribute of the data.

    :raises UserError: naming ``field.attribute``.
    """
    from ..errors import UserError

    target = params.attribute
    if "attribute_leakage" in (metrics or ()) and target is None:
        raise UserError(f"{field}.attribute: metric attribute_leakage needs the attribute the eavesdropper infers "
                        "('class' or an attribute of the data)")
    if target in (None, "class"):
        return
    if not dataset.has_attributes:
        raise UserError(f"{field}.attribute: {dataset.source!r} images have no attributes; use 'class'")
    if dataset.source == "embedded" and target not in dataset.table_attributes:
        raise UserError(f"{field}.attribute: {target!r} is not 'class' or an embedded attribute "
                        f"({', '.join(dataset.table_attributes)})")


class Eavesdropper:
    """One eavesdropper of one system (module docstring).

    :param params: Its settings.
    :param context: The victim system's context (cache, seed, quick, label, channel).
    :param dataset: The scenario's image dataset.
    :param stage: The inversion network's training stage.
    :param default_train_snr_db: The victim's training SNR (the attacker trains at it by default).
    """

    def __init__(self, params: EavesdropperParams, context: Any, dataset: Any, stage: StageSettings,
                 default_train_snr_db: float) -> None:
        self.params, self.context, self.dataset, self.stage = params, context, dataset, stage
        self.default_train_snr_db = float(default_train_snr_db)
        self.channel_spec = params.channel or context.channel
        self._channel: Any = None
        self._judge: Any = None
        self._perceptual: Any = None
        self._keys: List[str] = []
        self.records: Dict[str, Dict[str, Any]] = {}

    # ----------------------------------------------------------------- settings
    @property
    def train_snr_db(self) -> float:
        given = self.params.attacker.train_snr_db
        return self.default_train_snr_db if given is None else float(given)

    def snr_db(self, point: Mapping[str, float]) -> float:
        """The eavesdropper's SNR at ``point``: ``eve_snr_db``, else the fixed one, else the point's plus the offset."""
        if "eve_snr_db" in point:
            return float(point["eve_snr_db"])
        if self.params.snr_db is not None:
            return float(self.params.snr_db)
        return float(point["snr_db"]) + self.params.snr_offset_db

    def _perceptual_key(self) -> Optional[str]:
        if self.params.attacker.perceptual_weight <= 0:
            return None
        return classifier_weights(self.context, self.dataset, ClassifierParams())[0][1]

    def key(self, victim_key: str, view: Dict[str, Any], images: Tuple[int, int]) -> str:
        """The inversion network's weight key: victim, what the eavesdropper sees, its settings, its data."""
        return config_hash({"model": ATTACKER_VERSION, "victim": victim_key}, view,
                           self.params.attacker.model_dump(),
                           {"stage": stage_dict(self.stage), "train_snr_db": self.train_snr_db,
                            "images": list(images), "perceptual": self._perceptual_key()})

    # ----------------------------------------------------------------- setup
    def setup(self, inversion: bool = True) -> None:
        """The channel and, for model inversion, the judge and the perceptual net (shared by the run's systems).

        :param inversion: False when no inversion metric is asked for (nothing of it is loaded or trained).
        """
        from ..layers.channel import ChannelLayer

        self._channel = ChannelLayer(self.channel_spec, 0.0)
        if not inversion:
            return
        if self.params.attacker.perceptual_weight > 0:
            self._perceptual = downstream_classifier(self.context, self.dataset, ClassifierParams()).model
        self._judge = downstream_classifier(self.context, self.dataset, self.params.judge)

    @property
    def inversion_ready(self) -> bool:
        """True once :meth:`setup` has loaded the judge (and perceptual net) of model inversion."""
        return self._judge is not None

    def attribute_targets(self, split: str) -> np.ndarray:
        """int64 ``[N]``: what the attribute attacker infers of each image of ``split`` (``params.attribute``)."""
        from ..errors import UserError

        name = self.params.attribute
        if name is None:
            raise UserError("params.eavesdropper.attribute: attribute_leakage needs the attribute the eavesdropper "
                            "infers ('class' or an attribute of the data)")
        if name == "class":
            return np.asarray(self.dataset.split(split).labels, dtype=np.int64)
        return self.dataset.attribute_labels(split, name)

    def attribute_classes(self) -> int:
        return self.dataset.num_classes if self.params.attribute == "class" else 2

    def intercept(self, tx: torch.Tensor, snr_db: float) -> torch.Tensor:
        """What reaches the eavesdropper of symbols ``tx`` ``[N, k, 2]`` (its own noise)."""
        if self.params.tap == "channel_input":
            return tx
        return self._channel(tx, snr_db=snr_db)

    def inverter(self, victim_key: str, view: Dict[str, Any], values: int, images: np.ndarray,
                 image_range: Tuple[int, int], features_of: Callable[[torch.Tensor, float], torch.Tensor],
                 log: Optional[Callable[[str], None]] = None) -> Any:
        """The inversion network of a victim: loaded, or trained on ``images`` and saved.

        :param values: Real values per image in the eavesdropper's features.
        :param image_range: ``(first, end)`` indices of ``images`` in the training split (its key).
        :param features_of: ``(x, snr_db) -> features``: what the eavesdropper's network gets of
            ``x`` sent by the victim and received at ``snr_db`` (no gradient needed).
        """
        from ..systems.privacy.networks import build_inverter
        from ..systems.privacy.training import train_inverter

        key = self.key(victim_key, view, image_range)
        snr = self.train_snr_db
        record: Dict[str, Any] = {}

        def train(network: Any) -> None:
            if log:
                log(f"[{self.context.label}] training the eavesdropper's inversion network on {len(images)} images "
                    f"of its own at {snr:g} dB")
            report = train_inverter(network, lambda x: features_of(x, snr), images, self.stage,
                                    perceptual=self._perceptual,
                                    perceptual_weight=self.params.attacker.perceptual_weight,
                                    seed=self.context.seed, name=f"'{self.context.label}' attacker", log=log)
            record.update(running_time_s=report.wall_s, training=report.as_dict())

        trained = load_or_train(WeightStore(self.context.cache_dir, WEIGHT_KIND), key,
                                build=lambda: build_inverter(values, self.dataset.image_shape,
                                                             self.params.attacker.width),
                                train=train, seed={"seed": self.context.seed, "key": key},
                                info=lambda model: {"model": f"eavesdropper inversion network of {view}",
                                                    "victim": victim_key, "train_snr_db": snr, **record})
        self._keys.append(key)
        self.records[key] = {"role": "attacker", "victim": victim_key, "source": trained.source}
        return trained.model

    def attribute_network(self, victim_key: str, view: Dict[str, Any], values: int, images: np.ndarray,
                          image_range: Tuple[int, int], features_of: Callable[[torch.Tensor, float], torch.Tensor],
                          log: Optional[Callable[[str], None]] = None) -> Any:
        """The attribute-inference network of a victim (``params.attribute``): loaded, or trained on
        ``images`` (the attacker's own, ``image_range`` of the training split) and saved.

        Arguments as for :meth:`inverter`; the network is the legitimate receiver's
        :class:`~linksim.systems.privacy.networks.TaskHead` architecture (``attacker.width``).
        """
        from ..systems.privacy.networks import build_task_head
        from ..systems.privacy.training import train_attribute_attacker

        first, end = image_range
        targets = self.attribute_targets("train")[first:end]
        classes, width, snr = self.attribute_classes(), self.params.attacker.width, self.train_snr_db
        key = config_hash({"model": ATTRIBUTE_ATTACKER_VERSION, "victim": victim_key}, view,
                          {"attribute": self.params.attribute, "classes": classes, "width": width},
                          {"stage": stage_dict(self.stage), "train_snr_db": snr, "images": list(image_range)},
                          self.dataset.identity())
        record: Dict[str, Any] = {}

        def train(network: Any) -> None:
            if log:
                log(f"[{self.context.label}] training the eavesdropper's {self.params.attribute!r} inference "
                    f"network on {len(images)} images of its own at {snr:g} dB")
            report = train_attribute_attacker(network, lambda x: features_of(x, snr), images, targets, self.stage,
                                              seed=self.context.seed, name=f"'{self.context.label}' attribute "
                                                                           "attacker", log=log)
            record.update(running_time_s=report.wall_s, training=report.as_dict())

        trained = load_or_train(WeightStore(self.context.cache_dir, WEIGHT_KIND), key,
                                build=lambda: build_task_head(values, self.dataset.image_shape, classes, width),
                                train=train, seed={"seed": self.context.seed, "key": key},
                                info=lambda model: {"model": f"eavesdropper {self.params.attribute!r} inference "
                                                             f"network of {view}",
                                                    "victim": victim_key, "train_snr_db": snr, **record})
        self._keys.append(key)
        self.records[key] = {"role": "attribute attacker", "victim": victim_key, "attribute": self.params.attribute,
                             "source": trained.source}
        return trained.model

    # ----------------------------------------------------------------- evaluation
    @staticmethod
    def attribute_statistics(logits: torch.Tensor, targets: np.ndarray) -> Dict[str, float]:
        """``attribute_correct`` / ``attribute_trials`` of one batch (``logits [N, classes]``)."""
        guessed = logits.argmax(-1).cpu().numpy()
        return {"attribute_correct": float(np.count_nonzero(guessed == targets)),
                "attribute_trials": float(len(targets))}

    def statistics(self, images: np.ndarray, guess: torch.Tensor, labels: np.ndarray) -> Dict[str, float]:
        """Attack statistics of one batch: ``images`` uint8 ``[N, H, W, C]``, ``guess`` ``[N, C, H, W]`` in [0, 1]."""
        guess_u8 = quality.to_uint8(to_images(guess))
        judged = self._judge.predict(guess_u8)
        stats = {"attacker_correct": float(np.count_nonzero(judged == labels)), "attacker_trials": float(len(labels))}
        stats.update(quality.mean_statistics("attacker_psnr", quality.psnr_per_image(images, guess_u8)))
        stats.update(quality.mean_statistics("attacker_ssim", quality.ssim_per_image(images, guess_u8)))
        stats.update(quality.mean_statistics("mi_leakage", mi_per_image(images, guess_u8)))
        return stats

    def provenance(self) -> Dict[str, Any]:
        return {"channel": self.channel_spec, "tap": self.params.tap, "attacker": self.params.attacker.model_dump(),
                "attribute": self.params.attribute,
                "judge": self._judge.info if self._judge is not None else None, "models": self.records,
                "mi_estimator": "16-bin plug-in per image, Miller-Madow corrected, bits"}

    def trained_weights(self) -> List[Tuple[str, str]]:
        out = [(WEIGHT_KIND, key) for key in self._keys]
        if self._judge is None:  # set up without model inversion
            return out
        nets = ([ClassifierParams()] if self.params.attacker.perceptual_weight > 0 else []) + [self.params.judge]
        for params in nets:
            out += [item for item in classifier_weights(self.context, self.dataset, params) if item not in out]
        return out
