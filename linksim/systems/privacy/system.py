"""The registered ``privacy_tosc`` system: a task-oriented link, its privacy scheme, and an eavesdropper.

::

    seed: 1
    data: {type: images, source: embedded}
    channel: {type: awgn}
    sweep: {parameter: snr_db, values: [4, 8, 12, 16, 20]}
    systems:
      - {label: DeepJSCC-DP-0.1, type: privacy_tosc, params: {scheme: dp, dp: {epsilon: 0.1, calibration: scale}}}
      - {label: DeepJSCC-Encryption, type: privacy_tosc, params: {scheme: encryption}}
    metrics: [accuracy, mi_leakage, attacker_psnr]

:meth:`PrivacyToscSystem.setup` builds through the weight store (cache, shipped, else
trained) per distinct model (the privacy budget may be swept):

1. the transceiver of the scheme (:mod:`.schemes`, :mod:`.training`), trained on the
   first ``num_train`` training images through the legitimate channel at the training
   SNR; ``encryption`` uses DeepJSCC's weights (same key: the transform is orthogonal);
2. the eavesdropper's model-inversion network, keyed by the transceiver's key, trained on
   the next ``attacker_images`` training images (disjoint), each batch sent through the
   deployed transmitter (fresh DP noise and nonces) and the eavesdropper's channel at
   the attacker's training SNR;
3. the judge of the attacker's reconstructions (a ResNet-32, shipped for seed 1) and the
   frozen ResNet-20 of the perceptual term.

Table II (``privacy_attributes.yaml``): sweeping ``attribute`` (an index into
``params.attributes``, by default the data's table attributes: embedded ``occluded,
noisy, two_blobs``, CelebA ``Mustache, Smiling, Wavy_Hair``) makes the task that binary
attribute of the same images (one model per attribute); ``training.seeds: S`` trains
``S`` replicas of every model (seeds ``seed .. seed + S - 1``; replica 0 is the model of
``seeds: 1``) and reports ``accuracy_seeds`` (mean and std between them). The attackers
attack replica 0. Without an inversion metric (``mi_leakage``, ``attacker_*``) no
inversion network or judge is loaded or trained; ``eavesdropper.attribute`` adds the
attribute-inference attacker (``attribute_leakage``).

Per batch :meth:`~PrivacyToscSystem.simulate` sends test images once; the legitimate
receiver classifies its channel's output at the point's SNR (``accuracy``); the
eavesdropper intercepts the same symbols through its own channel (its own noise; SNR
``eavesdropper.snr_db``, or the point's plus ``snr_offset_db``; ``tap: channel_input``
is the noiseless worst case) and inverts them: ``attacker_psnr``, ``attacker_ssim``,
``mi_leakage`` (:mod:`linksim.privacy.leakage`), ``attacker_accuracy``. Also
``tx_power``, ``symbols_per_message``, for LBVQ the index error rate ``ser``, and for a
binary task ``balanced_accuracy``.
"""

from __future__ import annotations

import hashlib
from typing import Any, ClassVar, Dict, FrozenSet, List, Literal, Mapping, Optional, Tuple

import numpy as np
import torch
from pydantic import Field

from ...errors import UserError
from ...learning.cache import load_or_train
from ...learning.stages import StageSettings
from ...learning.training_block import DecayingStageOverride, TrainingBlock
from ...privacy import DPMechanism, KeyedTransform
from ...metrics import binary_task_stats
from ...privacy.attack import (ATTACK_METRICS, Eavesdropper, EavesdropperParams, check_attribute_attack,
                               check_eavesdropper)
from ...privacy.mechanisms import SCALE_INDEX
from ...registry import ParamsModel, systems, validate_model
from ...vision import quality
from ...vision.classifier import MAX_BATCH_SIZE
from ...vision.training import stage_dict, to_tensor
from ...weights import WeightStore, config_hash
from ..base import SystemContext
from ..image_system import ImageSystem
from ..training import log_stderr, torch_threads
from .schemes import ADVERSARIAL, QUANTISED, SCHEMES, WITH_IB, SchemeLink
from .training import Regularisers, train_transceiver

MODEL_VERSION = "privacy-tosc-1"
WEIGHT_KIND = "privacy"

