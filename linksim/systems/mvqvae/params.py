"""The parameters of the registered ``masked_vqvae`` system (:mod:`.system`): its ``params:``
and ``training:`` blocks, the training presets, and the checks of sweep points that select or
probe a model (:func:`model_point`, :func:`check_feature`, :func:`check_receiver_attack`).

Every field's description is what ``linksim schema`` shows; the defaults are the analysis
note's (``../shared/notes/masked-vqvae-analysis.md``) at CPU scale.
"""

from __future__ import annotations

from typing import Any, ClassVar, Dict, Literal, Mapping, NamedTuple, Optional

from pydantic import Field, ValidationInfo, field_validator, model_validator

from ...errors import UserError
from ...learning.stages import StageSettings
from ...learning.training_block import DecayingStageOverride, TrainingBlock
from ...registry import ParamsModel
from .digital import DigitalParams

#: Training images at CPU scale (the first of the training split).
CPU_TRAIN_IMAGES = 5000
#: CPU scale (analysis note, sec. 7): 10 epochs of batch 64, Adam 1e-3 halved every 4 epochs; the
#: reconstruction decoder (a later stage, the classifier frozen): 20 epochs, Adam 2e-3 halved every 8.
#: The MAE pre-training (``params.pretrain``): 10 epochs of batch 64, Adam 1e-3 halved every 4.
CPU_STAGES: Dict[str, StageSettings] = {"model": StageSettings(10, 64, 1e-3, 4, 0.5),
                                        "decoder": StageSettings(20, 64, 2e-3, 8, 0.5),
                                        "pretrain": StageSettings(10, 64, 1e-3, 4, 0.5)}
#: The paper's 50 epochs of batch 128 (its SGD 0.01 replaced by Adam, linksim's optimizer).
PAPER_STAGES: Dict[str, StageSettings] = {"model": StageSettings(50, 128, 1e-3, 20, 0.5),
                                          "decoder": StageSettings(50, 128, 1e-3, 20, 0.5),
                                          "pretrain": StageSettings(100, 128, 1e-3, 40, 0.5)}
QUICK_STAGES: Dict[str, StageSettings] = {"model": StageSettings(1, 32, 1e-3),
                                          "decoder": StageSettings(2, 32, 3e-3),
                                          "pretrain": StageSettings(1, 32, 1e-3)}


#: ``params.preset: paper`` (analysis note, "Architecture", paper preset): the paper's 224x224
#: images (CIFAR-10 upsampled) in 16x16 patches, a ViT of 14 blocks and 12 heads (width 768,
#: ViT-B's), a codebook of dimension 256 (D >= J, so orthogonality is attainable), the task
#: head's FC width 512, MLPs 4 x the width (ViT-B's); for a GPU. Fields the scenario gives win.
PAPER_ARCH: Dict[str, Any] = {"patch": 16, "image_size": 224, "width": 768, "depth": 14, "heads": 12, "mlp_ratio": 4,
                              "hidden": 512, "codebook_dim": 256}
#: The MAE decoder at the paper preset (8 blocks x 512, MAE's), for ``pretrain`` and ``reconstruction``.
PAPER_DECODER: Dict[str, Any] = {"width": 512, "depth": 8, "heads": 16}


def training_spec(params: "MaskedVqvaeParams", training: Optional[Mapping[str, Any]]) -> Dict[str, Any]:
    """The ``training:`` block to validate: as given, with ``preset: paper`` added when the
    parameters' preset is ``paper`` and the block names none."""
    spec = dict(training or {})
    if params.preset == "paper":
        spec.setdefault("preset", "paper")
    return spec


class ModelPoint(NamedTuple):
    """What selects the masked VQ-VAE serving a sweep point: codebook size ``J`` and masking ratio ``M_r``
    (the other schemes have neither: one model for every point, at the parameters' values)."""

    codebook_size: int
    masking_ratio: float


class StageParams(DecayingStageOverride):
    """Overrides of the training stage."""


