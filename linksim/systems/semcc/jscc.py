"""The registered ``image_jscc`` system: learned image transceivers of the SemCC paper.

One system type covers the four methods compared in Sec. VI (same encoder/decoder,
Fig. 1; they differ only in training, :mod:`.training`)::

    data: {type: images, source: embedded}
    channel: {type: awgn}
    sweep: {parameter: bandwidth_ratio, values: [1/24, 1/12, 1/6, 1/4, 1/2.5], fixed: {snr_db: 5}}
    systems:
      - {label: DeepJSCC, type: image_jscc, params: {method: deepjscc}}
      - {label: DeepSC, type: image_jscc, params: {method: deepsc}}
      - {label: SemCC, type: image_jscc, params: {method: semcc}}
      - {label: SemRE, type: image_jscc, params: {method: semre}}
    metrics: [accuracy, psnr, ssim]

Every distinct (bandwidth ratio, training SNR, trade-off ``alpha``) among the sweep
points needs its own trained model: :meth:`ImageJsccSystem.setup` loads each from the
:class:`~linksim.weights.WeightStore` (cache, then shipped weights) or trains it. By
default a model is trained at the SNR it is tested at (the paper's setting); give
``training.train_snr_db`` to train once and test across SNR (Figs. 13-14).

Per batch, :meth:`ImageJsccSystem.simulate` draws ``batch_size`` test images with
replacement (``sionna.phy.config.np_rng``), sends each as ``k = round(ratio n)``
complex symbols through the scenario's channel at the point's SNR (Sionna's torch
generator draws fading and noise), reconstructs it and lets the downstream ResNet
classify the reconstruction: statistics of PSNR, SSIM, MSE, accuracy and symbols.
"""

from __future__ import annotations

from typing import Any, ClassVar, Dict, FrozenSet, List, Literal, Mapping, Optional, Tuple, Union

import numpy as np
import torch
from pydantic import Field, field_validator, model_validator

from ...data.images import MAX_IMAGES
from ...errors import UserError
from ...learning.cache import load_or_train
from ...learning.stages import StageSettings
from ...learning.training_block import DecayingStageOverride, TrainingBlock
from ...registry import Number, ParamsModel, systems, validate_model
from ...vision import quality
from ...vision.classifier import MAX_BATCH_SIZE, WEIGHT_KIND, ClassifierParams, classifier_weights, \
    downstream_classifier
from ...vision.training import stage_dict
from ...weights import WeightStore, config_hash, file_sha256
from ..base import SystemContext
from .. import image_system
from ..image_system import ImageSystem
from ..training import log_stderr, seed_training, torch_threads
from .methods import METHODS

MODEL_VERSION = "semcc-jscc-2"

#: Sec. VI-A: 300 pre-training and 50 fine-tuning epochs, batch 128, Adam 1e-3 / 1e-4,
#: learning rates halved every 50 epochs. DeepJSCC, DeepSC and SemRE train with the
#: pre-training settings.
PAPER_STAGES: Dict[str, StageSettings] = {
    "pretrain": StageSettings(300, 128, 1e-3, 50, 0.5),
    "finetune": StageSettings(50, 128, 1e-4, 50, 0.5),
}
#: Scaled down for the embedded image set on a few CPU cores: 6 + 2 epochs on the first
#: :data:`CPU_TRAIN_IMAGES` training images, batch 64, the paper's learning rates, halved
#: every 3 epochs (about 500 updates where the paper makes 117 000).
CPU_STAGES: Dict[str, StageSettings] = {
    "pretrain": StageSettings(6, 64, 1e-3, 3, 0.5),
    "finetune": StageSettings(2, 64, 1e-4, 3, 0.5),
}
CPU_TRAIN_IMAGES = 5000
QUICK_STAGES: Dict[str, StageSettings] = {
    "pretrain": StageSettings(1, 32, 1e-3, 1, 0.5),
    "finetune": StageSettings(1, 32, 1e-4, 1, 0.5),
}
QUICK_TRAIN_IMAGES = 128
QUICK_WIDTH = 8

