"""Training and unlearning of the SCU paper's VIB codec.

* :func:`train_vib`: Origin (on the poisoned set ``D``) and Retrain (on ``D_r``): eq. (1)
  through the channel at the training SNR.
* :data:`UNLEARNING`: the registered unlearning methods, each run on a :class:`UnlearnJob`
  (the codec to unlearn in place, a frozen copy of it, the erased and remaining data):

  ===========  ==================================================================  ==========
  method       loss per step                                                        batches
  ===========  ==================================================================  ==========
  vbu          ``-lambda_u MSE(x_hat_e, x_e) + kl_weight KL(q_u || q_fix)``         erased
               (variational Bayesian unlearning as the authors' code: KL weight 0)
  vbu_sparse   VBU ``+ gamma ||theta||_1`` (sparsity-aware unlearning)              erased
  ju           eq. (5), SCU without its contrastive compensation                    erased
  scu          eq. (8): ``alpha1 L_JU + alpha2 L_CC`` (Algorithm 1)                 erased + remaining
  hbu          one damped diagonal-Newton ascent step on the erased loss, the       (Hessian pass
               curvature of ``D_r`` by Hutchinson's estimator (:mod:`.hessian`)     over ``D_r``)
  ===========  ==================================================================  ==========

Every method returns an :class:`UnlearnReport`: optimizer steps, *gradient samples*
(examples that went through a backward pass: SCU counts its erased and its remaining
batch, so SCU/VBU per step is exactly 2 with equal batches; HBU counts each example of
its Hessian pass twice, gradient and Hessian-vector product), and the wall time of the
unlearning alone (probes excluded).

BatchNorm: the unlearned codec runs in training mode, the fixed copy and the Hessian pass
in inference mode (the authors' code). Images ``uint8 [N, H, W, C]``, labels ``int64 [N]``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Callable, ClassVar, Dict, List, Literal, Optional, Tuple

import numpy as np
import torch

from ...learning import Batches, ClipGradNorm, Objective, PairedBatches, TrainingLoop
from ...learning.stages import StageSettings
from ...vision.training import fit
from .hessian import hbu_update, hutchinson_diagonal
from .losses import (JuWeights, cc_loss, erased_contrastive, image_mse, ju_loss, kl_gauss, total_loss,
                     vib_loss)
from .networks import VibCodec

Logger = Optional[Callable[[str], None]]
Data = Tuple[np.ndarray, np.ndarray]


def train_vib(codec: VibCodec, channel: Any, images: np.ndarray, labels: np.ndarray, settings: StageSettings, *,
              beta: float, seed: int, name: str, log: Logger) -> List[float]:
    """Eq. (1) over ``images`` through ``channel`` (the labels are not used); returns the loss per epoch."""

    def loss(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        x_hat, _, mu, logvar = codec.reconstruct(x, channel, training=True)
        return vib_loss(x, x_hat, mu, logvar, beta)

    return fit([codec], loss, images, labels, settings, seed=seed, name=name, log=log)


@dataclass(frozen=True)
class UnlearnSettings:
    """The unlearning stage: passes over ``D_e``, batch ``m``, Adam's rate, gradient-norm clip."""

    epochs: int = 5
    batch_size: int = 16
    learning_rate: float = 1e-3
    clip_norm: float = 5.0