class TrainingParams(TrainingBlock):
    """The system's ``training:`` block."""

    PRESETS: ClassVar[Mapping[str, Mapping[str, StageSettings]]] = {
        "cpu": CPU_STAGES, "paper": PAPER_STAGES, "quick": QUICK_STAGES}

    model: Optional[StageParams] = None
    decoder: Optional[StageParams] = Field(None, description="the reconstruction decoder's stage (Fig. 11(b); "
                                                             "default: cpu 20 epochs of batch 64, Adam 2e-3 halved "
                                                             "every 8)")
    pretrain: Optional[StageParams] = Field(None, description="the MAE pre-training (params.pretrain; default: cpu "
                                                              "10 epochs of batch 64, Adam 1e-3 halved every 4)")
    num_train: Optional[int] = Field(None, ge=16, le=10**7, description=f"training images (default: cpu "
                                                                        f"{CPU_TRAIN_IMAGES}, paper all)")


class AttackParams(ParamsModel):
    """PGD at test time (eq. 7): ``steps`` sign steps of ``step_size`` (default 2.5 epsilon / steps)."""

    steps: int = Field(10, ge=1, le=1000)
    step_size: Optional[float] = Field(None, gt=0, le=1)


class ReceiverAttackParams(ParamsModel):
    """Semantic noise at the receiver (sweep ``ssnr_db``): one perturbation ``dx`` per model, sent by an
    attacker with ``antennas`` antennas through its own i.i.d. Rayleigh channel. ``perturbation:
    universal`` is Algorithm 1's, from ``samples`` training images and ``steps`` ascent steps each;
    ``gaussian``, the reference, is i.i.d. CN(0, 1) (seeded), received at the same SSNR."""

    perturbation: Literal["universal", "gaussian"] = Field("universal", description="Algorithm 1's dx, or a "
                                                                                     "random one of the same power")

    samples: int = Field(256, ge=1, le=100000, strict=True, description="N: training images of Algorithm 1")
    steps: int = Field(10, ge=1, le=1000, strict=True, description="K: ascent steps per image")
    rho: float = Field(1.0, gt=0, le=100, description="weight of each image's direction in the sum")
    antennas: int = Field(8, ge=1, le=64, strict=True, description="the attacker's transmit antennas (na)")


class AdversarialParams(ParamsModel):
    """Adversarial training (Algorithm 2): PGD at ``epsilon`` with ``steps`` on half of each batch, and
    optionally adversarial weight perturbation (step 2; off by default, see ``awp_gamma``)."""

    epsilon: float = Field(0.012, ge=0, le=1, description="L-inf budget on [0, 1] pixels (0.012 ~ 3/255)")
    steps: int = Field(5, ge=1, le=100)
    awp_gamma: float = Field(0.0, ge=0, le=1, description="adversarial weight perturbation budget gamma (0: "
                                                           "none, the default: at 5e-3 and 1e-3 it kept the masked "
                                                           "VQ-VAE at chance at CPU scale, README)")


class NoiseMapParams(ParamsModel):
    """The noise map of ``masking: noise_map`` (analysis note, "Masking"): per patch position, how
    much the encoder's token ``z_e`` moves when the image carries semantic noise, measured once
    per model on the unmasked encoder (all ``N`` positions kept) with the first ``samples``
    training images against their PGD copies (eq. 7 at ``epsilon``, ``steps`` sign steps of
    2.5 epsilon / steps, white box against the model with an ideal link). Shared by both ends:
    no side information."""

    score: Literal["displacement", "relative_displacement", "index_change"] = Field(
        "displacement", description="displacement: mean ||z_e(s') - z_e(s)||_2 per position (the analysis note's "
                                    "a_i); relative_displacement: the same over ||z_e(s)||_2; index_change: the "
                                    "share of images whose codebook index at the position changes")
    epsilon: float = Field(0.012, gt=0, le=1, description="L-inf PGD budget of the map (pixels in [0, 1])")
    steps: int = Field(10, ge=1, le=1000, strict=True, description="PGD steps of the map")
    samples: int = Field(256, ge=1, le=100000, strict=True,
                         description="training images the map averages over (quick runs: at most 32)")
    temperature: Optional[float] = Field(
        None, ge=0, le=100, description="null: keep the round((1 - M_r) N) positions of lowest score, the same for "
                                        "every image; tau >= 0: per image, Gumbel-top-k on -tau a_i / mean(a) "
                                        "(the analysis note's training sampler at tau = 1; tau = 0 is random)")
    train_temperature: Optional[float] = Field(
        None, ge=0, le=100, description="null: the model trains with random masking (every shipped model but "
                                        "mvqvae_noise_map's 'trained on the map'); tau >= 0: Algorithm 3 step 2, "
                                        "the model trains on the map: random masking in the first epoch, then "
                                        "Gumbel-top-k on -tau a_i / mean(a) with the map re-measured (these "
                                        "settings) after every epoch; keys the weights")