CPU_STAGES: Dict[str, StageSettings] = {"transceiver": StageSettings(8, 64, 1e-3, 3, 0.5),
                                        "attacker": StageSettings(8, 64, 1e-3, 3, 0.5)}
#: The authors' UIS-ToSC code: 200 epochs, batch 512, Adam 1e-3 halved every 60.
PAPER_STAGES: Dict[str, StageSettings] = {"transceiver": StageSettings(200, 512, 1e-3, 60, 0.5),
                                          "attacker": StageSettings(200, 512, 1e-3, 60, 0.5)}
QUICK_STAGES: Dict[str, StageSettings] = {"transceiver": StageSettings(1, 32, 1e-3, 1, 0.5),
                                          "attacker": StageSettings(1, 32, 1e-3, 1, 0.5)}
CPU_IMAGES = 5000  # legitimate training images; the attacker gets the next as many
QUICK_IMAGES = 96
QUICK_WIDTH = 8
QUICK_SEEDS = 2
MAX_SEEDS = 20


#: A model's (DP budget, adversarial weight, task attribute or ""): what a sweep can change in the transceiver.
ModelPoint = Tuple[float, float, str]


class StageParams(DecayingStageOverride):
    batch_size: int = Field(..., ge=2, le=MAX_BATCH_SIZE, description=f"images per batch (2..{MAX_BATCH_SIZE})")


class TrainingParams(TrainingBlock):
    """The ``training:`` block: the transceiver's and the attacker's stages, SNR, data sizes."""

    PRESETS: ClassVar[Mapping[str, Mapping[str, StageSettings]]] = {
        "cpu": CPU_STAGES, "paper": PAPER_STAGES, "quick": QUICK_STAGES}

    transceiver: Optional[StageParams] = None
    attacker: Optional[StageParams] = None
    train_snr_db: float = Field(12.0, ge=-50, le=100, description="the transceiver's training SNR in dB (paper: 12)")
    num_train: Optional[int] = Field(None, ge=16, le=10**7, description=f"legitimate training images (default "
                                                                        f"{CPU_IMAGES}; paper preset: half the split)")
    attacker_images: Optional[int] = Field(None, ge=16, le=10**7, description="the attacker's own training images, "
                                                                              "after the legitimate ones (default: "
                                                                              "as many)")
    seeds: int = Field(1, ge=1, le=MAX_SEEDS, description="independently trained replicas of every transceiver "
                                                          "(seeds seed..seed+S-1; --quick: at most 2); metric "
                                                          "accuracy_seeds gives their mean and std")


class DPParams(ParamsModel):
    """The DP mechanism (``linksim.privacy.mechanisms``)."""

    mechanism: Literal["laplace", "gaussian"] = "laplace"
    epsilon: float = Field(0.1, gt=0, le=1e6, allow_inf_nan=False, description="privacy budget (> 0; a sweep of "
                                                                                "epsilon overrides it)")
    calibration: Literal["strict", "clipped", "scale"] = Field(
        "clipped", description="strict (epsilon-DP per image), clipped (per coordinate: n epsilon per image) or "
                               "scale (the paper's regime: noise s/epsilon, no formal guarantee)")
    clip: Optional[float] = Field(None, gt=0, allow_inf_nan=False, description="C of clipped (default 3 sqrt(P/2))")
    scale_index: float = Field(SCALE_INDEX, gt=0, allow_inf_nan=False, description="s of calibration: scale")
    delta: float = Field(1e-5, gt=0, lt=1, description="delta of the Gaussian mechanism")


class EncryptionParams(ParamsModel):
    mode: Literal["shuffle", "shuffle_sign", "rotation"] = "shuffle"
    keys: Literal["per_message", "static"] = Field("per_message", description="a fresh nonce per image, or one "
                                                                              "static transform (negative control)")
    key: int = Field(20240813, ge=0, lt=2**63, description="the secret key (recorded only as a hash)")


class VQParams(ParamsModel):
    codebook_size: Literal[4, 16, 64, 256] = Field(16, description="K codewords, sent as Gray K-QAM (one index "
                                                                   "per symbol)")
    dim: int = Field(16, ge=1, le=256, description="d, values per latent")