@dataclass(frozen=True)
class UnlearnParams:
    """The knobs of the unlearning methods (defaults: ``../shared/notes/scu-unlearning-analysis.md``, U15-U25).

    :ivar beta: VIB weight of eq. (1) (the authors' code: 1e-4).
    :ivar erased_mse: ``lambda_u``, weight of ``-MSE(x_hat_e, x_e)`` (VBU, JU, SCU).
    :ivar ju: Eq. (5) preset: ``paper`` (every term weight 1) or ``reference`` (the code).
    :ivar positives: Eq. (6) positives: ``label`` (as printed) or ``self`` (the code: the
        anchor's re-encoded reconstruction).
    :ivar temperature: tau of eq. (6).
    :ivar weights: Eq. (8): ``fixed`` (``alphas``) or ``dynamic`` (the code).
    :ivar vbu_kl_weight: VBU's ``KL(q_u || q_fix)`` weight (the code: 0).
    :ivar sparsity: ``gamma`` of VBU w Sparsity (L1 on the weights' sum).
    :ivar hessian_batches: Batches of ``D_r`` in HBU's Hutchinson estimate (one probe each).
    :ivar hbu_step_size: ``eta``; ``hbu_damping``: ``lambda`` relative to the mean ``|h|``;
        ``hbu_max_ratio``: ``c``, the threshold ``||delta|| <= c ||theta||``.
    """

    beta: float = 1e-4
    erased_mse: float = 1.0
    ju: Literal["paper", "reference"] = "paper"
    positives: Literal["label", "self"] = "label"
    temperature: float = 0.1
    weights: Literal["fixed", "dynamic"] = "fixed"
    alphas: Tuple[float, float] = (1.0, 1.0)
    vbu_kl_weight: float = 0.0
    sparsity: float = 1e-5
    hessian_batches: int = 64
    hbu_step_size: float = 1.0
    hbu_damping: float = 1e-3
    hbu_max_ratio: float = 0.1


@dataclass
class UnlearnReport:
    """What an unlearning run did (stored with its weights)."""

    method: str
    steps: int
    gradient_samples: int
    wall_s: float
    extra: Dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> Dict[str, Any]:
        return {"method": self.method, "steps": self.steps, "gradient_samples": self.gradient_samples,
                "wall_s": round(self.wall_s, 4), **self.extra}


@dataclass
class UnlearnJob:
    """Everything an unlearning method needs.

    :ivar codec: The codec to unlearn (Origin's weights), changed in place.
    :ivar fixed: A frozen copy of Origin (never updated).
    :ivar channel: :class:`~linksim.layers.ChannelLayer` at the training SNR.
    :ivar erased: ``D_e`` (triggered images, target labels); ``remaining``: ``D_r``.
    :ivar probe: Called with the optimizer step every ``probe_every`` steps (and at step
        0); its time is not counted in the report.
    """

    codec: VibCodec
    fixed: VibCodec
    channel: Any
    erased: Data
    remaining: Data
    settings: UnlearnSettings
    params: UnlearnParams
    seed: int
    log: Logger = None
    probe: Optional[Callable[[int], None]] = None
    probe_every: int = 0
    _probe_s: float = 0.0

    def run_probe(self, step: int) -> None:
        if self.probe is not None and (step == 0 or (self.probe_every and step % self.probe_every == 0)):
            started = time.time()
            self.probe(step)
            self._probe_s += time.time() - started

    def loop(self, name: str, batches: Any, loss: Callable[[Tuple[torch.Tensor, ...]], torch.Tensor],
             samples: Optional[Callable[[Tuple[torch.Tensor, ...]], int]] = None) -> UnlearnReport:
        """Run the unlearning loop over ``batches`` (the fixed copy frozen, the update clipped)."""
        s = self.settings
        objective = Objective(name, [self.codec], loss, s.learning_rate, gradient_samples=samples)
        self.run_probe(0)
        loop = TrainingLoop(name, batches, [objective], epochs=s.epochs, seed=self.seed, frozen=[self.fixed],
                            transform=ClipGradNorm(s.clip_norm) if s.clip_norm > 0 else None,
                            after_step=[lambda info: self.run_probe(info.step)], log=self.log)
        report = loop.run()
        return UnlearnReport(name, report.steps[name], report.gradient_samples[name], report.wall_s - self._probe_s)

    def erased_batches(self) -> Batches:
        return Batches(list(self.erased), self.settings.batch_size)

    def remaining_batches(self) -> Batches:
        return Batches(list(self.remaining), self.settings.batch_size)


class UnlearningMethod:
    """One unlearning method, registered by name in :data:`UNLEARNING`."""

    name: ClassVar[str]
    title: ClassVar[str]

    def run(self, job: UnlearnJob) -> UnlearnReport:  # pragma: no cover - abstract
        raise NotImplementedError


UNLEARNING: Dict[str, UnlearningMethod] = {}