Snr = Union[float, Tuple[float, float]]


class StageParams(DecayingStageOverride):
    """Overrides of one training stage (BatchNorm and the contrastive losses need 2 images a batch)."""

    batch_size: int = Field(..., ge=2, le=MAX_BATCH_SIZE, description=f"images per batch (2..{MAX_BATCH_SIZE})")


class TrainingParams(TrainingBlock):
    """The system's ``training:`` block."""

    PRESETS: ClassVar[Mapping[str, Mapping[str, StageSettings]]] = {
        "cpu": CPU_STAGES, "paper": PAPER_STAGES, "quick": QUICK_STAGES}

    pretrain: Optional[StageParams] = None
    finetune: Optional[StageParams] = None
    train_snr_db: Optional[Snr] = Field(None, description="training SNR in dB (a number or [lo, hi] drawn "
                                                          "per image); default: the SNR of the sweep point")
    num_train: Optional[int] = Field(None, ge=2, le=MAX_IMAGES,
                                     description="train on the first num_train training images, at most the "
                                                 f"train split (default: all with preset paper, {CPU_TRAIN_IMAGES} "
                                                 "with cpu)")

    @field_validator("train_snr_db")
    @classmethod
    def _snr_range(cls, value: Optional[Snr]) -> Optional[Snr]:
        if isinstance(value, tuple) and value[0] > value[1]:
            raise ValueError("must be a number or [lo, hi] with lo <= hi (dB)")
        return value



class ImageJsccParams(ParamsModel):
    """Parameters of ``image_jscc`` (defaults: Sec. VI-A where the paper gives them)."""

    method: str = Field(..., description="a registered training method (linksim.systems.semcc.methods.METHODS): "
                                         "deepjscc, deepsc, semcc or semre")

    @field_validator("method")
    @classmethod
    def _registered_method(cls, name: str) -> str:
        if name not in METHODS:
            raise ValueError(f"unknown training method {name!r}; registered: {', '.join(sorted(METHODS))}")
        return name

    @model_validator(mode="after")
    def _warm_start_from_another_method(self) -> "ImageJsccParams":
        if self.warm_start == "deepjscc" and self.method == "deepjscc":
            raise ValueError("warm_start: deepjscc cannot start from itself (use none)")
        return self

    @property
    def effective_warm_start(self) -> str:
        """``warm_start``, or the method's default (:attr:`TrainingMethod.default_warm_start`)."""
        return self.warm_start or METHODS[self.method].default_warm_start
    bandwidth_ratio: Optional[Number] = Field(None, gt=0, le=1, description="k/n when the sweep does not set it")
    width: Optional[int] = Field(None, ge=4, le=1024, description="feature maps of the encoder/decoder (not given "
                                 "in the paper; 4..1024); default max(16, maps of the k symbols at H/4 x W/4): "
                                 "see auto_width")
    alpha1: Optional[float] = Field(None, ge=0, le=1, description="eq. (10) weight of L_rec; default k/n "
                                                                  "(the paper's suggestion)")
    alpha2: float = Field(0.5, ge=0, le=1, description="eq. (11) weight of L_rec (DeepSC, SemCC fine-tuning)")
    temperature: float = Field(0.1, gt=0, allow_inf_nan=False, description="tau of eqs. (8), (13)")
    projection_width: int = Field(32, ge=2, le=4096, description="output of the 2-layer projection head (2..4096)")
    beta: float = Field(0.9, ge=0, le=1, description="soft-update factor of eq. (14) (SemRE)")
    update_every: int = Field(10, ge=1, le=10**6,
                              description="N_update: optimizer steps between soft updates (SemRE; 1..10**6)")
    finetune: bool = Field(True, description="SemCC stage 2 (false: the 'w/o. FT' ablation)")
    warm_start: Optional[Literal["none", "deepjscc"]] = Field(
        None, description="weights training starts from: deepjscc (the DeepJSCC model of the same k and training "
                          "SNR, loaded or trained as the deepjscc method would) or none (random); default: "
                          "deepjscc for deepsc, semcc and semre (from random weights the contrastive terms "
                          "collapse and DeepSC ends below a constant image), none for deepjscc")
    re_encoder_gradient: bool = Field(
        False, description="SemRE: let eq. (13)'s gradient reach the decoder through the re-encoder (Algorithm 2 "
                           "read literally; the decoder then learns images the re-encoder clusters, worse than a "
                           "constant image); default false: the decoder learns from L_rec only")
    downstream: ClassifierParams = Field(default_factory=ClassifierParams,
                                         description="the downstream model used in training and testing")
    test_downstream: Optional[ClassifierParams] = Field(
        None, description="a different downstream model that judges the reconstructions at test time")
    threads: Optional[int] = Field(None, ge=1, le=1024, description="torch threads while training and simulating "
                                                                    "(1..1024)")
    epsilon: float = Field(0.0, ge=0, le=1, description="semantic noise at the transmitter when the sweep does not "
                                                        "set it: PGD (linksim.adversarial.pgd_linf, L-inf budget on "
                                                        "pixels in [0, 1]) against the judge of the noiseless "
                                                        "reconstruction; 0: clean images")
    attack_steps: int = Field(10, ge=1, le=1000, description="PGD steps (step 2.5 epsilon / steps)")


