"""Training of the privacy-ToSC transceivers and of the model-inversion attacker.

* :func:`train_transceiver`: cross-entropy through the differentiable channel at the
  training SNR, with the scheme's mechanism in the loop (DP noise, quantisation with
  straight-through gradients and the VQ-VAE codebook/commitment terms, VFE's KL term
  annealed in over the second tenth of the epochs); IBAL adds an adversarial term
  against a simulated inversion network trained in turn on the auxiliary half of the
  data (the kit's two objectives on paired batches: one adversary step, then one
  transceiver step, over twice the epochs so that the transceiver takes as many steps as
  the other schemes').
* :func:`train_inverter`: the eavesdropper's model inversion, MSE plus a perceptual L1
  distance on the stage outputs of a frozen ResNet, on images disjoint from the
  victim's; every batch is sent through the deployed transmitter (fresh DP noise and
  nonces) and the eavesdropper's channel.
* :func:`train_attribute_attacker`: the eavesdropper's attribute inference, cross-entropy
  on the same intercepted features of its own images.

Images enter as ``uint8 [N, H, W, C]``; the loss functions see ``[B, C, H, W]`` in [0, 1].
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any, Callable, Dict, List, Optional, Tuple

import numpy as np
import torch

from ...learning import Batches, Objective, PairedBatches, TrainingLoop
from ...learning.loop import TrainingReport
from ...learning.stages import StageSettings
from ...phy.base import snr_db_to_no
from ...vision.training import to_tensor
from .schemes import SchemeLink, vib_kl

Logger = Callable[[str], None]


@dataclass
class Regularisers:
    """The extra terms of a scheme's loss.

    :ivar ib_beta: Weight of VFE's KL term (0: none), reached after the second tenth of training.
    :ivar adversary: IBAL's simulated inversion network (None: no adversarial term).
    :ivar adversarial_weight: ``lambda`` of ``- lambda MSE(adversary(y), x)``.
    :ivar aux_images: ``uint8 [M, H, W, C]``: the adversary's training images (disjoint from the legitimate ones).
    """

    ib_beta: float = 0.0
    adversary: Any = None
    adversarial_weight: float = 0.0
    aux_images: Optional[np.ndarray] = None


def annealed(beta: float, epochs_done: int, epochs: int) -> float:
    """``beta`` ramped linearly from 0 over the second tenth of the epochs (0 before, ``beta`` after)."""
    fraction = epochs_done / max(1, epochs)
    return beta * min(1.0, max(0.0, (fraction - 0.1) / 0.1))


def transceiver_objectives(link: SchemeLink, channel: Any, settings: StageSettings, *, train_snr_db: float,
                           extra: Regularisers) -> Tuple[List[Objective], Callable[[int], None]]:
    """The objectives of a scheme's training (``[transceiver]``, or ``[adversary, transceiver]`` for IBAL)
    and the after-epoch callback that anneals the KL weight.

    Batches are ``(x, y)`` (legitimate images and labels), followed by ``(x_aux,)`` with an adversary.
    """
    model = link.model
    noise_std = math.sqrt(float(snr_db_to_no(train_snr_db)) / 2.0)
    state = {"beta": annealed(extra.ib_beta, 0, settings.epochs)}

    def task_loss(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        sent = link.transmit(x, training=True)
        received = channel(sent.tx, training=True)
        loss = torch.nn.functional.cross_entropy(link.logits(sent, received, training=True), y)
        if sent.latents is not None:
            codebook, commitment = model.quantizer.loss_terms(sent.latents, sent.indices)
            loss = loss + codebook + commitment
        if state["beta"] > 0:  # on what is sent, or on the latents of a quantised scheme
            loss = loss + state["beta"] * vib_kl(sent.tx if sent.latents is None else sent.latents, noise_std).mean()
        if extra.adversary is not None:
            guess = extra.adversary(link.listen(sent, received, straight_through=True), training=False)
            loss = loss - extra.adversarial_weight * (guess - x).square().mean()
        return loss

    def after_epoch(epoch: int) -> None:
        state["beta"] = annealed(extra.ib_beta, epoch, settings.epochs)

    decay = {"decay_every": max(1, settings.decay_every), "decay_factor": settings.decay_factor}
    objectives = [Objective("transceiver", [model], lambda b: task_loss(b[0], b[1]), settings.learning_rate, **decay)]
    if extra.adversary is not None:
        objectives.insert(0, Objective("adversary", [extra.adversary], lambda b: adversary_loss(link, channel, extra,
                                                                                               b[-1]),
                                       settings.learning_rate, **decay))
    return objectives, after_epoch


def adversary_loss(link: SchemeLink, channel: Any, extra: Regularisers, x: torch.Tensor) -> torch.Tensor:
    """IBAL's simulated adversary: MSE of its reconstruction of ``x`` from the received symbols (encoder fixed)."""
    with torch.no_grad():
        sent = link.transmit(x, training=False)
        features = link.listen(sent, channel(sent.tx, training=True))
    return (extra.adversary(features, training=True) - x).square().mean()