class PrivacyParams(ParamsModel):
    """Parameters of ``privacy_tosc`` (defaults: ``../shared/notes/privacy-tosc-analysis.md``)."""

    scheme: Literal["deepjscc", "dp", "encryption", "vfe", "ibal", "lbvq", "uis"]
    symbols: int = Field(128, ge=1, le=10**5, description="complex channel uses per image (128: k/n = 1/24 on "
                                                          "32x32x3)")
    width: Optional[int] = Field(None, ge=4, le=512, description="feature maps of encoder and head (default 16)")
    dp: DPParams = Field(default_factory=DPParams)
    encryption: EncryptionParams = Field(default_factory=EncryptionParams)
    ib_beta: float = Field(1e-3, ge=0, allow_inf_nan=False,
                           description="VFE/IBAL: weight of the KL term summed over the 2k values (the analysis' "
                                       "1e-2 made it about twice the cross-entropy: VFE accuracy 0.23-0.30 against "
                                       "0.44-0.54 at 1e-3, README)")
    adversarial_weight: float = Field(0.5, ge=0, allow_inf_nan=False, description="IBAL: lambda of -MSE of the "
                                                                                  "simulated adversary")
    adversary_width: int = Field(8, ge=4, le=256, description="IBAL: width of the simulated adversary (not the "
                                                              "attacker's: the transmitter does not know it)")
    vq: VQParams = Field(default_factory=VQParams)
    attributes: Optional[List[str]] = Field(None, min_length=1, max_length=64,
                                            description="the binary attributes an 'attribute' sweep indexes (value i "
                                                        "-> attributes[i] as the task); default the data's table "
                                                        "attributes (embedded occluded, noisy, two_blobs; CelebA "
                                                        "Mustache, Smiling, Wavy_Hair)")
    eavesdropper: EavesdropperParams = Field(default_factory=EavesdropperParams,
                                             description="the eavesdropper: its channel, SNR, tap, inversion "
                                                         "network and judge (linksim.privacy.attack)")
    threads: Optional[int] = Field(None, ge=1, le=1024)


