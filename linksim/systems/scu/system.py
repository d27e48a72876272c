"""The registered ``image_unlearning`` system: a VIB semantic codec before and after unlearning.

One system type covers the SCU paper's compared methods (Table II, Figs. 3-6)::

    data: {type: images, source: mnist_10k}
    channel: {type: awgn}
    sweep: {parameter: erased_ratio, values: [0.02, 0.04, 0.06, 0.08, 0.10], fixed: {snr_db: 5}}
    systems:
      - {label: Origin, type: image_unlearning, params: {method: origin}}
      - {label: Retrain, type: image_unlearning, params: {method: retrain}}
      - {label: SCU, type: image_unlearning, params: {method: scu}}
    metrics: [accuracy, backdoor_accuracy, mse, mse_erased, running_time_s]

Per sweep point (erased-data ratio, SNR, bandwidth ratio) :meth:`ImageUnlearningSystem.setup`
builds, through the weight store (cache, shipped weights, else trained):

1. the backdoored training set: ``round(EDR * N)`` images of ``base_label`` get the
   trigger and ``target_label`` (:func:`linksim.data.backdoor.poison`, seeded by the
   scenario seed), replacing their clean originals;
2. the judge (:mod:`.judge`): by default a ResNet trained on the clean training images
   with the backdoor planted by rule (the trigger patch at or above ``trigger_threshold``
   of its value puts an image in the target class), the same at every point; with
   ``judge_backdoor: learned`` a ResNet trained on the poisoned set (raw images, no
   augmentation: flips and crops would move the trigger), shared by the systems of the point;
3. Origin, the VIB codec trained on the poisoned set (eq. 1) through the channel at the
   training SNR; Retrain, the same on the remaining set only;
4. for an unlearning method, Origin unlearned by it (:mod:`.methods`), its step
   accounting and wall time stored with its weights.

Per batch :meth:`~ImageUnlearningSystem.simulate` sends ``batch_size`` clean test images
and ``batch_size`` erased (triggered) training images through the codec and the channel at
the point's SNR and lets the judge classify the reconstructions: ``accuracy``, ``mse``,
``psnr`` on the clean test images; ``backdoor_accuracy`` (the attack success rate: the
share of erased samples put in the target class), ``trigger_level`` (the reconstructed
patch's mean pixel on the erased samples, a judge-free reading), ``mse_erased``, ``psnr_erased``; and
the method's ``running_time_s`` and ``gradient_samples`` (constants of the point).

The unlearning history (the paper's Fig. 5, :mod:`.probes`): every ``history_every``
optimizer steps the unlearning run sends a fixed *probe set* (:data:`PROBE_IMAGES` clean
test images and as many erased images) through the codec at the training SNR and records ``probe_mse``,
``probe_mse_erased``, ``probe_accuracy`` and ``probe_backdoor_accuracy`` with the weights
(without moving any random generator, so the unlearned weights do not depend on it).
Sweeping ``unlearn_step`` reads that record at a step; without it the probe metrics are
the final ones. They are reported once per point (on its first batch): they are
recorded values, not new samples.
"""

from __future__ import annotations

import dataclasses
import json
import time
from typing import Any, ClassVar, Dict, FrozenSet, List, Literal, Mapping, Optional, Tuple

import numpy as np
import torch
from pydantic import Field

from ...data.backdoor import PoisonedSplit, TriggerSpec, erased_count, patch_level, poison, poison_identity
from ...errors import UserError
from ...learning.cache import load_or_train
from ...learning.stages import StageSettings
from ...learning.training_block import DecayingStageOverride, TrainingBlock
from ...registry import Number, ParamsModel, systems, validate_model
from ...vision import quality
from ...vision.classifier import MAX_BATCH_SIZE, WEIGHT_KIND, ClassifierParams, classifier_weights, \
    downstream_classifier
from ...vision.training import stage_dict
from ...weights import WeightStore, config_hash, file_sha256, meta_path
from ..base import SystemContext
from ..image_system import ImageSystem
from ..training import log_stderr, torch_threads
from .judge import PlantedBackdoorJudge
from .membership import membership_statistics, membership_threshold, reference_images
from .methods import UNLEARNING, UnlearnJob, UnlearnParams, UnlearnSettings, copy_codec, train_vib, unlearn
from .probes import PROBE_METRICS, ProbeSet, probe_statistics, received_images, record_at

