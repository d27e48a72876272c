"""The four training methods of the SemCC paper's comparison, on one transceiver.

:func:`train_method` trains a :class:`~.networks.Transceiver` in place by one of the
:class:`TrainingMethod` objects registered in :data:`METHODS` (a new method is one more
registered class):

=========  ==================================================================  =========
method     loss                                                                 stages
=========  ==================================================================  =========
deepjscc   ``L_rec`` (eq. 9)                                                    pretrain
deepsc     ``alpha2 L_rec + (1 - alpha2) L_task`` (eq. 11), frozen ResNet      pretrain
semcc      eq. (10) with InfoNCE (eq. 8) on frozen backbone features, then     pretrain,
           eq. (11) with a small learning rate (Algorithm 1)                    finetune
semre      eq. (10) with the supervised contrastive loss (eq. 13) on ``s`` and  pretrain
           the soft-updated re-encoder's ``s^r`` (Algorithm 2, eq. 14)
=========  ==================================================================  =========

The downstream classifier (DeepSC, SemCC) runs in inference mode and is never
updated; the projection head and SemRE's re-encoder exist only during training.

Two settings keep the contrastive methods from collapsing (measured, issue 10; see
:mod:`.jscc` for the parameters and the README's SemCC section for the numbers):

* ``warm_start: deepjscc`` starts DeepSC, SemCC and SemRE from the DeepJSCC model of
  the same ``k`` and training SNR (the reconstruction pre-training the paper motivates
  eq. (10) with). From random weights SemCC's reconstructions carry nothing that tells
  the positive pair apart, and eq. (8) sits at its collapse value ``log(2B - 1)``;
  DeepSC's decoder, trained through the frozen judge, ends below a constant image.
* ``re_encoder_gradient: false`` (SemRE): eq. (13) trains the encoder and the head, the
  decoder learns from ``L_rec`` only. With the gradient flowing through the frozen
  re-encoder into the decoder (Algorithm 2 read literally), the decoder learns images
  that the re-encoder maps into class clusters rather than images like the input:
  worse than sending a constant image.

:class:`ContrastiveMonitor` records the contrastive term against its collapse value
(all projections equal) so that a collapse shows in the log and in the weights' record.
"""

from __future__ import annotations

import math
from contextlib import nullcontext
from dataclasses import dataclass, field
from typing import Any, Callable, ClassVar, Dict, List, Optional, Tuple

import numpy as np
import torch

from ...learning.stages import StageSettings
from ...weights import WeightStore
from ...vision.training import fit, stage_dict
from .losses import info_nce, reconstruction_loss, soft_update, supervised_contrastive

Logger = Optional[Callable[[str], None]]


