"""The four training methods of the SemCC paper's comparison, on one transceiver.

:func:`train_method` trains a :class:`~.networks.Transceiver` in place:

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
"""

from __future__ import annotations

from contextlib import nullcontext
from typing import Any, Callable, Dict, Optional

import numpy as np
import torch

from ...weights import WeightStore
from ...learning.stages import StageSettings
from ...vision.training import fit
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


def train_method(method: str, model: Any, channel: Any, images: np.ndarray, labels: np.ndarray, *,
                 stages: Dict[str, StageSettings], params: Any, alpha1: float, alpha2: float,
                 classifier: Any, seed: int, log: Logger, store: Optional[WeightStore] = None,
                 stage1_key: Optional[str] = None, info: Optional[Dict[str, Any]] = None,
                 before_stage: Optional[Callable[[str], None]] = None) -> None:
    """Train ``model`` (a :class:`~.networks.Transceiver`) by ``method``.

    :param channel: :class:`~linksim.layers.ChannelLayer` at the training SNR.
    :param images: ``uint8 [N, H, W, C]`` training images; ``labels`` ``int64 [N]``.
    :param stages: ``pretrain`` and ``finetune`` settings.
    :param params: The system's :class:`~.jscc.ImageJsccParams` (temperature, projection
        width, beta, update interval, finetune flag).
    :param classifier: The :class:`~.classifier.DownstreamClassifier` (DeepSC, SemCC).
    :param store: Where SemCC's stage-1 checkpoint is cached under ``stage1_key`` (the
        "w/o. FT" ablation and fine-tuning variants reuse it).
    :param before_stage: Called with ``"pretrain"`` or ``"finetune"`` before that stage
        (the system reseeds there, so a stage-1 checkpoint loaded from the cache and one
        trained in the same process lead to the same fine-tuned model).
    """
    from .networks import SemanticEncoder

    system = (info or {}).get("system")

    def run(models: Any, loss: Any, settings: StageSettings, name: str, stage: str = "pretrain", **kw: Any) -> None:
        if before_stage is not None:
            before_stage(stage)
        fit(models, loss, images, labels, settings, seed=seed, name=f"{system!r} {name}" if system else name,
            log=log, **kw)

    if method == "deepjscc":
        run([model], lambda x, y: reconstruction_loss(x, model.reconstruct(x, channel, training=True)), stages["pretrain"],
            "DeepJSCC")
    elif method == "deepsc":
        run([model], _eq11(model, channel, classifier, alpha2), stages["pretrain"], "DeepSC")
    elif method == "semcc":
        checkpoint = store is not None and bool(stage1_key)
        with store.claim(stage1_key) if checkpoint else nullcontext() as path:  # a parallel job may train it
            if path is not None:
                store.load_into(model, path)
                if log:
                    log(f"  SemCC stage 1 loaded from {path}")
            else:
                head = _built_head(classifier.model.feature_width, params.projection_width, model)
                backbone = classifier.model.backbone

                def stage1(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
                    x_hat = model.reconstruct(x, channel, training=True)
                    with torch.no_grad():
                        f_x = backbone(x, training=False)
                    q_x, q_hat = head(f_x), head(backbone(x_hat, training=False))
                    return alpha1 * reconstruction_loss(x, x_hat) + (1.0 - alpha1) * info_nce(q_x, q_hat, params.temperature)

                run([model, head], stage1, stages["pretrain"], "SemCC stage 1 (CL pre-training)")
                if checkpoint:
                    store.save(model, stage1_key, {"model": "image_jscc semcc stage 1", **(info or {})})
        if params.finetune:
            run([model], _eq11(model, channel, classifier, alpha2), stages["finetune"], "SemCC stage 2 (fine-tuning)",
                stage="finetune")
    elif method == "semre":
        encoder = model.encoder
        re_encoder = SemanticEncoder(encoder.k, encoder.image_shape, encoder.width)
        h, w, c = encoder.image_shape
        re_encoder(np.zeros((2, c, h, w), np.float32), training=False)
        soft_update(re_encoder, encoder, 0.0)  # theta_r <- theta at the start
        re_encoder.trainable = False
        head = _built_head(2 * encoder.k, params.projection_width, model, hidden=min(2 * encoder.k, 256))

        def loss(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
            s = encoder(x, training=True)
            x_hat = model.decoder(channel(s, training=True), training=True)
            s_r = re_encoder(x_hat, training=False)
            q_s = head(torch.reshape(s, (s.shape[0], -1)))
            q_r = head(torch.reshape(s_r, (s_r.shape[0], -1)))
            return alpha1 * reconstruction_loss(x, x_hat) + (1.0 - alpha1) * supervised_contrastive(
                q_s, q_r, y, params.temperature)

        def after_step(step: int) -> None:
            if step % params.update_every == 0:
                soft_update(re_encoder, encoder, params.beta)

        run([model, head], loss, stages["pretrain"], "SemRE", after_step=after_step)
    else:  # pragma: no cover - the Params model restricts method
        raise ValueError(f"unknown method {method!r}")