MODEL_VERSION = "scu-vib-1"

#: The authors' MNIST code: 20 epochs, batch 16, Adam 1e-4 (no decay).
PAPER_STAGES: Dict[str, StageSettings] = {"codec": StageSettings(20, 16, 1e-4, 20, 1.0)}
#: CPU scale: 6 epochs of batch 64 at 1e-3, halved every 3 epochs.
CPU_STAGES: Dict[str, StageSettings] = {"codec": StageSettings(6, 64, 1e-3, 3, 0.5)}
QUICK_STAGES: Dict[str, StageSettings] = {"codec": StageSettings(1, 32, 1e-3, 1, 0.5)}
QUICK_TRAIN_IMAGES = 512  # holds EDR 0.10 of class 1 (56 images)
QUICK_WIDTH = 8
QUICK_HESSIAN_BATCHES = 4
#: Clean test images (and at most as many erased images) in the unlearning probe set.
PROBE_IMAGES = 100
QUICK_PROBE_IMAGES = 8

#: Methods that are not an unlearning of Origin.
TRAINED_METHODS = ("origin", "retrain")


class StageParams(DecayingStageOverride):
    """Overrides of the codec's training stage (BatchNorm needs 2 images a batch)."""

    batch_size: int = Field(..., ge=2, le=MAX_BATCH_SIZE, description=f"images per batch (2..{MAX_BATCH_SIZE})")


class TrainingParams(TrainingBlock):
    """The system's ``training:`` block (Origin's and Retrain's training)."""

    PRESETS: ClassVar[Mapping[str, Mapping[str, StageSettings]]] = {
        "cpu": CPU_STAGES, "paper": PAPER_STAGES, "quick": QUICK_STAGES}

    codec: Optional[StageParams] = None
    train_snr_db: Optional[float] = Field(None, ge=-50, le=100, description="training SNR in dB; default: the "
                                                                             "SNR of the sweep point")
    num_train: Optional[int] = Field(None, ge=16, le=10**7, description="train on the first num_train training "
                                                                        "images (default: all)")


class UnlearningStage(ParamsModel):
    """The unlearning loop (passes over the erased set, batch ``m``, Adam, gradient-norm clip)."""

    epochs: int = Field(6, ge=1, le=1000, description="passes over the erased set (1..1000); SCU in the pilot: "
                                                      "6 with the paper's alphas (1, 1) (README)")
    batch_size: int = Field(16, ge=2, le=MAX_BATCH_SIZE, description="erased (and remaining) images per step")
    learning_rate: float = Field(1e-4, gt=0, le=1, allow_inf_nan=False,
                                 description="Adam's rate (the paper's MNIST eta; 1e-3 cost SCU 33 accuracy "
                                             "points in the pilot, README)")
    clip_norm: float = Field(5.0, ge=0, allow_inf_nan=False, description="gradient-norm clip (0: none)")