@systems.register("privacy_tosc")
class PrivacyToscSystem(ImageSystem):
    """Task-oriented image transmission under a privacy scheme, attacked by an eavesdropper."""

    Params = PrivacyParams
    Training = TrainingParams
    sweep_parameters: ClassVar[FrozenSet[str]] = frozenset({"snr_db", "eve_snr_db", "epsilon", "adversarial_weight",
                                                            "attribute"})
    sweep_labels: ClassVar[Dict[str, str]] = {**ImageSystem.sweep_labels, "eve_snr_db": "Eavesdropper SNR (dB)",
                                              "epsilon": "Privacy budget $\\epsilon$",
                                              "adversarial_weight": "Adversarial weight $\\lambda$",
                                              "attribute": "Task attribute (index)"}
    metrics_provided: ClassVar[FrozenSet[str]] = frozenset({
        "accuracy", "accuracy_seeds", "balanced_accuracy", "tx_power", "symbols_per_message", "ser",
        "attribute_leakage"}) | ATTACK_METRICS
    accepts_training: ClassVar[bool] = True

    def __init__(self, params: PrivacyParams, context: SystemContext) -> None:
        super().__init__(params, context)
        self.training = validate_model(TrainingParams, context.training or {}, field="training")
        self._links: Dict[ModelPoint, List[SchemeLink]] = {}  # one per training seed
        self._inverters: Dict[ModelPoint, Any] = {}
        self._attribute_nets: Dict[ModelPoint, Any] = {}
        self._keys: List[str] = []
        self._records: Dict[str, Dict[str, Any]] = {}
        self._legit: Any = None
        self._eavesdropper: Optional[Eavesdropper] = None

    @property
    def eavesdropper(self) -> Eavesdropper:
        """The system's :class:`~linksim.privacy.attack.Eavesdropper` (built on first use: it needs the data)."""
        if self._eavesdropper is None:
            self._eavesdropper = Eavesdropper(self.params.eavesdropper, self.context, self.dataset,
                                              self.training.stage("attacker", quick=self.context.quick),
                                              self.training.train_snr_db)
        return self._eavesdropper

    # ----------------------------------------------------------------- checks
    @classmethod
    def validate_context(cls, params: PrivacyParams, context: SystemContext) -> None:
        training = validate_model(TrainingParams, context.training or {}, field="training")
        dataset = cls._dataset_of(context)
        if dataset.num_classes < 2:
            raise UserError("data: privacy_tosc needs a labelled dataset (the task)")
        h, w, _ = dataset.image_shape
        if h % 4 or w % 4:
            raise UserError(f"data: privacy_tosc needs height and width divisible by 4, got {h}x{w}")
        check_eavesdropper(params.eavesdropper, context.channel, "params.eavesdropper")
        need = cls._image_counts(training, context.quick)
        have = len(dataset.split("train"))
        if sum(need) > have:
            raise UserError(f"training: num_train + attacker_images = {sum(need)} but the training split has "
                            f"{have} images (the attacker's must be disjoint from the legitimate ones)")
        for point in context.points or [{}]:
            epsilon = point.get("epsilon")
            if epsilon is not None:
                if params.scheme != "dp":
                    raise UserError(f"sweep: epsilon is swept but params.scheme is {params.scheme!r}, not dp")
                if not epsilon > 0:
                    raise UserError(f"sweep: epsilon must be > 0, got {epsilon}")
            weight = point.get("adversarial_weight")
            if weight is not None:
                if params.scheme not in ADVERSARIAL:
                    raise UserError(f"sweep: adversarial_weight is swept but params.scheme is {params.scheme!r}, "
                                    "not ibal or uis")
                if weight < 0:
                    raise UserError(f"sweep: adversarial_weight must be >= 0, got {weight}")
            if "snr_db" not in point and context.points:
                raise UserError("sweep: privacy_tosc needs snr_db in the sweep (or sweep.fixed)")
            if "attribute" in point:
                cls._task_attribute(params, dataset, point["attribute"])
        cls._check_attack_metrics(params, dataset, context)
        if params.scheme == "dp":
            cls._mechanism(params, params.dp.epsilon)  # raises on a bad budget, naming params.dp.*

    @staticmethod
    def _task_attribute(params: PrivacyParams, dataset: Any, value: float) -> str:
        """The attribute an ``attribute`` sweep value names (``params.attributes[value]``).

        :raises UserError: the data has no attributes, labels every image by one already, or
            the value is not an index of the list.
        """
        if not dataset.has_attributes:
            raise UserError(f"sweep: an attribute sweep needs images with attributes (data.source embedded or "
                            f"celeba), not {dataset.source!r}")
        if dataset.params.attribute:
            raise UserError("data.attribute: labels every image by one attribute; an attribute sweep chooses the "
                            "task per point: use one of them")
        names = params.attributes or dataset.table_attributes
        if float(value) != int(value) or not 0 <= int(value) < len(names):
            raise UserError(f"sweep: attribute values index params.attributes ({', '.join(names)}): 0.."
                            f"{len(names) - 1}, got {value:g}")
        name = names[int(value)]
        if dataset.source == "embedded" and name not in dataset.table_attributes:
            raise UserError(f"params.attributes: {name!r} is not an embedded attribute "
                            f"({', '.join(dataset.table_attributes)})")
        return name

    @staticmethod
    def _check_attack_metrics(params: PrivacyParams, dataset: Any, context: SystemContext) -> None:
        check_attribute_attack(params.eavesdropper, dataset, context.metrics, "params.eavesdropper")
        asked = set(context.metrics or ())
        binary = dataset.num_classes == 2 or any("attribute" in point for point in context.points)
        if "balanced_accuracy" in asked and not binary:
            raise UserError(f"metrics: balanced_accuracy needs a binary task (an attribute sweep or data.attribute); "
                            f"the task has {dataset.num_classes} classes")

    @staticmethod
    def _dataset_of(context: SystemContext) -> Any:
        from ..image_system import image_dataset

        return image_dataset(context)

    @staticmethod
    def _image_counts(training: TrainingParams, quick: bool) -> Tuple[int, int]:
        if quick:
            return QUICK_IMAGES, QUICK_IMAGES
        legit = training.num_train or CPU_IMAGES
        return legit, training.attacker_images or legit

    @staticmethod
    def _mechanism(params: PrivacyParams, epsilon: float) -> DPMechanism:
        dp = params.dp
        try:
            return DPMechanism(dp.mechanism, float(epsilon), params.symbols, calibration=dp.calibration,
                               clip=dp.clip, scale_index=dp.scale_index, delta=dp.delta)
        except UserError as error:
            raise UserError(str(error).replace("dp.", "params.dp.", 1)) from None

    # ----------------------------------------------------------------- settings
    def width(self) -> int:
        return QUICK_WIDTH if self.context.quick else (self.params.width or 16)

    def _model_point(self, point: Mapping[str, float]) -> ModelPoint:
        """(DP budget, IBAL's adversarial weight, task attribute) of the model serving ``point`` (0 and "" where
        they do not apply: "" is the data's own labels)."""
        p = self.params
        epsilon = float(point.get("epsilon", p.dp.epsilon)) if p.scheme == "dp" else 0.0
        weight = float(point.get("adversarial_weight", p.adversarial_weight)) if p.scheme in ADVERSARIAL else 0.0
        attribute = self._task_attribute(p, self.dataset, point["attribute"]) if "attribute" in point else ""
        return epsilon, weight, attribute

    def seeds(self) -> int:
        """Trained replicas of every model (``training.seeds``; at most 2 in quick mode)."""
        return min(self.training.seeds, QUICK_SEEDS) if self.context.quick else self.training.seeds

    def num_classes(self, mp: ModelPoint) -> int:
        return 2 if mp[2] else self.dataset.num_classes

    def task_labels(self, split: str, mp: ModelPoint) -> np.ndarray:
        """int64 ``[N]``: the task's label of every image of ``split`` (the attribute of ``mp``, else the class)."""
        if mp[2]:
            return self.dataset.attribute_labels(split, mp[2])
        return np.asarray(self.dataset.split(split).labels, dtype=np.int64)

    def _wants_inversion(self) -> bool:
        return self.context.metrics is None or bool(ATTACK_METRICS & set(self.context.metrics))

    def _wants_attribute_attack(self) -> bool:
        if self.params.eavesdropper.attribute is None:
            return False
        return self.context.metrics is None or "attribute_leakage" in self.context.metrics

    def training_groups(self) -> List[List[int]]:
        groups: Dict[float, List[int]] = {}
        for index, point in enumerate(self.context.points):
            groups.setdefault(self._model_point(point), []).append(index)
        return list(groups.values())

    def _splits(self, mp: ModelPoint) -> Tuple[Tuple[np.ndarray, np.ndarray], np.ndarray]:
        """(legitimate images and task labels, the attacker's images): disjoint blocks of the train split."""
        train = self.dataset.split("train")
        legit, aux = self._image_counts(self.training, self.context.quick)
        return (train.images[:legit], self.task_labels("train", mp)[:legit]), train.images[legit: legit + aux]

    def _trained_scheme(self) -> str:
        """Encryption trains (and shares) DeepJSCC's model."""
        return "deepjscc" if self.params.scheme == "encryption" else self.params.scheme

    def transceiver_key(self, mp: ModelPoint, replica: int = 0) -> str:
        """The weight key of the transceiver of ``mp`` trained with seed ``seed + replica``."""
        p, scheme = self.params, self._trained_scheme()
        settings: Dict[str, Any] = {"scheme": scheme}
        if mp[2]:  # only then: the keys of models of the data's own labels stay what they were
            settings["task_attribute"] = mp[2]
        if scheme == "dp":
            settings["dp"] = self._mechanism(p, mp[0]).describe()
        if scheme in WITH_IB:
            settings["ib_beta"] = p.ib_beta
        if scheme in ADVERSARIAL:
            settings.update(adversarial_weight=mp[1], adversary_width=p.adversary_width)
        if scheme in QUANTISED:
            settings["vq"] = p.vq.model_dump()
        legit, _ = self._image_counts(self.training, self.context.quick)
        arch = {"model": MODEL_VERSION, "k": p.symbols, "width": self.width(), "image_shape": list(self.image_shape),
                "classes": self.num_classes(mp)}
        train = {"stage": stage_dict(self.training.stage("transceiver", quick=self.context.quick)),
                 "train_snr_db": self.training.train_snr_db, "channel": self.context.channel,
                 "images": legit, "seed": self.context.seed + replica, "quick": self.context.quick}
        return config_hash(arch, settings, train, self.dataset.identity())

    def _attacker_view(self) -> Dict[str, Any]:
        """What shapes the attacker's input beyond the transceiver's weights (the deployed mechanism)."""
        p = self.params
        view: Dict[str, Any] = {"scheme": p.scheme, "tap": p.eavesdropper.tap,
                                "channel": self.eavesdropper.channel_spec}
        if p.scheme == "encryption":
            view["encryption"] = {"mode": p.encryption.mode, "keys": p.encryption.keys,
                                  "key_sha256": hashlib.sha256(str(p.encryption.key).encode()).hexdigest()}
        return view

    def attacker_key(self, mp: ModelPoint) -> str:
        legit, aux = self._image_counts(self.training, self.context.quick)
        return self.eavesdropper.key(self.transceiver_key(mp), self._attacker_view(), (legit, legit + aux))

    # ----------------------------------------------------------------- setup
    def setup(self) -> None:
        from ...layers.channel import ChannelLayer

        self._legit = ChannelLayer(self.context.channel, 0.0)
        with torch_threads(self.params.threads):
            self.eavesdropper.setup(inversion=self._wants_inversion())
            for point in self.context.points or [{}]:
                mp = self._model_point(point)
                if mp not in self._links:
                    self._links[mp] = [self._load_link(mp, replica) for replica in range(self.seeds())]
                    if self._wants_inversion():
                        self._inverters[mp] = self._load_inverter(mp)
                    if self._wants_attribute_attack():
                        self._attribute_nets[mp] = self._load_attribute_attacker(mp)

    def _log(self) -> Any:
        return None if self.context.quick else log_stderr

    def _link(self, model: Any, mp: ModelPoint, scheme: Optional[str] = None) -> SchemeLink:
        """``model`` with the mechanism of ``scheme`` (default: the system's)."""
        from ...phy.channels import build_channel
        from ..mvqvae.index_link import IndexLink

        p = self.params
        return SchemeLink(
            scheme or p.scheme, model,
            dp=self._mechanism(p, mp[0]) if p.scheme == "dp" else None,
            encryption=KeyedTransform(2 * p.symbols, p.encryption.key, p.encryption.mode, p.encryption.keys)
            if p.scheme == "encryption" else None,
            index_link=IndexLink(p.vq.codebook_size, build_channel(self.context.channel), order=p.vq.codebook_size)
            if p.scheme in QUANTISED else None)

    def _build_transceiver(self, classes: int) -> Any:
        from .networks import build_transceiver

        p = self.params
        codebook = (p.vq.codebook_size, p.vq.dim) if p.scheme in QUANTISED else None
        return build_transceiver(p.symbols, self.image_shape, classes, self.width(), codebook)

    def _load_link(self, mp: ModelPoint, replica: int = 0) -> SchemeLink:
        from ...layers.channel import ChannelLayer
        from .networks import build_inverter

        p, key, seed = self.params, self.transceiver_key(mp, replica), self.context.seed + replica
        (images, labels), aux = self._splits(mp)
        scheme = self._trained_scheme()
        record: Dict[str, Any] = {}

        def train(model: Any) -> None:
            log = self._log()
            if log:
                task = f"attribute {mp[2]!r}, " if mp[2] else ""
                log(f"[{self.context.label}] training the {scheme} transceiver ({task}k = {p.symbols}, "
                    f"{self.training.train_snr_db:g} dB, seed {seed}) on {len(images)} images")
            link = self._link(model, mp, scheme)
            extra = Regularisers()
            if scheme in WITH_IB:
                extra.ib_beta = p.ib_beta
            if scheme in ADVERSARIAL:
                extra.adversary = build_inverter(link.listener_values, self.image_shape, p.adversary_width)
                extra.adversarial_weight, extra.aux_images = mp[1], aux
            report = train_transceiver(link, ChannelLayer(self.context.channel, self.training.train_snr_db), images,
                                       labels, self.training.stage("transceiver", quick=self.context.quick),
                                       train_snr_db=self.training.train_snr_db, extra=extra, seed=seed,
                                       name=f"'{self.context.label}' transceiver", log=log)
            record.update(running_time_s=report.wall_s, training=report.as_dict())

        with torch_threads(p.threads):
            trained = load_or_train(WeightStore(self.context.cache_dir, WEIGHT_KIND), key,
                                    build=lambda: self._build_transceiver(self.num_classes(mp)), train=train,
                                    seed={"seed": seed, "key": key},
                                    info=lambda model: {"model": f"privacy_tosc {scheme}", "k": p.symbols,
                                                        "train_snr_db": self.training.train_snr_db,
                                                        "task": f"attribute {mp[2]}" if mp[2] else "class",
                                                        "data": self.dataset.provenance(), **record})
        self._keys.append(key)
        self._records[key] = {"role": "transceiver", "scheme": scheme, "source": trained.source, "seed": seed,
                              **({"task_attribute": mp[2]} if mp[2] else {})}
        trained.model.trainable = False
        return self._link(trained.model, mp)

    def _eavesdropped_features(self, link: SchemeLink) -> Any:
        """``(x, snr_db) -> features``: what the eavesdropper's networks get of ``x`` sent on ``link``."""
        def features_of(x: torch.Tensor, snr_db: float) -> torch.Tensor:
            sent = link.transmit(x, training=False)
            return link.listen(sent, self.eavesdropper.intercept(sent.tx, snr_db))

        return features_of

    def _load_inverter(self, mp: ModelPoint) -> Any:
        """The inversion network attacking replica 0 of ``mp``."""
        link = self._links[mp][0]
        legit, aux_count = self._image_counts(self.training, self.context.quick)
        _, aux = self._splits(mp)
        with torch_threads(self.params.threads):
            return self.eavesdropper.inverter(self.transceiver_key(mp), self._attacker_view(),
                                              link.listener_values, aux, (legit, legit + aux_count),
                                              self._eavesdropped_features(link), log=self._log())

    def _load_attribute_attacker(self, mp: ModelPoint) -> Any:
        """The attribute-inference network attacking replica 0 of ``mp``."""
        link = self._links[mp][0]
        legit, aux_count = self._image_counts(self.training, self.context.quick)
        _, aux = self._splits(mp)
        with torch_threads(self.params.threads):
            return self.eavesdropper.attribute_network(self.transceiver_key(mp), self._attacker_view(),
                                                       link.listener_values, aux, (legit, legit + aux_count),
                                                       self._eavesdropped_features(link), log=self._log())

    def _inverter(self, mp: ModelPoint) -> Any:
        """``mp``'s inversion network (loaded on first use where no metric asked for it, e.g. for samples)."""
        if mp not in self._inverters:
            if not self.eavesdropper.inversion_ready:
                self.eavesdropper.setup(inversion=True)
            self._inverters[mp] = self._load_inverter(mp)
        return self._inverters[mp]

    # ----------------------------------------------------------------- simulate
    @torch.no_grad()
    def simulate(self, batch_size: int, point: Mapping[str, float]) -> Dict[str, float]:
        import sionna.phy

        mp = self._model_point(point)
        test = self.dataset.split("test")
        index = sionna.phy.config.np_rng.integers(0, len(test), size=batch_size)
        images, labels = test.images[index], self.task_labels("test", mp)[index]
        x = to_tensor(images)
        stats: Dict[str, float] = {"trials_per_seed": float(batch_size)}
        with torch_threads(self.params.threads):
            for replica, link in enumerate(self._links[mp]):  # each replica: the same images, its own noise
                sent = link.transmit(x)
                legit_rx = self._legit(sent.tx, snr_db=float(point["snr_db"]))
                predicted = link.logits(sent, legit_rx).argmax(-1).cpu().numpy()
                _add(stats, {f"correct_seed{replica}": float(np.count_nonzero(predicted == labels)),
                             "correct": float(np.count_nonzero(predicted == labels)), "trials": float(batch_size)})
                if self.num_classes(mp) == 2:
                    _add(stats, binary_task_stats(predicted, labels))
                if sent.indices is not None:
                    _add(stats, {"symbol_errors": float((link.received_indices(legit_rx) != sent.indices).sum()),
                                 "symbols": float(sent.indices.numel())})
                if replica == 0:  # the attackers attack the first replica
                    stats.update(self._attack_statistics(mp, link, sent, images, point, index))
                    stats.update(quality.mean_statistics("tx_power", link.tx_power(sent).cpu().numpy()))
        stats.update(quality.mean_statistics("symbols_per_message", np.full(batch_size, float(self.params.symbols))))
        return stats

    def _attack_statistics(self, mp: ModelPoint, link: SchemeLink, sent: Any, images: np.ndarray,
                           point: Mapping[str, float], index: np.ndarray) -> Dict[str, float]:
        """The eavesdropper's statistics of one batch sent on ``link`` (inversion, attribute inference)."""
        stats: Dict[str, float] = {}
        if mp not in self._inverters and mp not in self._attribute_nets:
            return stats
        features = link.listen(sent, self.eavesdropper.intercept(sent.tx, self.eavesdropper.snr_db(point)))
        if mp in self._inverters:
            classes = np.asarray(self.dataset.split("test").labels)[index]  # the judge reads the image class
            stats.update(self.eavesdropper.statistics(images, self._inverters[mp](features, training=False), classes))
        if mp in self._attribute_nets:
            targets = self.eavesdropper.attribute_targets("test")[index]
            stats.update(self.eavesdropper.attribute_statistics(self._attribute_nets[mp](features, training=False),
                                                                targets))
        return stats

    @torch.no_grad()
    def sample_images(self, point: Mapping[str, float], count: int) -> Dict[str, Any]:
        """The first ``count`` test images and the eavesdropper's reconstructions, noted with MI and PSNR."""
        from ...privacy import mi_per_image
        from ...vision.training import to_images

        mp = self._model_point(point)
        link, inverter = self._links[mp][0], self._inverter(mp)
        images = self.dataset.split("test").images[:count]
        with torch_threads(self.params.threads):
            sent = link.transmit(to_tensor(images))
            eve_rx = self.eavesdropper.intercept(sent.tx, self.eavesdropper.snr_db(point))
            guess = quality.to_uint8(to_images(inverter(link.listen(sent, eve_rx), training=False)))
        mi, psnr = mi_per_image(images, guess), quality.psnr_per_image(images, guess)
        return {"original": images, "output": guess,
                "notes": [f"MI {m:.2f} b, {q:.1f} dB" for m, q in zip(mi, psnr)]}

    # ----------------------------------------------------------------- records
    def provenance(self) -> Dict[str, Any]:
        p = self.params
        out: Dict[str, Any] = {"scheme": p.scheme, "data": self.dataset.provenance(), "models": self._records,
                               "eavesdropper": self.eavesdropper.provenance()}
        if self.seeds() > 1:
            out["seeds"] = {"replicas": self.seeds(), "training_seeds": [self.context.seed + r
                                                                         for r in range(self.seeds())],
                            "attacked": "replica 0 (training seed = the scenario's seed)"}
        if p.scheme == "dp":
            out["dp"] = {str(mp[0]): self._mechanism(p, mp[0]).describe() for mp in self._links}
            if p.dp.calibration == "scale":
                out["footer_note"] = "DP noise indexed by epsilon (calibration: scale): NO formal DP guarantee"
            else:
                out["footer_note"] = "DP: " + "; ".join(self._mechanism(p, mp[0]).guarantee() for mp in self._links)
        if p.scheme == "encryption":
            out["encryption"] = self._attacker_view()["encryption"]
        return out

    def trained_weights(self) -> List[Tuple[str, str]]:
        out = [(WEIGHT_KIND, key) for key in self._keys]
        return out + [item for item in self.eavesdropper.trained_weights() if item not in out]


def _add(totals: Dict[str, float], batch: Mapping[str, float]) -> None:
    """Add ``batch``'s statistics into ``totals`` (in place)."""
    for key, value in batch.items():
        totals[key] = totals.get(key, 0.0) + value


__all__ = ["PrivacyToscSystem", "PrivacyParams", "SCHEMES"]