def register_unlearning(cls: type) -> type:
    """Class decorator registering an :class:`UnlearningMethod` under ``cls.name``."""
    if cls.name in UNLEARNING and type(UNLEARNING[cls.name]) is not cls:
        raise ValueError(f"unlearning method {cls.name!r} is already registered")
    UNLEARNING[cls.name] = cls()
    return cls


def _images(batch: Tuple[torch.Tensor, ...], first: int = 0) -> torch.Tensor:
    """The float images ``[B, C, H, W]`` of a batch of ``uint8 [B, H, W, C]`` tensors."""
    return batch[first].permute(0, 3, 1, 2).float().div(255.0)


def _through_both(job: UnlearnJob, x: torch.Tensor) -> Dict[str, torch.Tensor]:
    """The unlearned codec's pass over ``x`` and the fixed codec's Gaussian and decoding of the same ``z'``."""
    x_hat, received, mu, logvar = job.codec.reconstruct(x, job.channel, training=True)
    with torch.no_grad():
        mu_fix, logvar_fix = job.fixed.encoder(x, training=False)
        x_fix = job.fixed.decoder(received.detach(), training=False)
    return {"x_hat": x_hat, "received": received, "mu": mu, "logvar": logvar, "mu_fix": mu_fix,
            "logvar_fix": logvar_fix, "x_fix": x_fix}


def _ju(job: UnlearnJob, x_e: torch.Tensor) -> Tuple[torch.Tensor, Dict[str, torch.Tensor]]:
    out = _through_both(job, x_e)
    weights = JuWeights.preset(job.params.ju, job.params.erased_mse)
    return ju_loss(x_e, out["x_hat"], out["x_fix"], out["mu"], out["logvar"], out["mu_fix"], out["logvar_fix"],
                   weights), out


@register_unlearning
class Vbu(UnlearningMethod):
    """Variational Bayesian unlearning as the authors' code runs it: ascend the erased MSE."""

    name = "vbu"
    title = "VBU"

    def penalty(self, job: UnlearnJob) -> torch.Tensor:
        return torch.zeros(())

    def run(self, job: UnlearnJob) -> UnlearnReport:
        p = job.params

        def loss(batch: Tuple[torch.Tensor, ...]) -> torch.Tensor:
            x_e = _images(batch)
            out = _through_both(job, x_e)
            value = -p.erased_mse * image_mse(x_e, out["x_hat"]) + self.penalty(job)
            if p.vbu_kl_weight:
                value = value + p.vbu_kl_weight * torch.mean(kl_gauss(out["mu"], out["logvar"], out["mu_fix"],
                                                                      out["logvar_fix"]))
            return value

        return job.loop(self.title, job.erased_batches(), loss)


@register_unlearning
class VbuSparse(Vbu):
    """VBU with an L1 penalty ``gamma * sum |theta|`` on the codec's weights (model sparsity)."""

    name = "vbu_sparse"
    title = "VBU w Sparsity"

    def penalty(self, job: UnlearnJob) -> torch.Tensor:
        return job.params.sparsity * sum(torch.sum(torch.abs(w.value)) for w in job.codec.trainable_weights)


@register_unlearning
class JointUnlearning(UnlearningMethod):
    """Eq. (5) alone: SCU without the contrastive compensation ("SCU w/o CC")."""

    name = "ju"
    title = "SCU w/o CC"

    def run(self, job: UnlearnJob) -> UnlearnReport:
        return job.loop(self.title, job.erased_batches(), lambda batch: _ju(job, _images(batch))[0])