def auto_width(k: int, image_shape: Tuple[int, int, int], minimum: int = 16) -> int:
    """Default width: at least ``minimum``, and no fewer feature maps than the channel-coding
    module emits, so that the last ``H/4 x W/4`` features can carry ``2k`` real values
    (``1/24 ... 1/6`` of a 32x32x3 image: 16; ``1/4``: 24; ``1/2.5``: 39)."""
    from .networks import latent_layout

    return max(minimum, latent_layout(k, image_shape)[0])


@systems.register("image_jscc")
class ImageJsccSystem(ImageSystem):
    """Learned JSCC image transceiver trained as DeepJSCC, DeepSC, SemCC or SemRE (SemCC paper, Fig. 1)."""

    Params = ImageJsccParams
    Training = TrainingParams
    sweep_parameters: ClassVar[FrozenSet[str]] = quality.IMAGE_SWEEP_PARAMETERS | {"alpha", "epsilon"}
    sweep_labels: ClassVar[Dict[str, str]] = {**ImageSystem.sweep_labels, "alpha": r"Trade-off weight $\alpha$",
                                              "epsilon": r"Semantic noise $\epsilon$ (L$_\infty$, pixels in [0, 1])"}
    metrics_provided: ClassVar[FrozenSet[str]] = frozenset({"psnr", "ssim", "mse", "accuracy", "symbols_per_message"})
    accepts_training: ClassVar[bool] = True

    def __init__(self, params: ImageJsccParams, context: SystemContext) -> None:
        super().__init__(params, context)
        self.training = self.training_params(context)
        self._models: Dict[Tuple[Any, ...], Any] = {}
        self._keys: Dict[Tuple[Any, ...], str] = {}
        self._info: Dict[str, Any] = {}
        self._classifier: Any = None
        self._test_classifier: Any = None
        self._channel: Any = None
        self._warm_start_source: Optional["ImageJsccSystem"] = None
        self._diagnostics: Dict[str, Dict[str, Any]] = {}
        #: Attacked images need gradients in ``simulate`` (the runner then leaves inference mode).
        self.simulate_needs_gradients = params.epsilon > 0 or any(
            point.get("epsilon", 0.0) > 0 for point in context.points)

    # ----------------------------------------------------------------- settings
    @staticmethod
    def training_params(context: SystemContext) -> TrainingParams:
        return validate_model(TrainingParams, context.training or {}, field="training")

    @classmethod
    def validate_context(cls, params: ImageJsccParams, context: SystemContext) -> None:
        training = cls.training_params(context)
        dataset = image_system.image_dataset(context)
        method = METHODS[params.method]
        if method.needs_labels and dataset.num_classes < 1:
            raise UserError(f"params.method: {params.method} needs a labelled dataset")
        points = context.points or [{}]
        for point in points:
            if "alpha" in point and method.alpha_sets_alpha1 is None:
                raise UserError(f"sweep: {method.title} has no trade-off weight alpha to sweep")
            if "alpha" in point and not 0 <= point["alpha"] <= 1:
                raise UserError(f"sweep: alpha = {point['alpha']:g} is outside [0, 1]")
            if training.train_snr_db is None and "snr_db" not in point:
                raise UserError("training.train_snr_db: required when the sweep does not set snr_db")
            if isinstance(training.train_snr_db, tuple) and "snr_db" not in point:
                raise UserError("sweep: give snr_db (the test SNR) when training.train_snr_db is a range")
        cls.check_points(context, dataset.image_shape, params.bandwidth_ratio, need_snr=False)
        available = dataset.num_images("train")
        if training.num_train is not None and available is not None and training.num_train > available:
            raise UserError(f"training.num_train: {training.num_train} exceeds the {available} training images "
                            "of the data (data.num_train)")
        h, w, _ = dataset.image_shape
        if h % 4 or w % 4:
            raise UserError(f"data: image_jscc needs height and width divisible by 4, got {h}x{w}")
        from ...phy.channels import build_channel

        channel = build_channel(context.channel)
        if getattr(channel, "symbols_multiple", 1) != 1:
            raise UserError("channel.type: image_jscc sends k symbols per image; use a SISO channel "
                            "(awgn, rayleigh, rician)")

    def _model_point(self, point: Mapping[str, float]) -> Tuple[Any, ...]:
        """(k, training SNR, alpha1, alpha2) of the model that serves ``point``."""
        ratio, snr = point.get("bandwidth_ratio", self.params.bandwidth_ratio), point.get("snr_db")
        k = quality.symbols_for_ratio(float(ratio), self.image_shape)
        given = self.training.train_snr_db
        train_snr = snr if given is None else (tuple(map(float, given)) if isinstance(given, tuple) else float(given))
        alpha1, alpha2 = self.alphas(k, point.get("alpha"))
        return (k, train_snr, alpha1, alpha2)

    def alphas(self, k: int, alpha: Optional[float]) -> Tuple[float, float]:
        """``(alpha1, alpha2)``; a swept ``alpha`` sets alpha2 (DeepSC) or both (SemCC, SemRE: alpha1)."""
        n = quality.source_dimension(self.image_shape)
        alpha1 = self.params.alpha1 if self.params.alpha1 is not None else k / n
        alpha2 = self.params.alpha2
        if alpha is not None:
            alpha2 = float(alpha)
            if METHODS[self.params.method].alpha_sets_alpha1:
                alpha1 = float(alpha)
        return alpha1, alpha2

    def width(self, k: int) -> int:
        """Feature maps for ``k`` symbols: ``params.width``, else :func:`auto_width`."""
        if self.context.quick:
            return QUICK_WIDTH
        return self.params.width or auto_width(k, self.image_shape)

    def stages(self) -> Dict[str, StageSettings]:
        return {name: self.training.stage(name, quick=self.context.quick) for name in ("pretrain", "finetune")}

    def _training_images(self) -> Tuple[np.ndarray, np.ndarray]:
        train = self.dataset.split("train")
        count = QUICK_TRAIN_IMAGES if self.context.quick else self.training.num_train
        if count is None and self.training.preset == "cpu":
            count = CPU_TRAIN_IMAGES
        if count is None:
            return train.images, train.labels
        return train.images[:count], train.labels[:count]

    def model_key(self, model_point: Tuple[Any, ...], *, stage: str = "final",
                  finetune: Optional[bool] = None) -> str:
        """Weight-store key of the model for ``model_point`` (architecture, training, data, channel).

        :param stage: ``"final"``, or ``"pretrain"`` for SemCC's stage-1 checkpoint.
        :param finetune: SemCC: key of the model with (True) or without (False) the
            fine-tuning stage (default ``params.finetune``).
        """
        finetune = self.params.finetune if finetune is None else finetune
        k, train_snr, alpha1, alpha2 = model_point
        p, method = self.params, self.params.method
        arch = {"model": MODEL_VERSION, "k": k, "width": self.width(k), "image_shape": list(self.image_shape)}
        stages = self.stages()
        train: Dict[str, Any] = {"method": method, "train_snr_db": train_snr, "channel": self.context.channel,
                                 "pretrain": stage_dict(stages["pretrain"]), "seed": self.context.seed,
                                 "quick": self.context.quick, "num_train": len(self._training_images()[1])}
        if METHODS[method].uses_downstream:
            train["downstream"] = self._classifier_key()
        train.update(METHODS[method].key_settings(p, alpha1, alpha2, stages, final=stage == "final",
                                                  finetune=finetune))
        if p.effective_warm_start == "deepjscc":  # "none" keeps the keys models always had
            train["warm_start"] = self._warm_start_system().model_key(model_point)
        return config_hash(arch, train, self.dataset.identity())

    def _warm_start_system(self) -> "ImageJsccSystem":
        """The DeepJSCC system whose model of the same point a warm start loads (or trains)."""
        if self._warm_start_source is None:
            params = self.params.model_copy(update={"method": "deepjscc", "warm_start": None})
            self._warm_start_source = ImageJsccSystem(params, self.context)
            self._warm_start_source._dataset = self._dataset
        return self._warm_start_source

    def seed_key(self, model_point: Tuple[Any, ...]) -> str:
        """The key that seeds the training of ``model_point`` (initial weights, batch order, noise).

        The model's own key, except for SemCC: its stage-1 checkpoint is shared by the
        fine-tuned model and the "w/o. FT" model (whose weights *are* the checkpoint),
        so both seed from the fine-tuned model's key, and the checkpoint is the same
        whichever of them trains it first (serially, or in parallel jobs). Limitation:
        SemCC systems that differ only in ``alpha2`` or the fine-tuning settings share
        one stage-1 key but seed differently, so there the first to train it decides
        it (seeding stage 1 from its own key would change the shipped models).
        """
        return self.model_key(model_point, finetune=True)

    def _classifier_key(self) -> str:
        from ...vision.classifier import classifier_key

        return classifier_key(self.params.downstream, self.dataset, self.context.quick, self.context.seed)

    def training_groups(self) -> List[List[int]]:
        """One group of point indices per distinct model (k, training SNR, alpha)."""
        groups: Dict[Tuple[Any, ...], List[int]] = {}
        for index, point in enumerate(self.context.points):
            groups.setdefault(self._model_point(point), []).append(index)
        return list(groups.values())

    # ----------------------------------------------------------------- setup
    def setup(self) -> None:
        with torch_threads(self.params.threads):
            if self.dataset.num_classes > 0:
                self._classifier = downstream_classifier(self.context, self.dataset, self.params.downstream)
                if self.params.test_downstream is not None:
                    self._test_classifier = downstream_classifier(self.context, self.dataset,
                                                                  self.params.test_downstream)
            for point in self.context.points or [{}]:
                mp = self._model_point(point)
                if mp not in self._models:
                    self._models[mp] = self._load_or_train(mp)
        from ...layers.channel import ChannelLayer

        self._channel = ChannelLayer(self.context.channel, 0.0)

    def _build(self, k: int) -> Any:
        from .networks import build_transceiver

        return build_transceiver(k, self.image_shape, self.width(k))

    def _load_or_train(self, mp: Tuple[Any, ...]) -> Any:
        store = WeightStore(self.context.cache_dir, WEIGHT_KIND)
        key = self.model_key(mp)
        self._keys[mp] = key
        k, train_snr, alpha1, alpha2 = mp
        trained = load_or_train(
            store, key, build=lambda: self._build(k), train=lambda model: self._train(model, mp, store),
            seed={"seed": self.context.seed, "key": self.seed_key(mp)},  # SemCC: the fine-tuned model's key
            info=lambda model: {"model": f"image_jscc {self.params.method}", "k": k, "train_snr_db": train_snr,
                                "alpha1": alpha1, "alpha2": alpha2, "data": self.dataset.provenance(),
                                **self._training_record(key)})
        self._info[key] = {"k": k, "width": self.width(k), "train_snr_db": train_snr, "alpha1": alpha1,
                           "alpha2": alpha2, "source": trained.source, "weights_sha256": file_sha256(trained.path),
                           **self._training_record(key)}
        return trained.model

    def _training_record(self, key: str) -> Dict[str, Any]:
        """Warm start and contrastive diagnostics of the model of ``key`` (empty if not trained here)."""
        out: Dict[str, Any] = {}
        if self.params.effective_warm_start != "none":
            out["warm_start"] = self.params.effective_warm_start
        out.update(self._diagnostics.get(key, {}))
        return out

    def _warm_start(self, mp: Tuple[Any, ...]) -> Optional[Any]:
        """A function loading the warm-start weights of ``mp`` into a model, or None."""
        if self.params.effective_warm_start == "none":
            return None
        source = self._warm_start_system()

        def load(model: Any) -> None:
            donor = source._load_or_train(mp)
            model.set_weights(donor.get_weights())
            key = source.model_key(mp)
            if not self.context.quick:
                log_stderr(f"[{self.context.label}] warm start from the DeepJSCC model {key} "
                           f"({source._info[key]['source']})")
            # what is initialised next (projection head) must not depend on whether the donor was trained
            seed_training({"seed": self.context.seed, "key": self.seed_key(mp), "stage": "warm start"})
        return load

    def _train(self, model: Any, mp: Tuple[Any, ...], store: WeightStore) -> None:
        """Train ``model`` for ``mp`` by the system's method (``store`` keeps a stage-1 checkpoint)."""
        from ...layers.channel import ChannelLayer
        from .methods import train_method

        k, train_snr, alpha1, alpha2 = mp
        images, labels = self._training_images()
        log = None if self.context.quick else log_stderr
        snr = tuple(train_snr) if isinstance(train_snr, (list, tuple)) else train_snr
        channel = ChannelLayer(self.context.channel, snr)
        n = quality.source_dimension(self.image_shape)
        if log:
            log(f"[{self.context.label}] training {self.params.method} at k = {k} (k/n = 1/{n / k:.3g}), "
                f"train SNR {train_snr} dB on {len(labels)} images")
        stages = self.stages()
        stage1_store_key = self.model_key(mp, stage="pretrain") if METHODS[self.params.method].has_stage1_checkpoint \
            else None
        diagnostics = train_method(
            self.params.method, model, channel, images, labels, stages=stages, params=self.params,
            alpha1=alpha1, alpha2=alpha2, classifier=self._classifier, seed=self.context.seed, log=log,
            store=store, stage1_key=stage1_store_key,
            before_stage=lambda stage: seed_training({"seed": self.context.seed, "key": self.seed_key(mp),
                                                      "stage": stage}),
            info={"data": self.dataset.provenance(), "system": self.context.label},
            warm_start=self._warm_start(mp))
        self._diagnostics[self.model_key(mp)] = diagnostics

    # ----------------------------------------------------------------- simulate
    @torch.no_grad()
    def simulate(self, batch_size: int, point: Mapping[str, float]) -> Dict[str, float]:
        import sionna.phy

        from ...vision.training import model_device, to_images, to_tensor

        mp = self._model_point(point)
        model = self._models[mp]
        test = self.dataset.split("test")
        index = sionna.phy.config.np_rng.integers(0, len(test), size=batch_size)
        images = test.images[index]
        x = to_tensor(images, model_device(model))
        judge = self._test_classifier or self._classifier
        epsilon = float(point.get("epsilon", self.params.epsilon))
        with torch_threads(self.params.threads):
            if epsilon > 0:
                x = self._attacked(model, judge, x, test.labels[index], epsilon)  # PSNR: against the clean image
            with torch.no_grad():
                s = model.encoder(x, training=False)
                y = self._channel(s, snr_db=float(point.get("snr_db", mp[1])), training=False)
                x_hat = quality.to_uint8(to_images(model.decoder(y, training=False)))  # the receiver's 8-bit image
                predicted = judge.predict(x_hat) if judge is not None else None
        labels = test.labels[index] if judge is not None else None
        return quality.image_statistics(images, x_hat, labels=labels, predicted=predicted,
                                       symbols=np.full(batch_size, mp[0]))

    def _attacked(self, model: Any, judge: Any, x: torch.Tensor, labels: np.ndarray, epsilon: float) -> torch.Tensor:
        """PGD images (:func:`linksim.adversarial.pgd_linf`) against the judge of the noiseless
        reconstruction (white box, no channel), on the 8-bit grid the transmitter sends."""
        from ...adversarial import pgd_linf

        if judge is None:
            raise UserError("params.epsilon: semantic noise attacks the downstream judge; the data has no labels")
        target = torch.as_tensor(labels, device=x.device).long()

        def loss(v: torch.Tensor) -> torch.Tensor:
            return torch.nn.functional.cross_entropy(judge.logits(model.decoder(model.encoder(v, training=False),
                                                                                training=False)), target,
                                                     reduction="sum")

        attacked = pgd_linf(loss, x, epsilon, self.params.attack_steps)
        return torch.round(attacked * 255.0) / 255.0

    # ----------------------------------------------------------------- eavesdropping (linksim.systems.eavesdropped)
    def victim_key(self, point: Mapping[str, float]) -> str:
        """The weight key of the model serving ``point``."""
        return self.model_key(self._model_point(point))

    def victim_train_snr_db(self, point: Mapping[str, float]) -> float:
        """The training SNR of that model (the middle of a training range)."""
        snr = self._model_point(point)[1]
        return float(sum(snr) / 2) if isinstance(snr, tuple) else float(snr)

    def victim_training_images(self) -> int:
        """Images from the start of the training split the models train on."""
        return len(self._training_images()[1])

    def transmitted_symbols(self, x: torch.Tensor, point: Mapping[str, float]) -> torch.Tensor:
        """``[N, k, 2]`` power-normalised symbols the model at ``point`` sends for images ``x`` ``[N, C, H, W]``."""
        with torch.no_grad(), torch_threads(self.params.threads):
            return self._models[self._model_point(point)].encoder(x, training=False)

    # ----------------------------------------------------------------- records
    def provenance(self) -> Dict[str, Any]:
        info: Dict[str, Any] = {"method": self.params.method, "models": self._info,
                                "data": self.dataset.provenance()}
        if self._classifier is not None:
            info["downstream"] = self._classifier.info
        if self._test_classifier is not None:
            info["test_downstream"] = self._test_classifier.info
        return info

    def trained_weights(self) -> List[Tuple[str, str]]:
        out = [(WEIGHT_KIND, key) for key in self._keys.values()]
        if self._warm_start_source is not None:  # the DeepJSCC models the warm starts loaded
            out += [item for item in self._warm_start_source.trained_weights() if item not in out]
        if METHODS[self.params.method].has_stage1_checkpoint and self.params.finetune:  # "w/o. FT" checkpoints
            store = WeightStore(self.context.cache_dir, WEIGHT_KIND)
            stage1 = [self.model_key(mp, stage="pretrain") for mp in self._keys]
            out += [(WEIGHT_KIND, key) for key in stage1 if store.find(key) is not None]
        if self.dataset.num_classes > 0:
            out += classifier_weights(self.context, self.dataset, self.params.downstream)
            if self.params.test_downstream is not None:
                out += classifier_weights(self.context, self.dataset, self.params.test_downstream)
        return out