def _task_loss(classifier: Any, x_hat: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Eq. (12): cross-entropy of the frozen downstream model on the reconstruction,
    divided by the number of classes ``N_cls`` as the equation writes it."""
    logits = classifier.model(x_hat, training=False)
    return torch.nn.functional.cross_entropy(logits, y) / logits.shape[-1]


def _eq11(model: Any, channel: Any, classifier: Any, alpha2: float) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
    def loss(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        x_hat = model.reconstruct(x, channel, training=True)
        return alpha2 * reconstruction_loss(x, x_hat) + (1.0 - alpha2) * _task_loss(classifier, x_hat, y)

    return loss


def _built_head(features: int, out: int, model: Any, hidden: Optional[int] = None) -> Any:
    """A :class:`~.networks.ProjectionHead` with its weights created (so that Adam sees them)."""
    from .networks import ProjectionHead
    from ...vision.training import model_device

    head = ProjectionHead(hidden or features, out)
    head(torch.zeros(2, features, device=model_device(model)))
    return head


def info_nce_collapse_value(batch_size: int) -> float:
    """Eq. (8) when all ``2B`` projections are equal: ``log(2B - 1)``."""
    return math.log(2 * batch_size - 1)


def supervised_collapse_value(labels: torch.Tensor) -> float:
    """Eq. (13) when all projections are equal: the mean over anchors of ``log(#negatives)``
    (anchors with no positive or no negative are skipped, as in :func:`.losses.supervised_contrastive`)."""
    y = torch.cat([labels, labels])
    same = (y[:, None] == y[None, :]).sum(dim=1) - 1
    negatives = (y[:, None] != y[None, :]).sum(dim=1)
    valid = (same > 0) & (negatives > 0)
    return float(torch.log(negatives[valid].float()).mean()) if bool(valid.any()) else 0.0


class ContrastiveMonitor:
    """The contrastive term of the last epoch against its collapse value.

    ``ratio`` is the mean term over the mean collapse value of the steps of the last
    epoch: 1 means collapsed (every projection the same point), below 1 the projections
    separate what they should. :data:`COLLAPSE_RATIO` and above is reported as collapsed.
    """

    COLLAPSE_RATIO: ClassVar[float] = 0.98

    def __init__(self, name: str) -> None:
        self.name = name
        self._epoch: List[Tuple[float, float]] = []
        self.history: List[float] = []

    def add(self, term: torch.Tensor, collapse_value: float) -> None:
        """Record one step's contrastive term and its collapse value."""
        self._epoch.append((float(term.detach()), collapse_value))

    def end_epoch(self, epoch: int) -> None:
        if self._epoch:
            terms, collapse = zip(*self._epoch)
            self.history.append(float(np.mean(terms)) / max(float(np.mean(collapse)), 1e-12))
            self._epoch = []

    @property
    def collapsed(self) -> bool:
        return bool(self.history) and self.history[-1] >= self.COLLAPSE_RATIO

    def as_dict(self) -> Dict[str, Any]:
        """JSON-able record: the ratio per epoch and whether the last one is collapsed."""
        return {"term": self.name, "ratio_to_collapse_per_epoch": [round(r, 4) for r in self.history],
                "collapsed": self.collapsed}


@dataclass
class TrainingJob:
    """Everything a method needs to train one transceiver.

    :ivar model: The :class:`~.networks.Transceiver`, trained in place.
    :ivar channel: :class:`~linksim.layers.ChannelLayer` at the training SNR.
    :ivar images: ``uint8 [N, H, W, C]`` training images; ``labels`` ``int64 [N]``.
    :ivar stages: ``pretrain`` and ``finetune`` settings.
    :ivar params: The system's :class:`~.jscc.ImageJsccParams`.
    :ivar classifier: The :class:`~linksim.vision.classifier.DownstreamClassifier`.
    :ivar store: Where a stage-1 checkpoint is cached under ``stage1_key``.
    :ivar before_stage: Called with the stage name before it runs (the system reseeds).
    :ivar info: Recorded with checkpoints; ``info["system"]`` names the system in logs.
    """

    model: Any
    channel: Any
    images: np.ndarray
    labels: np.ndarray
    stages: Dict[str, StageSettings]
    params: Any
    alpha1: float
    alpha2: float
    classifier: Any
    seed: int
    log: Logger
    store: Optional[WeightStore] = None
    stage1_key: Optional[str] = None
    info: Optional[Dict[str, Any]] = None
    before_stage: Optional[Callable[[str], None]] = None
    #: Loads the weights training starts from into the model (``warm_start``), or None.
    warm_start: Optional[Callable[[Any], None]] = None
    #: Filled by the method: ``{"contrastive": ContrastiveMonitor.as_dict()}``.
    diagnostics: Dict[str, Any] = field(default_factory=dict)

    def run(self, models: Any, loss: Any, settings: StageSettings, name: str, stage: str = "pretrain",
            monitor: Optional[ContrastiveMonitor] = None, **kw: Any) -> None:
        """One stage: reseed, then :func:`~linksim.vision.training.fit` ``loss`` over the images.

        ``monitor``: a contrastive term's monitor; its ratio to the collapse value is logged
        per epoch, kept in :attr:`diagnostics`, and a warning names a collapse.
        """
        if self.before_stage is not None:
            self.before_stage(stage)
        system = (self.info or {}).get("system")
        title = f"{system!r} {name}" if system else name
        if monitor is not None:
            def after_epoch(epoch: int) -> None:
                monitor.end_epoch(epoch)
                if self.log:
                    self.log(f"  {title}: contrastive term / collapse value = {monitor.history[-1]:.3f}")
            kw["after_epoch"] = after_epoch
        fit(models, loss, self.images, self.labels, settings, seed=self.seed, name=title, log=self.log, **kw)
        if monitor is not None:
            self.diagnostics["contrastive"] = monitor.as_dict()
            if monitor.collapsed and self.log:
                self.log(f"  warning: {title}: the contrastive term ended at its collapse value "
                         f"(ratio {monitor.history[-1]:.3f}): the projections do not separate the samples")

    def start(self) -> None:
        """Load the warm-start weights into the model, if any."""
        if self.warm_start is not None:
            self.warm_start(self.model)


class TrainingMethod:
    """One way of training the transceiver; registered by name in :data:`METHODS`.

    Class attributes say what the method needs, so that the system checks scenarios and
    builds weight keys without knowing the methods by name.
    """

    name: ClassVar[str]
    #: How the paper writes it (messages, logs).
    title: ClassVar[str]
    #: Trains through the frozen downstream model (its key enters the weight key).
    uses_downstream: ClassVar[bool] = False
    #: Needs labelled images.
    needs_labels: ClassVar[bool] = True
    #: A swept trade-off ``alpha`` sets ``alpha1`` (eq. 10) as well as ``alpha2`` (eq. 11);
    #: None: the method has no trade-off to sweep.
    alpha_sets_alpha1: ClassVar[Optional[bool]] = False
    #: Saves a stage-1 checkpoint (shared with the variant without fine-tuning).
    has_stage1_checkpoint: ClassVar[bool] = False
    #: ``warm_start`` when the system does not give it: ``"none"`` or ``"deepjscc"``.
    default_warm_start: ClassVar[str] = "none"

    def key_settings(self, params: Any, alpha1: float, alpha2: float, stages: Dict[str, StageSettings], *,
                     final: bool, finetune: bool) -> Dict[str, Any]:
        """The method's own settings that shape the weights (added to the weight key)."""
        return {}

    def train(self, job: TrainingJob) -> None:  # pragma: no cover - abstract
        raise NotImplementedError


#: The registered training methods of ``image_jscc`` (``params.method``).
METHODS: Dict[str, TrainingMethod] = {}


def register_method(cls: type) -> type:
    """Class decorator registering a :class:`TrainingMethod` under ``cls.name``."""
    if cls.name in METHODS and type(METHODS[cls.name]) is not cls:
        raise ValueError(f"training method {cls.name!r} is already registered")
    METHODS[cls.name] = cls()
    return cls


@register_method
class DeepJscc(TrainingMethod):
    """``L_rec`` (eq. 9) alone."""

    name = "deepjscc"
    title = "DeepJSCC"
    needs_labels = False
    alpha_sets_alpha1 = None

    def train(self, job: TrainingJob) -> None:
        model, channel = job.model, job.channel
        job.run([model], lambda x, y: reconstruction_loss(x, model.reconstruct(x, channel, training=True)),
                job.stages["pretrain"], "DeepJSCC")


@register_method
class DeepSc(TrainingMethod):
    """Eq. (11): ``alpha2 L_rec + (1 - alpha2) L_task`` through the frozen downstream model."""

    name = "deepsc"
    title = "DeepSC"
    uses_downstream = True
    default_warm_start = "deepjscc"

    def key_settings(self, params: Any, alpha1: float, alpha2: float, stages: Dict[str, StageSettings], *,
                     final: bool, finetune: bool) -> Dict[str, Any]:
        return {"alpha2": alpha2}

    def train(self, job: TrainingJob) -> None:
        job.start()
        job.run([job.model], _eq11(job.model, job.channel, job.classifier, job.alpha2), job.stages["pretrain"],
                "DeepSC")


@register_method
class SemCC(TrainingMethod):
    """Algorithm 1: eq. (10) with InfoNCE (eq. 8) on the frozen backbone's features, then eq. (11)."""

    name = "semcc"
    title = "SemCC"
    uses_downstream = True
    alpha_sets_alpha1 = True
    has_stage1_checkpoint = True
    default_warm_start = "deepjscc"

    def key_settings(self, params: Any, alpha1: float, alpha2: float, stages: Dict[str, StageSettings], *,
                     final: bool, finetune: bool) -> Dict[str, Any]:
        out: Dict[str, Any] = {"alpha1": alpha1, "temperature": params.temperature,
                               "projection_width": params.projection_width}
        if final and finetune:
            out.update(finetune=stage_dict(stages["finetune"]), alpha2=alpha2)
        return out

    def train(self, job: TrainingJob) -> None:
        model, channel, params, store = job.model, job.channel, job.params, job.store
        checkpoint = store is not None and bool(job.stage1_key)
        with store.claim(job.stage1_key) if checkpoint else nullcontext() as path:  # a parallel job may train it
            if path is not None:
                store.load_into(model, path)
                if job.log:
                    job.log(f"  SemCC stage 1 loaded from {path}")
            else:
                job.start()
                head = _built_head(job.classifier.model.feature_width, params.projection_width, model)
                backbone = job.classifier.model.backbone
                alpha1 = job.alpha1
                monitor = ContrastiveMonitor("eq. (8) InfoNCE")

                def stage1(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
                    x_hat = model.reconstruct(x, channel, training=True)
                    with torch.no_grad():
                        f_x = backbone(x, training=False)
                    q_x, q_hat = head(f_x), head(backbone(x_hat, training=False))
                    term = info_nce(q_x, q_hat, params.temperature)
                    monitor.add(term, info_nce_collapse_value(x.shape[0]))
                    return alpha1 * reconstruction_loss(x, x_hat) + (1.0 - alpha1) * term

                job.run([model, head], stage1, job.stages["pretrain"], "SemCC stage 1 (CL pre-training)",
                        monitor=monitor)
                if checkpoint:
                    store.save(model, job.stage1_key, {"model": "image_jscc semcc stage 1", **(job.info or {})})
        if params.finetune:
            job.run([model], _eq11(model, channel, job.classifier, job.alpha2), job.stages["finetune"],
                    "SemCC stage 2 (fine-tuning)", stage="finetune")


@register_method
class SemRE(TrainingMethod):
    """Algorithm 2: eq. (10) with the supervised contrastive loss (eq. 13) against a soft-updated re-encoder."""

    name = "semre"
    title = "SemRE"
    alpha_sets_alpha1 = True
    default_warm_start = "deepjscc"

    def key_settings(self, params: Any, alpha1: float, alpha2: float, stages: Dict[str, StageSettings], *,
                     final: bool, finetune: bool) -> Dict[str, Any]:
        out = {"alpha1": alpha1, "temperature": params.temperature, "projection_width": params.projection_width,
               "beta": params.beta, "update_every": params.update_every}
        if not params.re_encoder_gradient:  # Algorithm 2 read literally keeps the keys it always had
            out["re_encoder_gradient"] = False
        return out

    def train(self, job: TrainingJob) -> None:
        from .networks import SemanticEncoder

        model, channel, params, alpha1 = job.model, job.channel, job.params, job.alpha1
        job.start()
        encoder = model.encoder
        re_encoder = SemanticEncoder(encoder.k, encoder.image_shape, encoder.width)
        h, w, c = encoder.image_shape
        re_encoder(np.zeros((2, c, h, w), np.float32), training=False)
        soft_update(re_encoder, encoder, 0.0)  # theta_r <- theta at the start
        re_encoder.trainable = False
        head = _built_head(2 * encoder.k, params.projection_width, model, hidden=min(2 * encoder.k, 256))
        monitor = ContrastiveMonitor("eq. (13) supervised contrastive")

        def loss(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
            s = encoder(x, training=True)
            x_hat = model.decoder(channel(s, training=True), training=True)
            s_r = re_encoder(x_hat if params.re_encoder_gradient else x_hat.detach(), training=False)
            q_s = head(torch.reshape(s, (s.shape[0], -1)))
            q_r = head(torch.reshape(s_r, (s_r.shape[0], -1)))
            term = supervised_contrastive(q_s, q_r, y, params.temperature)
            monitor.add(term, supervised_collapse_value(y))
            return alpha1 * reconstruction_loss(x, x_hat) + (1.0 - alpha1) * term

        def after_step(step: int) -> None:
            if step % params.update_every == 0:
                soft_update(re_encoder, encoder, params.beta)

        job.run([model, head], loss, job.stages["pretrain"], "SemRE", after_step=after_step, monitor=monitor)


def train_method(method: str, model: Any, channel: Any, images: np.ndarray, labels: np.ndarray, *,
                 stages: Dict[str, StageSettings], params: Any, alpha1: float, alpha2: float,
                 classifier: Any, seed: int, log: Logger, store: Optional[WeightStore] = None,
                 stage1_key: Optional[str] = None, info: Optional[Dict[str, Any]] = None,
                 before_stage: Optional[Callable[[str], None]] = None,
                 warm_start: Optional[Callable[[Any], None]] = None) -> Dict[str, Any]:
    """Train ``model`` (a :class:`~.networks.Transceiver`) in place by the registered ``method``.

    The arguments are those of :class:`TrainingJob`.
    :returns: The job's diagnostics (``{"contrastive": ...}`` for the contrastive methods).
    """
    job = TrainingJob(model, channel, images, labels, stages, params, alpha1, alpha2, classifier, seed, log, store,
                      stage1_key, info, before_stage, warm_start)
    METHODS[method].train(job)
    return job.diagnostics