def train_transceiver(link: SchemeLink, channel: Any, images: np.ndarray, labels: np.ndarray,
                      settings: StageSettings, *, train_snr_db: float, extra: Regularisers, seed: int, name: str,
                      log: Optional[Logger]) -> TrainingReport:
    """Train ``link.model`` (encoder, head, codebook) in place; return the loop's report.

    :param channel: The legitimate :class:`~linksim.layers.ChannelLayer` at ``train_snr_db``.
    """
    if extra.adversary is not None:  # steps alternate: twice the passes give the transceiver as many steps
        settings = dataclasses.replace(settings, epochs=2 * settings.epochs, decay_every=2 * settings.decay_every)
    objectives, after_epoch = transceiver_objectives(link, channel, settings, train_snr_db=train_snr_db,
                                                     extra=extra)
    legit = Batches([to_tensor(images), torch.from_numpy(np.asarray(labels, dtype=np.int64))], settings.batch_size)
    if extra.adversary is None:
        loop = TrainingLoop(name, legit, objectives, epochs=settings.epochs, seed=seed, log=log,
                            after_epoch=[after_epoch])
        return loop.run()
    aux = Batches([to_tensor(extra.aux_images)], settings.batch_size)
    TrainingLoop(f"{name} (adversary pre-training)", aux, objectives[:1], epochs=1, seed=seed + 1, log=log).run()
    loop = TrainingLoop(name, PairedBatches(legit, aux), objectives, epochs=settings.epochs, seed=seed,
                        log=log, after_epoch=[after_epoch])
    return loop.run()


def perceptual_distance(net: Any, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Sum over the ResNet's three stages of the mean L1 distance of their outputs (``net`` frozen)."""
    return sum((fa - fb).abs().mean() for fa, fb in zip(net.stage_features(a, training=False),
                                                       net.stage_features(b, training=False)))


def train_inverter(inverter: Any, features_of: Callable[[torch.Tensor], torch.Tensor], images: np.ndarray,
                   settings: StageSettings, *, perceptual: Any, perceptual_weight: float, seed: int, name: str,
                   log: Optional[Logger]) -> TrainingReport:
    """Train the model-inversion network ``inverter`` in place on ``images`` (the attacker's own).

    :param features_of: ``x [B, C, H, W] -> [B, ...]`` what the eavesdropper receives of
        ``x`` sent by the victim (drawn anew per batch; no gradient to the victim).
    :param perceptual: Frozen ResNet of the perceptual term (None: MSE only).
    """
    def loss(x: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            features = features_of(x)
        guess = inverter(features, training=True)
        value = (guess - x).square().mean()
        if perceptual is not None and perceptual_weight > 0:
            value = value + perceptual_weight * perceptual_distance(perceptual, guess, x)
        return value

    batches = Batches([to_tensor(images)], settings.batch_size)
    objective = Objective("inverter", [inverter], lambda b: loss(b[0]), settings.learning_rate,
                          decay_every=max(1, settings.decay_every), decay_factor=settings.decay_factor)
    frozen: List[Any] = [perceptual] if perceptual is not None else []
    return TrainingLoop(name, batches, [objective], epochs=settings.epochs, seed=seed, log=log, frozen=frozen).run()


def train_attribute_attacker(network: Any, features_of: Callable[[torch.Tensor], torch.Tensor], images: np.ndarray,
                             targets: np.ndarray, settings: StageSettings, *, seed: int, name: str,
                             log: Optional[Logger]) -> TrainingReport:
    """Train the eavesdropper's attribute-inference ``network`` in place: cross-entropy against ``targets``
    (int64 ``[M]``) of its own ``images`` (uint8 ``[M, H, W, C]``), features drawn anew per batch."""
    def loss(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            features = features_of(x)
        return torch.nn.functional.cross_entropy(network(features, training=True), y)

    batches = Batches([to_tensor(images), torch.from_numpy(np.asarray(targets, dtype=np.int64))], settings.batch_size)
    objective = Objective("attribute attacker", [network], lambda b: loss(b[0], b[1]), settings.learning_rate,
                          decay_every=max(1, settings.decay_every), decay_factor=settings.decay_factor)
    return TrainingLoop(name, batches, [objective], epochs=settings.epochs, seed=seed, log=log).run()


def report_dict(report: TrainingReport) -> Dict[str, Any]:
    """The JSON-able record of a training report (loss history, steps, gradient samples, seconds)."""
    return report.as_dict()