@register_unlearning
class Scu(UnlearningMethod):
    """Algorithm 1: per step an erased and a remaining batch, ``alpha1 L_JU + alpha2 L_CC`` (eq. 8)."""

    name = "scu"
    title = "SCU"

    def run(self, job: UnlearnJob) -> UnlearnReport:
        p = job.params

        def loss(batch: Tuple[torch.Tensor, ...]) -> torch.Tensor:
            x_e = _images(batch, 0)
            size = x_e.shape[0]  # a remaining batch of the erased batch's size (the last erased one may be short)
            x_r, y_r = _images(batch, 2)[:size], batch[3][:size]
            ju, out_e = _ju(job, x_e)
            x_hat_r, received_r, mu_r, logvar_r = job.codec.reconstruct(x_r, job.channel, training=True)
            anchors = torch.reshape(received_r, (received_r.shape[0], -1))
            negatives = torch.reshape(out_e["received"], (x_e.shape[0], -1))
            if p.positives == "label":
                contrastive = erased_contrastive(anchors, negatives, p.temperature, labels=y_r)
            else:
                mu_again, _ = job.codec.encoder(x_hat_r, training=True)
                contrastive = erased_contrastive(anchors, negatives, p.temperature,
                                                 views=torch.reshape(job.codec.encoder.symbols(mu_again),
                                                                     (x_r.shape[0], -1)))
            cc = cc_loss(contrastive, x_r, x_hat_r, mu_r, logvar_r, p.beta)
            return total_loss(ju, cc, p.weights, p.alphas)

        paired = PairedBatches(job.erased_batches(), job.remaining_batches())
        return job.loop(self.title, paired, loss, samples=lambda batch: 2 * int(batch[0].shape[0]))


@register_unlearning
class Hbu(UnlearningMethod):
    """One damped diagonal-Newton step that ascends the erased loss, the curvature from ``D_r``."""

    name = "hbu"
    title = "HBU"

    def run(self, job: UnlearnJob) -> UnlearnReport:
        p = job.params
        codec = job.codec
        params = [w.value for w in codec.trainable_weights]
        generator = torch.Generator().manual_seed(job.seed)
        job.run_probe(0)
        started = time.time()
        remaining = iter(job.remaining_batches().epoch(generator))
        hessian_samples = 0

        def remaining_loss() -> torch.Tensor:
            nonlocal remaining, hessian_samples
            try:
                batch = next(remaining)
            except StopIteration:
                remaining = iter(job.remaining_batches().epoch(generator))
                batch = next(remaining)
            x = _images(batch)
            hessian_samples += int(x.shape[0])
            x_hat, _, mu, logvar = codec.reconstruct(x, job.channel, training=False)
            return vib_loss(x, x_hat, mu, logvar, p.beta)

        diagonal = hutchinson_diagonal(remaining_loss, params, probes=p.hessian_batches, generator=generator)
        mean_abs = float(torch.mean(torch.cat([torch.abs(h).flatten() for h in diagonal])))
        erased_gradient = [torch.zeros_like(t) for t in params]
        batches = 0
        erased_samples = 0
        for batch in job.erased_batches().epoch(generator):
            x_e = _images(batch)
            x_hat, _, mu, logvar = codec.reconstruct(x_e, job.channel, training=False)
            grads = torch.autograd.grad(vib_loss(x_e, x_hat, mu, logvar, p.beta), params, allow_unused=True)
            for acc, g in zip(erased_gradient, grads):
                if g is not None:
                    acc.add_(g.detach())
            batches += 1
            erased_samples += int(x_e.shape[0])
        erased_gradient = [g / max(batches, 1) for g in erased_gradient]
        norm = hbu_update(params, erased_gradient, diagonal, step_size=p.hbu_step_size,
                          damping=p.hbu_damping * max(mean_abs, 1e-12), max_ratio=p.hbu_max_ratio)
        wall = time.time() - started
        job.run_probe(1)
        return UnlearnReport(self.title, 1, erased_samples + 2 * hessian_samples, wall,
                             {"hessian_samples": hessian_samples, "update_norm": norm})


def copy_codec(codec: VibCodec, build: Callable[[], VibCodec]) -> VibCodec:
    """A new codec from ``build()`` holding ``codec``'s weights (a frozen reference, or a start)."""
    other = build()
    other.set_weights(codec.get_weights())
    return other


def unlearn(method: str, job: UnlearnJob) -> UnlearnReport:
    """Run the registered ``method`` on ``job``; the codec is changed in place, the fixed copy is not."""
    if method not in UNLEARNING:
        raise ValueError(f"unknown unlearning method {method!r} (one of {', '.join(sorted(UNLEARNING))})")
    return UNLEARNING[method].run(job)