class ReconstructionParams(ParamsModel):
    """The reconstruction decoder of Fig. 11(b) (scheme mvqvae): an MAE-style Transformer from the
    receiver's token grid (received codebook vectors at the kept positions, a learned mask token
    elsewhere, learned positions) to pixels, trained with MSE after the classifier, whose
    transmitter, codebook and receiver stay frozen (its stage: ``training.decoder``): from the
    MAE pre-training decoder when the model has one of this architecture, else from scratch
    (post-hoc). The analysis note: 8 blocks x 512 at the paper's scale, 2 x 64 at CPU scale."""

    width: int = Field(64, ge=4, le=2048, strict=True, description="decoder width")
    depth: int = Field(2, ge=1, le=48, strict=True, description="decoder Transformer blocks")
    heads: int = Field(4, ge=1, le=64, strict=True, description="attention heads (a divisor of width)")

    @model_validator(mode="after")
    def _heads_divide_width(self) -> "ReconstructionParams":
        if self.width % self.heads:
            raise ValueError(f"heads: width {self.width} is not a multiple of {self.heads} heads")
        return self


class PretrainParams(ReconstructionParams):
    """The MAE pre-training (paper Sec. III-A, Fig. 2(a); scheme mvqvae): before the task,
    the masked encoder and the codebook learn, with a reconstruction decoder of this
    architecture, to rebuild the image from the received codebook vectors of its kept patches
    (eq. 12 with MSE, through the link at the training SNR, random masking; its stage:
    ``training.pretrain``); the task then starts from that encoder and codebook. One
    pre-training (its own weights file, without FIM) serves the models with and without FIM."""


