"""Training of the masked VQ-VAE and the JSCC-ViT baseline, with or without adversarial training.

By default one step per batch on every term (Algorithm 3 with its passes merged; README,
"Masked VQ-VAE"); ``schedule="interleaved"`` runs Algorithm 3's steps 3 and 4 as two whole
passes per epoch (:func:`interleaved_passes`). Per batch:

0. (``params.pretrain``) the model starts from an MAE pre-training
   (:func:`train_masked_autoencoder`: image reconstruction, eq. 12 with MSE; its encoder
   and codebook copied by :func:`~.networks.transfer_pretrained`);
1. positions: every image keeps ``round((1 - M_r) N)`` patches (:mod:`.masking`), at random,
   or (Algorithm 3 step 2, :class:`NoiseMapMasking`) from the second epoch by Gumbel-top-k
   on the noise map measured after each epoch;
2. adversarial training (Algorithm 2): half of the batch is replaced by its PGD image
   (eq. 7, against the model with an ideal link, ``K`` steps of ``alpha``) at fixed
   weights; with ``awp_gamma > 0``, one ascent step of adversarial weight perturbation
   (:class:`WeightPerturbation`) on the mixed batch, the loss below taken at
   ``theta + nu`` and ``nu`` removed after the backward pass, before the optimizer step
   (:class:`RemovePerturbation`). The systems default to ``awp_gamma = 0``: measured at
   CPU scale, AWP at 5e-3 or 1e-3 kept the masked VQ-VAE at chance (README);
3. the loss: eq. (12) with a cross-entropy first term, ``CE + ||sg(z_e) - e||^2 +
   beta ||z_e - sg(e)||^2`` (each squared norm summed over the ``D`` values, or averaged:
   ``vq_terms``), plus the orthogonality term (``orthogonality`` weight), plus
   eq. (16)'s ``gamma CE(p_FIM, z)`` with a FIM, plus eq. (17)'s similarity term
   (``similarity`` weight, :mod:`.losses`). The masked VQ-VAE is trained through
   its digital link: the indices cross the real channel at the training SNR (bits,
   16-QAM, MIMO, hard decisions) and the *received* codebook vectors reach the receiver,
   with straight-through gradients to ``z_e``. JSCC-ViT trains through its
   differentiable channel. The digital baseline's classifier
   (:class:`~.networks.ViTClassifier`) trains on the images themselves: its link (JPEG,
   LDPC, QAM) is not differentiable and lies before it.

:func:`train_reconstruction_decoder` (Fig. 11(b)) is a separate, later stage: a
:class:`~.networks.ReconstructionDecoder` learns to rebuild the image from the tokens a
trained masked VQ-VAE's receiver gets, with the transmitter, codebook and receiver frozen
(bit-identical afterwards), from scratch or from the MAE pre-training's decoder.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, List, Optional, Sequence

import numpy as np
import torch

from ...adversarial import WeightPerturbation, pgd_linf
from ...learning.loop import Batches, GradientTransform, Objective, TrainingLoop, TrainingReport
from ...learning.stages import StageSettings
from ...phy.base import snr_db_to_no
from .codebook import orthogonality_loss, straight_through
from .losses import semantic_similarity_loss
from .index_link import IndexLink
from .masking import kept_positions
from .networks import JsccViT, MaskedAutoencoder, MaskedVQVAE, ReconstructionDecoder, ViTClassifier, all_positions


@dataclass(frozen=True)
class AdversarialTraining:
    """Algorithm 2's settings: PGD (eq. 7) at ``epsilon`` with ``steps`` of ``step_size``
    on ``fraction`` of each batch, and the weight-perturbation budget ``awp_gamma`` (0: none)."""

    epsilon: float = 0.012
    steps: int = 5
    step_size: Optional[float] = None  # default epsilon / 2
    fraction: float = 0.5
    awp_gamma: float = 0.0

    def alpha(self) -> float:
        return self.epsilon / 2 if self.step_size is None else self.step_size


@dataclass(frozen=True)
class Objectives:
    """Loss weights: ``orthogonality`` (Fig. 10's codebook term), ``fim_gamma`` (eq. 16's
    gamma) and ``similarity`` (eq. 17's, :func:`~.losses.semantic_similarity_loss`; 0: off);
    ``vq_terms``: how eq. (12)'s codebook and commitment terms reduce each token's values
    (:meth:`~.codebook.VectorQuantizer.loss_terms`: ``sum`` or ``mean``)."""

    orthogonality: float = 1.0
    fim_gamma: float = 1.0
    vq_terms: str = "sum"
    similarity: float = 0.0


#: The training schedules of the masked VQ-VAE (:func:`train_classifier_link`).
SCHEDULES = ("merged", "interleaved")


class RemovePerturbation(GradientTransform):
    """Takes the adversarial weight perturbation off after the backward pass, before the step."""

    def __init__(self, awp: WeightPerturbation) -> None:
        self.awp = awp

    def apply(self, params: Sequence[torch.nn.Parameter]) -> None:
        self.awp.restore()


def _cross_entropy(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    return torch.nn.functional.cross_entropy(logits, labels)


def adversarial_batch(loss_of: Callable[[torch.Tensor, torch.Tensor], torch.Tensor], images: torch.Tensor,
                      labels: torch.Tensor, settings: AdversarialTraining) -> torch.Tensor:
    """``images`` with their first ``fraction`` replaced by PGD images (eq. 7) against ``loss_of``."""
    count = int(round(settings.fraction * images.shape[0]))
    if count == 0:
        return images
    head, head_labels = images[:count], labels[:count]
    attacked = pgd_linf(lambda x: loss_of(x, head_labels) * count, head, settings.epsilon, settings.steps,
                        settings.alpha())
    return torch.cat([attacked, images[count:]])


@dataclass
class NoiseMapMasking:
    """Algorithm 3 step 2, training on the noise map: the first epoch masks at random; after
    every epoch ``measure`` gives the noise map ``[N]`` of the model as it is then
    (:func:`~.masking.measure_noise_map`), and the next epoch keeps patches by Gumbel-top-k
    on ``-temperature a_i / mean(a)`` (:func:`~.masking.kept_positions`). ``maps`` collects
    the measured maps, one per epoch."""

    measure: Callable[[], torch.Tensor]
    temperature: float = 1.0
    maps: List[torch.Tensor] = field(default_factory=list)

    def after_epoch(self, epoch: int) -> None:
        self.maps.append(self.measure())

    @property
    def scores(self) -> Optional[torch.Tensor]:
        """The latest map (None before the first epoch ends: random masking)."""
        return self.maps[-1] if self.maps else None


def train_classifier_link(model: Any, images: np.ndarray, labels: np.ndarray, settings: StageSettings, *,
                          snr_db: float, masking_ratio: float, link: Optional[IndexLink],
                          adversarial: Optional[AdversarialTraining], weights: Objectives, seed: int, name: str,
                          noise_map: Optional[NoiseMapMasking] = None, schedule: str = "merged",
                          log: Optional[Callable[[str], None]] = None) -> TrainingReport:
    """Train a :class:`~.networks.MaskedVQVAE` (through ``link``), a :class:`~.networks.JsccViT`
    (through its channel layer) or a :class:`~.networks.ViTClassifier` (on the images; ``snr_db``
    unused) on ``images`` ``[N, C, H, W]`` float in [0, 1], ``labels`` ``[N]``.

    ``noise_map`` (masked VQ-VAE only): mask by the noise map from the second epoch on
    (:class:`NoiseMapMasking`); None: random masking throughout.

    ``schedule`` (masked VQ-VAE only): ``merged``, one optimizer step per batch on the sum of
    every term; ``interleaved``, Algorithm 3's steps 3 and 4 as two passes over the data per
    epoch, each with its own Adam: first the codebook pass (eq. 12 with the cross-entropy and
    the orthogonality term; encoder without its FIM, codebook and receiver move), then the
    FIM pass (eqs. 16 + 17: cross-entropy, ``fim_gamma`` times the FIM's, ``similarity``
    times eq. 17; FIM, encoder and receiver move, the codebook does not). Twice the steps of
    ``merged`` for the same epochs; the learning rate decays on the same epochs."""
    if schedule not in SCHEDULES:
        raise ValueError(f"schedule must be one of {SCHEDULES}, got {schedule!r}")
    masks = torch.Generator().manual_seed(seed + 1)
    mu_value = snr_db / 10.0
    is_vq = isinstance(model, MaskedVQVAE)
    is_classifier = isinstance(model, ViTClassifier)
    if is_vq and link is None:
        raise ValueError("the masked VQ-VAE trains through its index link")
    awp = WeightPerturbation([w.value for w in model.trainable_weights], adversarial.awp_gamma) \
        if adversarial is not None and adversarial.awp_gamma > 0 else None

    def positions_for(batch: int) -> torch.Tensor:
        if not is_vq:
            return all_positions(batch, model.num_positions)
        if noise_map is not None and noise_map.scores is not None:
            return kept_positions(batch, model.num_positions, masking_ratio, masks, scores=noise_map.scores,
                                  temperature=noise_map.temperature)
        return kept_positions(batch, model.num_positions, masking_ratio, masks)

    def mu_for(batch: int) -> torch.Tensor:
        return torch.full((batch,), mu_value)

    def ideal_loss(x: torch.Tensor, y: torch.Tensor, positions: torch.Tensor) -> torch.Tensor:
        if is_classifier:
            return _cross_entropy(model(x), y)
        if is_vq:
            return _cross_entropy(model.noiseless_logits(x, positions, mu_for(x.shape[0])), y)
        return _cross_entropy(model.logits(x, ideal=True, mu=mu_for(x.shape[0])), y)

    def link_loss(x: torch.Tensor, y: torch.Tensor, positions: torch.Tensor, terms: str = "all") -> torch.Tensor:
        """The loss through the link; ``terms``: ``all`` (merged), ``vq`` (eq. 12 + orthogonality)
        or ``fim`` (eqs. 16 + 17) for the masked VQ-VAE's interleaved passes."""
        batch = x.shape[0]
        if is_classifier:  # the digital link lies before the classifier
            return _cross_entropy(model(x), y)
        if not is_vq:
            x_sym, aux = model.symbols(x, mu_for(batch))
            logits = model.logits_from_symbols(model.channel(x_sym, snr_db=snr_db))
            loss = _cross_entropy(logits, y)
        else:
            z_e, aux = model.encode(x, positions, mu_for(batch))
            indices = model.quantizer.indices(z_e.detach())
            with torch.no_grad():
                received = link.transmit(indices, float(snr_db_to_no(snr_db))).indices
            logits = model.receiver(straight_through(z_e, model.quantizer.lookup(received)), positions)
            loss = _cross_entropy(logits, y)
            if terms != "fim":
                codebook, commitment = model.quantizer.loss_terms(z_e, indices, weights.vq_terms)
                loss = loss + codebook + commitment
                if weights.orthogonality > 0:
                    loss = loss + weights.orthogonality * orthogonality_loss(model.quantizer.codebook)
            if terms != "vq" and weights.similarity > 0:
                loss = loss + weights.similarity * semantic_similarity_loss(z_e)
        if aux is not None and terms != "vq":
            loss = loss + weights.fim_gamma * _cross_entropy(aux, y)
        return loss

    def loss_of(terms: str) -> Callable[[Any], torch.Tensor]:
        def loss(batch: Any) -> torch.Tensor:
            x, y = batch
            x = x.float()
            positions = positions_for(x.shape[0])
            if adversarial is not None:
                n_adv = int(round(adversarial.fraction * x.shape[0]))
                x = adversarial_batch(lambda v, t: ideal_loss(v, t, positions[:n_adv]), x, y, adversarial)
                if awp is not None:
                    awp.perturb(lambda: ideal_loss(x, y, positions))
            return link_loss(x, y, positions, terms)
        return loss

    data = Batches([torch.as_tensor(images), torch.as_tensor(labels).long()], settings.batch_size)
    epochs = settings.epochs
    if schedule == "interleaved" and is_vq:
        passes = interleaved_passes(model, data, loss_of, settings)
        objectives, epochs = passes, 2 * settings.epochs
    else:
        objectives = [Objective("model", [model], loss_of("all"), settings.learning_rate,
                                decay_every=settings.decay_every, decay_factor=settings.decay_factor)]
    loop = TrainingLoop(name, data, objectives, epochs=epochs, seed=seed,
                        transform=RemovePerturbation(awp) if awp is not None else None,
                        after_epoch=[noise_map.after_epoch] if noise_map is not None and is_vq else (), log=log)
    return loop.run()


def interleaved_passes(model: MaskedVQVAE, data: Batches, loss_of: Callable[[str], Callable[[Any], torch.Tensor]],
                       settings: StageSettings) -> List[Objective]:
    """Algorithm 3's steps 3 and 4 as two objectives that take turns a whole pass over ``data``
    each (so the loop runs twice the epochs): the codebook pass (``loss_of("vq")``: the encoder
    without its FIM, the codebook and the receiver) and the FIM pass (``loss_of("fim")``: the
    FIM, the encoder and the receiver). Each has its own Adam; learning rates decay every
    ``2 decay_every`` loop epochs, i.e. on the stage's epochs."""
    encoder = model.encoder
    fim = list(encoder.fim.trainable_weights) if encoder.fim is not None else []
    fim_ids = {id(w) for w in fim}
    trunk = [w for w in encoder.trainable_weights if id(w) not in fim_ids]
    receiver = list(model.receiver.trainable_weights)
    vq = WeightGroup(trunk + list(model.quantizer.trainable_weights) + receiver)
    task = WeightGroup(fim + trunk + receiver)
    batches = sum(1 for first in range(0, data.size, data.batch_size)
                  if min(data.batch_size, data.size - first) >= data.min_batch)
    decay = 2 * settings.decay_every if settings.decay_every > 0 else 0
    return [Objective("codebook pass (eq. 12)", [vq], loss_of("vq"), settings.learning_rate, decay_every=decay,
                      decay_factor=settings.decay_factor, steps=batches),
            Objective("FIM pass (eqs. 16 + 17)", [task], loss_of("fim"), settings.learning_rate, decay_every=decay,
                      decay_factor=settings.decay_factor, steps=batches)]


@dataclass
class WeightGroup:
    """Some of a model's weights, for an :class:`~linksim.learning.loop.Objective` that moves only those."""

    trainable_weights: List[Any]


def train_masked_autoencoder(model: MaskedAutoencoder, images: torch.Tensor, settings: StageSettings, *,
                             snr_db: float, masking_ratio: float, link: IndexLink, weights: Objectives, seed: int,
                             name: str, log: Optional[Callable[[str], None]] = None) -> TrainingReport:
    """The MAE pre-training (paper Sec. III-A, Algorithm 3's "pre-trained masked VQ-VAE"):
    ``model`` (:class:`~.networks.MaskedAutoencoder`) learns to rebuild ``images``
    ``[N, C, H, W]`` (float in [0, 1]) from the codebook vectors of their kept patches.

    Per batch: random MAE masking at ``masking_ratio``; the encoder's ``z_e`` at the kept
    positions, their indices sent through ``link`` at ``snr_db`` (bits, 16-QAM, the channel,
    hard decisions; no gradient), the *received* codebook vectors with straight-through
    gradients to ``z_e`` -> the decoder; the loss is eq. (12) with the mean squared error per
    pixel (over the whole image) as its first term, plus the codebook terms of ``weights``
    (orthogonality, the reduction of eq. 12's terms; its ``fim_gamma`` is unused), as the
    classifier stage adds them.
    """
    masks = torch.Generator().manual_seed(seed + 1)
    no = float(snr_db_to_no(snr_db))

    def loss(batch: Any) -> torch.Tensor:
        (x,) = batch
        x = x.float()
        positions = kept_positions(x.shape[0], model.num_positions, masking_ratio, masks)
        z_e, _ = model.encoder(x, positions)
        indices = model.quantizer.indices(z_e.detach())
        with torch.no_grad():
            received = link.transmit(indices, no).indices
        output = model.decoder(straight_through(z_e, model.quantizer.lookup(received)), positions)
        codebook, commitment = model.quantizer.loss_terms(z_e, indices, weights.vq_terms)
        value = torch.nn.functional.mse_loss(output, x) + codebook + commitment
        if weights.orthogonality > 0:
            value = value + weights.orthogonality * orthogonality_loss(model.quantizer.codebook)
        return value

    data = Batches([torch.as_tensor(images)], settings.batch_size)
    objective = Objective("pretrain", [model], loss, settings.learning_rate, decay_every=settings.decay_every,
                          decay_factor=settings.decay_factor)
    return TrainingLoop(name, data, [objective], epochs=settings.epochs, seed=seed, log=log).run()


def train_reconstruction_decoder(model: MaskedVQVAE, decoder: ReconstructionDecoder, images: torch.Tensor,
                                 settings: StageSettings, *, snr_db: float, masking_ratio: float, link: IndexLink,
                                 seed: int, name: str, log: Optional[Callable[[str], None]] = None) -> TrainingReport:
    """Train ``decoder`` to rebuild ``images`` ``[N, C, H, W]`` (float in [0, 1]) from what the
    frozen masked VQ-VAE ``model`` delivers through ``link`` at ``snr_db``.

    Per batch: random MAE masking at ``masking_ratio`` (as the classifier was trained), the
    transmitter's indices (no gradient), the real digital link (bits, 16-QAM, the channel, hard
    decisions), the *received* codebook vectors -> ``decoder`` -> the mean squared error per
    pixel against the clean image. ``model`` is frozen (not trainable during the loop, in no
    optimizer): its weights are bit-identical afterwards. ``decoder`` may start from scratch
    (post-hoc) or from the MAE pre-training's decoder (:func:`~.networks.transfer_decoder`).
    """
    masks = torch.Generator().manual_seed(seed + 1)
    no = float(snr_db_to_no(snr_db))

    def loss(batch: Any) -> torch.Tensor:
        (x,) = batch
        x = x.float()
        positions = kept_positions(x.shape[0], model.num_positions, masking_ratio, masks)
        with torch.no_grad():
            z_e, _ = model.encode(x, positions, torch.full((x.shape[0],), snr_db / 10.0))
            received = link.transmit(model.quantizer.indices(z_e), no).indices
            vectors = model.quantizer.lookup(received)
        return torch.nn.functional.mse_loss(decoder(vectors, positions), x)

    data = Batches([torch.as_tensor(images)], settings.batch_size)
    objective = Objective("decoder", [decoder], loss, settings.learning_rate, decay_every=settings.decay_every,
                          decay_factor=settings.decay_factor)
    loop = TrainingLoop(name, data, [objective], epochs=settings.epochs, seed=seed, frozen=[model], log=log)
    return loop.run()


__all__ = ["AdversarialTraining", "NoiseMapMasking", "Objectives", "SCHEDULES", "WeightGroup", "interleaved_passes", "RemovePerturbation", "adversarial_batch",
           "train_classifier_link", "train_masked_autoencoder", "train_reconstruction_decoder", "JsccViT",
           "MaskedVQVAE", "ReconstructionDecoder", "ViTClassifier"]