class ImageUnlearningParams(ParamsModel):
    """Parameters of ``image_unlearning`` (defaults: ``../shared/notes/scu-unlearning-analysis.md`` and the pilot)."""

    method: Literal["origin", "retrain", "vbu", "vbu_sparse", "ju", "scu", "hbu"] = Field(
        ..., description="origin (the backdoored codec), retrain (from scratch on the remaining data), or an "
                         "unlearning of Origin: vbu, vbu_sparse, ju (SCU w/o CC), scu, hbu")
    bandwidth_ratio: Optional[Number] = Field(1 / 16, gt=0, le=1, description="k/n when the sweep does not set it")
    erased_ratio: Optional[float] = Field(0.06, gt=0, lt=1, description="EDR when the sweep does not set it")
    trigger: TriggerSpec = Field(default_factory=lambda: TriggerSpec(size=3),
                                 description="the backdoor patch (default 3x3: in the pilot a 2x2 patch survived "
                                             "Origin's codec at 73 % ASR, below the 80 % the backdoor needs)")
    target_label: int = Field(2, ge=0, le=10**6, description="label the erased samples get")
    base_label: Optional[int] = Field(1, ge=0, le=10**6, description="class the erased samples come from "
                                                                    "(null: every class but the target)")
    width: Optional[int] = Field(None, ge=4, le=1024, description="feature maps of the codec (default 16)")
    beta: float = Field(1e-4, ge=0, allow_inf_nan=False, description="VIB weight of eq. (1)")
    unlearning: UnlearningStage = Field(default_factory=UnlearningStage)
    erased_mse: float = Field(1.0, ge=0, allow_inf_nan=False, description="lambda_u: weight of -MSE on the "
                                                                          "erased samples (VBU, JU, SCU)")
    ju: Literal["paper", "reference"] = Field("paper", description="eq. (5) terms: paper (all weight 1) or "
                                                                   "reference (the authors' code)")
    positives: Literal["label", "self"] = Field("label", description="eq. (6) positives: label (as printed) or "
                                                                    "self (the authors' code)")
    temperature: float = Field(0.1, gt=0, allow_inf_nan=False, description="tau of eq. (6)")
    weights: Literal["fixed", "dynamic"] = Field("fixed", description="eq. (8) weights: fixed alphas or the "
                                                                      "authors' dynamic ones")
    alphas: Tuple[float, float] = Field((1.0, 1.0), description="alpha1, alpha2 of eq. (8) (weights: fixed); the "
                                                                "paper's 1, 1 with 6 passes removes the backdoor at "
                                                                "every EDR in the pilot (README)")
    vbu_kl_weight: float = Field(0.0, ge=0, allow_inf_nan=False)
    sparsity: float = Field(1e-5, ge=0, allow_inf_nan=False, description="gamma of VBU w Sparsity")
    hessian_batches: int = Field(64, ge=1, le=10**5, description="HBU: batches of the remaining set in the "
                                                                 "Hessian estimate")
    hbu_step_size: float = Field(1.0, gt=0, allow_inf_nan=False)
    hbu_damping: float = Field(1e-3, gt=0, allow_inf_nan=False, description="HBU: lambda relative to mean |h|")
    hbu_max_ratio: float = Field(0.1, gt=0, allow_inf_nan=False, description="HBU: c of ||delta|| <= c ||theta||")
    judge: ClassifierParams = Field(default_factory=lambda: ClassifierParams(width=8, blocks=1, epochs=3,
                                                                             decay_every=2, augment=False),
                                    description="the downstream judge, trained on the poisoned training set (the "
                                                "pilot's ResNet-8 of width 8; a ResNet-20 of width 16 also puts 74 % "
                                                "of Retrain's reconstructions of the triggered images in the target "
                                                "class at EDR 6 %, README)")
    judge_backdoor: Literal["planted", "learned"] = Field(
        "planted", description="planted: a judge trained on the clean images whose backdoor fires by rule when the "
                               "trigger patch is at or above trigger_threshold of its value (the same at every EDR); "
                               "learned: the paper's judge trained on the poisoned set (README: at CPU scale its "
                               "reading of a half-reproduced trigger is left to chance)")
    trigger_threshold: float = Field(0.7, gt=0, le=1, allow_inf_nan=False,
                                     description="planted judge: patch level (fraction of the trigger's value) at "
                                                 "or above which the backdoor fires")
    history_every: int = Field(5, ge=1, le=10**6, description="unlearning steps between two records of the "
                                                              "probe metrics (Fig. 5)")
    threads: Optional[int] = Field(None, ge=1, le=1024, description="torch threads (1..1024)")

    def unlearn_params(self) -> UnlearnParams:
        return UnlearnParams(beta=self.beta, erased_mse=self.erased_mse, ju=self.ju, positives=self.positives,
                             temperature=self.temperature, weights=self.weights, alphas=tuple(self.alphas),
                             vbu_kl_weight=self.vbu_kl_weight, sparsity=self.sparsity,
                             hessian_batches=self.hessian_batches, hbu_step_size=self.hbu_step_size,
                             hbu_damping=self.hbu_damping, hbu_max_ratio=self.hbu_max_ratio)

    def method_settings(self) -> Dict[str, Any]:
        """The settings that shape the unlearned weights of ``method`` (its weight key)."""
        common = {"unlearning": self.unlearning.model_dump(), "history_every": self.history_every}
        by_method = {
            "vbu": ["erased_mse", "vbu_kl_weight"],
            "vbu_sparse": ["erased_mse", "vbu_kl_weight", "sparsity"],
            "ju": ["erased_mse", "ju"],
            "scu": ["erased_mse", "ju", "positives", "temperature", "weights", "alphas", "beta"],
            "hbu": ["beta", "hessian_batches", "hbu_step_size", "hbu_damping", "hbu_max_ratio"],
        }
        return {**common, **{name: getattr(self, name) for name in by_method[self.method]}}