class MaskedVqvaeParams(ParamsModel):
    """Parameters of ``masked_vqvae`` (defaults: ``../shared/notes/masked-vqvae-analysis.md``, CPU preset;
    ``preset: paper`` sets :data:`PAPER_ARCH` and :data:`PAPER_DECODER` where the scenario is silent)."""

    preset: Literal["cpu", "paper"] = Field(
        "cpu", description="cpu (the architecture defaults below: a ViT of width 64 on the data's own images) or paper "
                           "(for a GPU: images resized to 224, patch 16, ViT width 768, 14 blocks, 12 heads, codebook "
                           "dimension 256, FC width 512, MAE decoders 8 x 512, and training: {preset: paper} unless "
                           "the training block names a preset); fields given here win")
    image_size: Optional[int] = Field(None, ge=4, le=4096, strict=True,
                                      description="the ViT sees each image resized to image_size x image_size "
                                                  "(bicubic up, area down; the paper's CIFAR-10 at 224); null: as "
                                                  "the data has it. Attacks perturb the data's own pixels")

    scheme: Literal["mvqvae", "jscc", "digital"] = Field(
        "mvqvae", description="mvqvae (masked VQ-VAE, digital indices), jscc (JSCC-ViT, analog symbols) or digital "
                              "(the JPEG + LDPC + QAM baseline with a ViT classifier at the receiver)")
    fim: bool = Field(False, description="feature importance module (eqs. 13-16; not with scheme: digital)")
    digital: Optional[DigitalParams] = Field(None, description="scheme: digital only: JPEG quality, LDPC rate, QAM "
                                                               "order (default: q 75, rate 1/2, 16-QAM)")
    adversarial: Optional[AdversarialParams] = Field(None, description="adversarial training (null: none)")
    masking_ratio: float = Field(0.5, ge=0, lt=1, description="M_r in [0, 1) (mvqvae)")
    masking: Literal["random", "noise_map"] = Field(
        "random", description="which round((1 - M_r) N) patches the transmitter sends (mvqvae): random (MAE: a "
                              "uniform subset per image) or noise_map (those whose encoder tokens move least under "
                              "semantic noise, params.noise_map). By default a test-time setting (the model trains, "
                              "and its weights are keyed, with random masking); noise_map.train_temperature also "
                              "trains it on the map (Algorithm 3 step 2)")
    noise_map: Optional[NoiseMapParams] = Field(None, description="masking: noise_map only: how the map is measured "
                                                                  "and used (default: displacement under PGD at "
                                                                  "0.012, 256 training images, lowest scores kept)")
    patch: int = Field(4, ge=1, le=64, strict=True, description="patch side in pixels")
    codebook_size: int = Field(256, ge=2, le=65536, strict=True, description="J, a power of two (mvqvae)")
    codebook_dim: int = Field(32, ge=1, le=1024, strict=True, description="D: codebook vector length")
    width: int = Field(64, ge=4, le=2048, strict=True)
    depth: int = Field(4, ge=1, le=48, strict=True)
    heads: int = Field(4, ge=1, le=64, strict=True)
    mlp_ratio: int = Field(2, ge=1, le=16, strict=True, description="each encoder block's MLP width over the ViT "
                                                                   "width (paper preset: 4, ViT-B's)")
    hidden: int = Field(128, ge=4, le=8192, strict=True, description="width of the receiver's FC layers")
    orthogonality: float = Field(1.0, ge=0, le=100, description="weight of the codebook orthogonality term")
    similarity: float = Field(0.0, ge=0, le=100, description="weight of eq. (17)'s semantic-similarity loss on the "
                                                              "encoded features (scheme mvqvae; the paper gives none; "
                                                              "0: off, every shipped model but mvqvae_snr's "
                                                              "'Algorithm 3')")
    schedule: Literal["merged", "interleaved"] = Field(
        "merged", description="scheme mvqvae: merged (one step per batch on every loss term, the shipped models) or "
                              "interleaved (Algorithm 3: per epoch a codebook pass, eq. 12, then a FIM pass, eqs. 16 "
                              "+ 17; twice the steps)")
    vq_terms: Literal["sum", "mean"] = Field(
        "sum", description="eq. (12)'s codebook and commitment terms per token: sum (the squared norm over the D "
                           "values, as eq. 12 writes it; every shipped model but mvqvae_codebook's 'per value') or "
                           "mean (divided by D, as VQ-VAE implementations commonly do; at J = 4 the sum lets the "
                           "commitment term collapse the encoder to one code, README)")
    fim_gamma: float = Field(1.0, ge=0, le=100, description="gamma of eq. (16)")
    train_snr_db: float = Field(3.0, ge=-30, le=60, description="training SNR in dB (the paper: 3)")
    epsilon: float = Field(0.0, ge=0, le=1, description="test-time PGD budget when the sweep does not set it")
    attack: AttackParams = Field(default_factory=AttackParams)
    receiver_attack: ReceiverAttackParams = Field(default_factory=ReceiverAttackParams)
    ideal_channel: bool = Field(False, description="no channel at test time (Fig. 4(b)'s upper bound)")
    train_channel: Optional[Dict[str, Any]] = Field(
        None, description="the channel the model trains through, which keys its weights (default: the evaluated "
                          "channel); e.g. a model trained on SVD 1 stream evaluated over 2 or 4 streams or "
                          "precoding: none (not scheme: digital, whose classifier trains without a channel)")
    pretrain: Optional[PretrainParams] = Field(
        None, description="scheme mvqvae: MAE pre-training before the task (Sec. III-A; {} for the defaults: a "
                          "decoder of width 64, 2 blocks, 4 heads); null: the task trains from scratch (the shipped "
                          "models but mvqvae_pretrain's)")
    reconstruction: Optional[ReconstructionParams] = Field(
        None, description="scheme mvqvae: the reconstruction decoder of Fig. 11(b) (metrics psnr, ssim, mse and "
                          "samples:), trained after the classifier with it frozen; null: the defaults (width 64, 2 "
                          "blocks, 4 heads) when those metrics or samples ask for it")
    gallery_images: int = Field(1000, ge=1, le=10**6, strict=True,
                                description="retrieval (metric recall_at_1, Fig. 11(a)): the first test images form "
                                            "the clean gallery, the queries are drawn from the others")
    threads: Optional[int] = Field(None, ge=1, le=1024)

    @model_validator(mode="before")
    @classmethod
    def _paper_preset(cls, data: Any) -> Any:
        if isinstance(data, dict) and data.get("preset") == "paper":
            data = {**PAPER_ARCH, **data}
            for name in ("pretrain", "reconstruction"):
                if isinstance(data.get(name), dict):
                    data[name] = {**PAPER_DECODER, **data[name]}
        return data

    @field_validator("reconstruction")
    @classmethod
    def _reconstruction_needs_codebook(cls, value: Optional[ReconstructionParams],
                                       info: ValidationInfo) -> Optional[ReconstructionParams]:
        scheme = info.data.get("scheme")
        if value is not None and scheme != "mvqvae":
            raise ValueError(f"the reconstruction decoder reads the masked VQ-VAE's received codebook vectors; scheme "
                             f"{scheme!r} has none (use scheme: mvqvae)")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> "MaskedVqvaeParams":
        if self.image_size is not None and self.image_size % self.patch:
            raise ValueError(f"image_size: {self.image_size} is not a multiple of the patch {self.patch}")
        if self.codebook_size & (self.codebook_size - 1):
            raise ValueError(f"codebook_size: {self.codebook_size} is not a power of two (indices are sent as "
                             "log2 J bits)")
        if self.width % self.heads:
            raise ValueError(f"heads: width {self.width} is not a multiple of {self.heads} heads")
        if self.digital is not None and self.scheme != "digital":
            raise ValueError(f"digital: the JPEG + LDPC settings need scheme: digital (scheme is {self.scheme!r})")
        if self.fim and self.scheme == "digital":
            raise ValueError("fim: the digital baseline's ViT classifier has no feature importance module")
        if self.masking == "noise_map" and self.scheme != "mvqvae":
            raise ValueError(f"masking: noise_map chooses the patches the masked VQ-VAE sends; scheme "
                             f"{self.scheme!r} sends every patch (use scheme: mvqvae)")
        if self.noise_map is not None and self.masking != "noise_map":
            raise ValueError("noise_map: these settings need masking: noise_map (masking is 'random')")
        if self.train_channel is not None and self.scheme == "digital":
            raise ValueError("train_channel: the digital baseline's classifier trains on images, without a channel")
        if self.scheme != "mvqvae" and (self.similarity > 0 or self.schedule != "merged"):
            field = "similarity" if self.similarity > 0 else "schedule"
            raise ValueError(f"{field}: eq. (17) and Algorithm 3's passes train the masked VQ-VAE; scheme "
                             f"{self.scheme!r} has neither codebook nor masked features (use scheme: mvqvae)")
        if self.pretrain is not None and self.scheme != "mvqvae":
            raise ValueError(f"pretrain: the MAE pre-training trains the masked VQ-VAE's encoder and codebook; scheme "
                             f"{self.scheme!r} has no codebook (use scheme: mvqvae)")
        return self

    def trains_on_noise_map(self) -> bool:
        """True when the model trains on the noise map (``noise_map.train_temperature``, Algorithm 3 step 2)."""
        return self.masking == "noise_map" and self.noise_map_settings().train_temperature is not None

    def reconstruction_settings(self) -> ReconstructionParams:
        """The reconstruction decoder's settings (``params.reconstruction`` or its defaults)."""
        if self.reconstruction is not None:
            return self.reconstruction
        return ReconstructionParams(**PAPER_DECODER) if self.preset == "paper" else ReconstructionParams()

    def noise_map_settings(self) -> NoiseMapParams:
        """The noise map's settings (``params.noise_map`` or its defaults)."""
        return self.noise_map if self.noise_map is not None else NoiseMapParams()

    def link_settings(self) -> DigitalParams:
        """The digital baseline's settings (``params.digital`` or its defaults)."""
        return self.digital if self.digital is not None else DigitalParams()


def check_receiver_attack(params: MaskedVqvaeParams, channel: Optional[Mapping[str, Any]]) -> None:
    """A sweep over ``ssnr_db`` (Algorithm 1 at the receiver) needs a learned receiver on a MIMO
    channel with SVD precoding (the attacker's channel and the differentiable detector).

    :raises UserError: naming the field that rules it out.
    """
    if params.scheme == "digital":
        raise UserError("sweep: ssnr_db: the digital baseline (scheme: digital) has no differentiable receiver "
                        "for Algorithm 1 (the paper's Fig. 8 leaves JPEG+LDPC out)")
    if params.ideal_channel:
        raise UserError("params.ideal_channel: ssnr_db adds semantic noise at the receiver, through the channel")
    spec = dict(channel or {})
    if spec.get("type") != "mimo" or spec.get("precoding") != "svd":
        raise UserError("channel: ssnr_db (semantic noise at the receiver, eq. 8) needs channel type mimo with "
                        "precoding: svd")


def check_feature(params: MaskedVqvaeParams, feature: float, positions: int, shape: str) -> None:
    """Fig. 9's sweep ``feature``: a 1-based patch position of the masked VQ-VAE.

    :raises UserError: naming the sweep field when ``feature`` is not an integer in
        ``1..positions`` or the scheme has no masked VQ-VAE encoder to probe.
    """
    if params.scheme != "mvqvae":
        raise UserError(f"sweep: feature (Fig. 9's activation probe) needs scheme: mvqvae (params.scheme is "
                        f"{params.scheme!r})")
    if float(feature) != int(feature) or not 1 <= int(feature) <= positions:
        raise UserError(f"sweep: feature {feature:g} is not a patch position 1..{positions} (patch {params.patch} "
                        f"of {shape} images)")