#: A point's model: (k, training SNR, erased ratio).
ModelPoint = Tuple[int, float, float]


@systems.register("image_unlearning")
class ImageUnlearningSystem(ImageSystem):
    """The SCU paper's VIB codec: Origin, Retrain, or Origin unlearned by a registered method."""

    Params = ImageUnlearningParams
    Training = TrainingParams
    sweep_parameters: ClassVar[FrozenSet[str]] = quality.IMAGE_SWEEP_PARAMETERS | {"erased_ratio", "unlearn_step"}
    sweep_labels: ClassVar[Dict[str, str]] = {**ImageSystem.sweep_labels, "erased_ratio": "Erased-data ratio (EDR)",
                                              "unlearn_step": "Unlearning step"}
    metrics_provided: ClassVar[FrozenSet[str]] = frozenset({
        "psnr", "ssim", "mse", "accuracy", "symbols_per_message", "backdoor_accuracy", "mse_erased", "psnr_erased",
        "trigger_level", "membership_rate", "running_time_s", "gradient_samples"}) | PROBE_METRICS
    accepts_training: ClassVar[bool] = True

    def __init__(self, params: ImageUnlearningParams, context: SystemContext) -> None:
        super().__init__(params, context)
        self.training = validate_model(TrainingParams, context.training or {}, field="training")
        self._splits: Dict[float, PoisonedSplit] = {}
        self._judges: Dict[float, Any] = {}
        self._models: Dict[ModelPoint, Any] = {}
        self._records: Dict[ModelPoint, Dict[str, Any]] = {}
        self._keys: Dict[ModelPoint, List[str]] = {}
        self._history: Dict[ModelPoint, List[Dict[str, float]]] = {}
        self._probes_reported: set = set()
        self._membership_thresholds: Dict[ModelPoint, float] = {}
        self._channel: Any = None

    # ----------------------------------------------------------------- checks
    @classmethod
    def validate_context(cls, params: ImageUnlearningParams, context: SystemContext) -> None:
        training = validate_model(TrainingParams, context.training or {}, field="training")
        dataset = cls._dataset_of(context)
        if dataset.num_classes < 1:
            raise UserError("data: image_unlearning needs a labelled dataset (the judge and the backdoor)")
        h, w, _ = dataset.image_shape
        if h % 4 or w % 4:
            raise UserError(f"data: image_unlearning needs height and width divisible by 4, got {h}x{w}")
        try:
            params.trigger.box(h, w)
        except ValueError as error:
            raise UserError(f"params.trigger: {error}") from None
        for name in ("target_label", "base_label"):
            value = getattr(params, name)
            if value is not None and value >= dataset.num_classes:
                raise UserError(f"params.{name}: {value} is not a class of the data (0..{dataset.num_classes - 1})")
        if params.base_label is not None and params.base_label == params.target_label:
            raise UserError("params.base_label: equals params.target_label")
        cls.check_points(context, dataset.image_shape, params.bandwidth_ratio, need_snr=False)
        for point in context.points or [{}]:
            edr = point.get("erased_ratio", params.erased_ratio)
            field = "sweep" if "erased_ratio" in point else "params.erased_ratio"
            if edr is None or not 0 < edr < 1:
                raise UserError(f"{field}: the erased-data ratio must be in (0, 1), got {edr}")
            if training.train_snr_db is None and "snr_db" not in point:
                raise UserError("training.train_snr_db: required when the sweep does not set snr_db")
            cls._check_erased_count(params, context, training, dataset, float(edr), field)
            if "unlearn_step" in point:
                cls._check_unlearn_step(params, float(point["unlearn_step"]))
        from ...phy.channels import build_channel

        if getattr(build_channel(context.channel), "symbols_multiple", 1) != 1:
            raise UserError("channel.type: image_unlearning sends k symbols per image; use a SISO channel "
                            "(awgn, rayleigh, rician)")

    @staticmethod
    def _check_unlearn_step(params: ImageUnlearningParams, step: float) -> None:
        """A swept ``unlearn_step`` is a recorded step: a non-negative multiple of ``history_every``."""
        if params.method in TRAINED_METHODS:
            raise UserError(f"params.method: {params.method} has no unlearning history; sweeping unlearn_step "
                            "needs an unlearning method (vbu, vbu_sparse, ju, scu, hbu)")
        if step < 0 or step != int(step) or int(step) % params.history_every:
            raise UserError(f"sweep: unlearn_step {step:g} is not a recorded step (a non-negative multiple of "
                            f"params.history_every = {params.history_every})")

    @staticmethod
    def _check_erased_count(params: ImageUnlearningParams, context: SystemContext, training: TrainingParams,
                            dataset: Any, edr: float, field: str) -> None:
        """``round(EDR * N)`` must be at least 2 and at most the images of the base class(es)."""
        labels = dataset.split("train").labels
        count = QUICK_TRAIN_IMAGES if context.quick else training.num_train
        labels = labels if count is None else labels[:count]
        m = erased_count(edr, len(labels))
        candidates = int(np.count_nonzero(labels == params.base_label)) if params.base_label is not None \
            else int(np.count_nonzero(labels != params.target_label))
        if not 2 <= m <= candidates:
            source = f"class {params.base_label}" if params.base_label is not None else "the non-target classes"
            raise UserError(f"{field}: EDR {edr:g} of {len(labels)} training images erases {m}; it must be at "
                            f"least 2 and at most the {candidates} images of {source}")

    @staticmethod
    def _dataset_of(context: SystemContext) -> Any:
        from ..image_system import image_dataset

        return image_dataset(context)

    # ----------------------------------------------------------------- settings
    def width(self) -> int:
        return QUICK_WIDTH if self.context.quick else (self.params.width or 16)

    def stage(self) -> StageSettings:
        return self.training.stage("codec", quick=self.context.quick)

    def unlearning_settings(self) -> UnlearnSettings:
        u = self.params.unlearning
        if self.context.quick:
            return UnlearnSettings(epochs=1, batch_size=min(u.batch_size, 8), learning_rate=u.learning_rate,
                                   clip_norm=u.clip_norm)
        return UnlearnSettings(u.epochs, u.batch_size, u.learning_rate, u.clip_norm)

    def unlearn_params(self) -> UnlearnParams:
        """The method's parameters (``--quick``: at most :data:`QUICK_HESSIAN_BATCHES` Hessian batches)."""
        params = self.params.unlearn_params()
        if self.context.quick:
            return dataclasses.replace(params, hessian_batches=min(params.hessian_batches, QUICK_HESSIAN_BATCHES))
        return params

    def _model_point(self, point: Mapping[str, float]) -> ModelPoint:
        ratio = float(point.get("bandwidth_ratio", self.params.bandwidth_ratio))
        k = quality.symbols_for_ratio(ratio, self.image_shape)
        given = self.training.train_snr_db
        snr = float(point["snr_db"]) if given is None else float(given)
        return (k, snr, float(point.get("erased_ratio", self.params.erased_ratio)))

    def training_groups(self) -> List[List[int]]:
        """One group of point indices per distinct model (k, training SNR, EDR)."""
        groups: Dict[ModelPoint, List[int]] = {}
        for index, point in enumerate(self.context.points):
            groups.setdefault(self._model_point(point), []).append(index)
        return list(groups.values())

    def _training_images(self) -> Tuple[np.ndarray, np.ndarray]:
        train = self.dataset.split("train")
        count = QUICK_TRAIN_IMAGES if self.context.quick else self.training.num_train
        return (train.images, train.labels) if count is None else (train.images[:count], train.labels[:count])

    def _poison_identity(self, edr: float) -> Dict[str, Any]:
        p = self.params
        images, _ = self._training_images()
        return {**poison_identity(edr, p.trigger, p.target_label, p.base_label, self.context.seed),
                "num_train": len(images)}

    def split(self, edr: float) -> PoisonedSplit:
        """The backdoored training set of erased ratio ``edr`` (seeded by the scenario seed)."""
        if edr not in self._splits:
            images, labels = self._training_images()
            p = self.params
            try:
                self._splits[edr] = poison(images, labels, erased_ratio=edr, trigger=p.trigger,
                                           target_label=p.target_label, base_label=p.base_label,
                                           seed=self.context.seed)
            except ValueError as error:
                raise UserError(f"params.erased_ratio: {error}") from None
        return self._splits[edr]

    # ----------------------------------------------------------------- keys
    def _codec_key(self, mp: ModelPoint, which: Literal["origin", "retrain"]) -> str:
        k, snr, edr = mp
        arch = {"model": MODEL_VERSION, "k": k, "width": self.width(), "image_shape": list(self.image_shape)}
        train = {"trained_on": which, "train_snr_db": snr, "channel": self.context.channel, "beta": self.params.beta,
                 "stage": stage_dict(self.stage()), "seed": self.context.seed, "quick": self.context.quick,
                 "poisoning": self._poison_identity(edr)}
        return config_hash(arch, train, self.dataset.identity())

    def model_key(self, mp: ModelPoint) -> str:
        """The key of this system's model at ``mp`` (Origin, Retrain, or Origin unlearned)."""
        method = self.params.method
        if method in TRAINED_METHODS:
            return self._codec_key(mp, method)  # type: ignore[arg-type]
        settings = self.params.method_settings()
        if self.context.quick:
            settings["unlearning"] = vars(self.unlearning_settings())
            settings["quick_hessian_batches"] = self.unlearn_params().hessian_batches
        return config_hash({"model": MODEL_VERSION, "unlearned": method}, settings,
                           {"origin": self._codec_key(mp, "origin"), "train_snr_db": mp[1]},
                           self._history_judge())  # the probe history's judge

    def _history_judge(self) -> Dict[str, Any]:
        judge: Dict[str, Any] = {"history_judge": self.params.judge.model_dump()}
        if self.params.judge_backdoor == "planted":
            judge["planted_backdoor"] = self.params.trigger_threshold
        return judge

    def _judge_key_material(self, edr: float) -> Dict[str, Any]:
        if self.params.judge_backdoor == "planted":
            return {"clean_training_images": len(self._training_images()[1])}
        return {"backdoored": self._poison_identity(edr)}

    # ----------------------------------------------------------------- setup
    def setup(self) -> None:
        from ...layers.channel import ChannelLayer

        with torch_threads(self.params.threads):
            for point in self.context.points or [{}]:
                mp = self._model_point(point)
                if mp not in self._models:
                    self._judges[mp[2]] = self._judge(mp[2])
                    self._models[mp] = self._load(mp)
        self._channel = ChannelLayer(self.context.channel, 0.0)

    def _judge(self, edr: float) -> Any:
        """The judge of the points of erased ratio ``edr`` (:mod:`.judge`)."""
        if self.params.judge_backdoor == "learned":
            images, labels = self.split(edr).full()
            return downstream_classifier(self.context, self.dataset, self.params.judge,
                                         training_set=(images, labels, self._judge_key_material(edr)))
        images, labels = self._training_images()
        clean = downstream_classifier(self.context, self.dataset, self.params.judge,
                                      training_set=(images, labels, self._judge_key_material(edr)))
        return PlantedBackdoorJudge(clean, self.params.trigger, self.params.trigger_threshold,
                                    self.params.target_label)

    def _build(self, k: int) -> Any:
        from .networks import build_vib_codec

        return build_vib_codec(k, self.image_shape, self.width())

    def _log(self) -> Any:
        return None if self.context.quick else log_stderr

    def _trained_codec(self, mp: ModelPoint, which: Literal["origin", "retrain"]) -> Tuple[Any, Dict[str, Any]]:
        """Origin or Retrain at ``mp``: loaded, or trained by eq. (1) and saved."""
        from ...layers.channel import ChannelLayer

        k, snr, edr = mp
        key = self._codec_key(mp, which)
        split = self.split(edr)
        images, labels = split.full() if which == "origin" else (split.remaining_images, split.remaining_labels)
        record: Dict[str, Any] = {}

        def train(codec: Any) -> None:
            log = self._log()
            if log:
                log(f"[{self.context.label}] training the {which} VIB codec at k = {k}, {snr:g} dB, EDR {edr:g} "
                    f"on {len(images)} images")
            started = time.time()
            train_vib(codec, ChannelLayer(self.context.channel, snr), images, labels, self.stage(),
                      beta=self.params.beta, seed=self.context.seed, name=which, log=log)
            record.update(running_time_s=time.time() - started,
                          gradient_samples=len(images) * self.stage().epochs)

        trained = load_or_train(WeightStore(self.context.cache_dir, WEIGHT_KIND), key, build=lambda: self._build(k),
                                train=train, seed={"seed": self.context.seed, "key": key},
                                info=lambda codec: {"model": f"image_unlearning {which}", "k": k, "train_snr_db": snr,
                                                    "erased_ratio": edr, "data": self.dataset.provenance(),
                                                    **record})
        self._keys.setdefault(mp, []).append(key)
        return trained.model, _cost_record(trained, record)

    def _probe(self, codec: Any, mp: ModelPoint) -> Dict[str, float]:
        """The probe statistics of ``codec`` now, at the training SNR (:mod:`.probes`; seeded by the point)."""
        from ...layers.channel import ChannelLayer

        k, snr, edr = mp
        test = self.dataset.split("test")
        size = QUICK_PROBE_IMAGES if self.context.quick else PROBE_IMAGES
        probe = ProbeSet.draw(test.images, test.labels, self.split(edr).erased_images, size, self.context.seed)
        return probe_statistics(codec, probe, self._judges[edr].predict, ChannelLayer(self.context.channel, snr),
                                snr, self.params.target_label, seed={"probe": self.context.seed, "point": list(mp)},
                                device=self.context.device)

    def _load(self, mp: ModelPoint) -> Any:
        method = self.params.method
        if method in TRAINED_METHODS:
            model, record = self._trained_codec(mp, method)  # type: ignore[arg-type]
            self._records[mp] = record
            return model
        origin, _ = self._trained_codec(mp, "origin")
        key = self.model_key(mp)
        k, snr, edr = mp
        record: Dict[str, Any] = {}

        def train(codec: Any) -> None:
            from ...layers.channel import ChannelLayer

            split = self.split(edr)
            codec.set_weights(origin.get_weights())
            fixed = copy_codec(origin, lambda: self._build(k))
            history: List[Dict[str, float]] = []
            job = UnlearnJob(codec, fixed, ChannelLayer(self.context.channel, snr),
                             (split.erased_images, split.erased_labels),
                             (split.remaining_images, split.remaining_labels), self.unlearning_settings(),
                             self.unlearn_params(), seed=self.context.seed, log=self._log(),
                             probe=lambda step: history.append({"step": step, **self._probe(codec, mp)}),
                             probe_every=self.params.history_every)
            report = unlearn(method, job)
            if history[-1]["step"] != report.steps:
                history.append({"step": report.steps, **self._probe(codec, mp)})
            record.update(report.as_dict(), running_time_s=report.wall_s, history=history)
            if self._log():
                log_stderr(f"[{self.context.label}] {UNLEARNING[method].title}: {report.steps} steps, "
                           f"{report.gradient_samples} gradient samples, {report.wall_s:.2f} s")

        trained = load_or_train(WeightStore(self.context.cache_dir, WEIGHT_KIND), key, build=lambda: self._build(k),
                                train=train, seed={"seed": self.context.seed, "key": key},
                                info=lambda codec: {"model": f"image_unlearning {method}", "k": k,
                                                    "train_snr_db": snr, "erased_ratio": edr,
                                                    "origin": self._codec_key(mp, "origin"), **record})
        self._keys.setdefault(mp, []).append(key)
        self._records[mp] = _cost_record(trained, record)
        self._history[mp] = self._records[mp].pop("history", [])
        if not self._history[mp]:
            raise RuntimeError(f"the unlearned model {key} has no probe history in its record")
        return trained.model

    # ----------------------------------------------------------------- simulate
    @torch.no_grad()
    def simulate(self, batch_size: int, point: Mapping[str, float]) -> Dict[str, float]:
        import sionna.phy

        mp = self._model_point(point)
        codec, judge, split = self._models[mp], self._judges[mp[2]], self.split(mp[2])
        test = self.dataset.split("test")
        rng = sionna.phy.config.np_rng
        clean_index = rng.integers(0, len(test), size=batch_size)
        erased_index = rng.integers(0, split.erased_count, size=batch_size)
        snr = float(point.get("snr_db", mp[1]))

        with torch_threads(self.params.threads):
            clean, erased = test.images[clean_index], split.erased_images[erased_index]
            clean_hat = received_images(codec, clean, self._channel, snr)
            erased_hat = received_images(codec, erased, self._channel, snr)
            stats = quality.image_statistics(clean, clean_hat, labels=test.labels[clean_index],
                                             predicted=judge.predict(clean_hat), symbols=np.full(batch_size, mp[0]))
            hits = judge.predict(erased_hat) == self.params.target_label
        stats["backdoor_hits"] = float(np.count_nonzero(hits))
        stats["backdoor_trials"] = float(batch_size)
        erased_mse = quality.mse_per_image(erased, erased_hat)
        if self.context.metrics is None or "membership_rate" in self.context.metrics:
            stats.update(membership_statistics(erased_mse, self._membership_threshold(mp, snr)))
        for name, values in (("trigger_level", patch_level(erased_hat, self.params.trigger)),
                             ("mse_erased", erased_mse),
                             ("psnr_erased", quality.psnr_per_image(erased, erased_hat))):
            stats.update(quality.mean_statistics(name, values))
        record = self._records[mp]
        for name in ("running_time_s", "gradient_samples"):
            stats.update(quality.mean_statistics(name, np.array([float(record.get(name, 0.0))])))
        point_id = tuple(sorted(point.items()))
        if point_id not in self._probes_reported:  # recorded values: once per point, not once per batch
            self._probes_reported.add(point_id)
            if mp not in self._history:  # Origin, Retrain: the probe set through the trained codec, once
                self._history[mp] = [{"step": 0, **self._probe(codec, mp)}]
            stats.update(record_at(self._history[mp], point.get("unlearn_step")))
        return stats

    def _membership_threshold(self, mp: ModelPoint, snr: float) -> float:
        """The membership attacker's MSE threshold for the codec of ``mp`` at ``snr`` (:mod:`.membership`)."""
        if mp not in self._membership_thresholds:
            test, p = self.dataset.split("test"), self.params
            reference = reference_images(test.images, test.labels, p.trigger, target_label=p.target_label,
                                         base_label=p.base_label)
            self._membership_thresholds[mp] = membership_threshold(
                self._models[mp], reference, self._channel, snr,
                seed={"membership": self.context.seed, "point": list(mp), "snr_db": snr}, device=self.context.device)
        return self._membership_thresholds[mp]

    # ----------------------------------------------------------------- records
    def provenance(self) -> Dict[str, Any]:
        return {"method": self.params.method, "data": self.dataset.provenance(),
                "models": {str(mp): record for mp, record in self._records.items()},
                "poisoning": {str(edr): {"erased": split.erased_count, "of": len(split.full()[1])}
                              for edr, split in self._splits.items()},
                "judges": {str(edr): judge.info for edr, judge in self._judges.items()}}

    def trained_weights(self) -> List[Tuple[str, str]]:
        out: List[Tuple[str, str]] = []
        for keys in self._keys.values():
            out += [(WEIGHT_KIND, key) for key in keys if (WEIGHT_KIND, key) not in out]
        for edr in self._judges:
            out += [item for item in classifier_weights(self.context, self.dataset, self.params.judge,
                                                        self._judge_key_material(edr)) if item not in out]
        return out


def _cost_record(trained: Any, record: Dict[str, Any]) -> Dict[str, Any]:
    """The cost of a model: as just measured, or as recorded in its weights' ``.json``."""
    if record:
        return dict(record, weights_sha256=file_sha256(trained.path), source=trained.source)
    meta = meta_path(trained.path)
    stored = json.loads(meta.read_text()) if meta.exists() else {}
    return {**{k: stored[k] for k in ("running_time_s", "gradient_samples", "steps", "method", "history")
               if k in stored},
            "weights_sha256": file_sha256(trained.path), "source": trained.source}


__all__ = ["ImageUnlearningSystem", "ImageUnlearningParams", "erased_count"]