def model_point(params: MaskedVqvaeParams, point: Mapping[str, float]) -> ModelPoint:
    """The model serving sweep ``point``: its ``codebook_size`` and ``masking_ratio`` (the
    parameters' where the point does not set them; always the parameters' for jscc and digital,
    which have neither a codebook nor masking).

    :raises UserError: naming the sweep field when ``codebook_size`` is not an integer power of
        two >= 2 (indices are sent as ``log2 J`` bits) or ``masking_ratio`` is outside [0, 1).
    """
    size = point.get("codebook_size", params.codebook_size)
    ratio = float(point.get("masking_ratio", params.masking_ratio))
    if float(size) != int(size) or int(size) < 2 or int(size) & (int(size) - 1) or int(size) > 65536:
        raise UserError(f"sweep: codebook_size {size:g} is not a power of two in 2..65536 (indices are sent as "
                        "log2 J bits)")
    if not 0 <= ratio < 1:
        raise UserError(f"sweep: masking_ratio {ratio:g} is outside [0, 1) (the fraction of patches removed)")
    if params.scheme != "mvqvae":
        return ModelPoint(params.codebook_size, params.masking_ratio)
    return ModelPoint(int(size), ratio)


__all__ = ["AdversarialParams", "AttackParams", "CPU_STAGES", "CPU_TRAIN_IMAGES", "MaskedVqvaeParams", "ModelPoint",
           "NoiseMapParams", "PAPER_STAGES", "PretrainParams", "QUICK_STAGES", "ReceiverAttackParams",
           "PAPER_ARCH", "PAPER_DECODER", "ReconstructionParams", "StageParams", "TrainingParams", "training_spec", "check_feature", "check_receiver_attack",
           "model_point"]
