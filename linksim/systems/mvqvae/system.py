"""The registered ``masked_vqvae`` system: the masked VQ-VAE and its baselines under semantic noise.

.. code-block:: yaml

    data: {type: images, source: embedded}
    channel: {type: mimo, nt: 8, nr: 4, precoding: svd, streams: 1}
    sweep: {parameter: snr_db, values: [-9, -3, 3, 9, 18], fixed: {epsilon: 0.012}}
    systems:
      - {label: MVQ+FIM+AT, type: masked_vqvae, params: {fim: true, adversarial: true}}
      - {label: JSCC, type: masked_vqvae, params: {scheme: jscc}}
      - {label: JPEG+LDPC+AT, type: masked_vqvae, params: {scheme: digital, adversarial: {}}}
    metrics: [accuracy, index_error_rate, image_loss, symbols_per_message]

:meth:`MaskedVqvaeSystem.setup` loads (or trains, :mod:`.training`) one model per system,
at the training SNR (``params.train_snr_db``, 3 dB as in the paper). Per batch,
:meth:`~MaskedVqvaeSystem.simulate` draws test images, attacks them at the transmitter
with PGD (eq. 7, white box against the model with an ideal link; ``epsilon`` from the
sweep point or ``params.epsilon``; 0: clean), sends them over the point's channel at its
SNR (the masked VQ-VAE: kept patches -> indices -> bits -> uncoded 16-QAM -> channel ->
hard decisions; JSCC-ViT: one complex symbol per patch; the digital baseline, ``scheme:
digital``: 8-bit pixels -> JPEG -> LDPC -> QAM -> channel -> decoder -> JPEG decoder or,
for a damaged payload, the mid-grey fallback, :mod:`.digital`) and classifies what
arrives. The digital baseline's model is a ViT classifier trained on clean images (with
or without adversarial training). Its attacker, like the others, sees the transmit chain
with an ideal link: the transmitter's JPEG then the classifier, differentiated through the
JPEG by straight-through gradients (BPDA: JPEG in the forward pass, the identity in the
backward pass), as the masked VQ-VAE's attacker passes its quantiser.
"""

from __future__ import annotations

import time
from typing import Any, ClassVar, Dict, FrozenSet, List, Literal, Mapping, Optional, Tuple

import numpy as np
import torch
from pydantic import Field, model_validator

from ...adversarial import pgd_linf
from ...errors import UserError
from ...learning.cache import load_or_train
from ...learning.stages import StageSettings
from ...learning.training_block import DecayingStageOverride, TrainingBlock
from ...phy.base import snr_db_to_no
from ...registry import ParamsModel, systems, validate_model
from ...vision.quality import mean_statistics
from ...vision.training import stage_dict, to_tensor
from ...weights import WeightStore, config_hash
from ..base import SystemContext
from ..image_system import ImageSystem
from ..training import log_stderr, torch_threads
from .digital import DigitalParams
from .masking import kept_positions
from .symbols import bits_per_index, kept_patches

MODEL_VERSION = "mvqvae-1"
WEIGHT_KIND = "mvqvae"

#: CPU scale (analysis note, sec. 7): 10 epochs of batch 64, Adam 1e-3 halved every 4 epochs.
CPU_STAGES: Dict[str, StageSettings] = {"model": StageSettings(10, 64, 1e-3, 4, 0.5)}
#: The paper's 50 epochs of batch 128 (its SGD 0.01 replaced by Adam, linksim's optimizer).
PAPER_STAGES: Dict[str, StageSettings] = {"model": StageSettings(50, 128, 1e-3, 20, 0.5)}
QUICK_STAGES: Dict[str, StageSettings] = {"model": StageSettings(1, 32, 1e-3)}
CPU_TRAIN_IMAGES = 5000
QUICK_TRAIN_IMAGES = 128
QUICK_ARCH = {"width": 16, "depth": 1, "heads": 2, "hidden": 32, "codebook_dim": 8}


class StageParams(DecayingStageOverride):
    """Overrides of the training stage."""


class TrainingParams(TrainingBlock):
    """The system's ``training:`` block."""

    PRESETS: ClassVar[Mapping[str, Mapping[str, StageSettings]]] = {
        "cpu": CPU_STAGES, "paper": PAPER_STAGES, "quick": QUICK_STAGES}

    model: Optional[StageParams] = None
    num_train: Optional[int] = Field(None, ge=16, le=10**7, description=f"training images (default: cpu "
                                                                        f"{CPU_TRAIN_IMAGES}, paper all)")


class AttackParams(ParamsModel):
    """PGD at test time (eq. 7): ``steps`` sign steps of ``step_size`` (default 2.5 epsilon / steps)."""

    steps: int = Field(10, ge=1, le=1000)
    step_size: Optional[float] = Field(None, gt=0, le=1)


class AdversarialParams(ParamsModel):
    """Adversarial training (Algorithm 2): PGD at ``epsilon`` with ``steps`` on half of each batch, and
    optionally adversarial weight perturbation (step 2; off by default, see ``awp_gamma``)."""

    epsilon: float = Field(0.012, ge=0, le=1, description="L-inf budget on [0, 1] pixels (0.012 ~ 3/255)")
    steps: int = Field(5, ge=1, le=100)
    awp_gamma: float = Field(0.0, ge=0, le=1, description="adversarial weight perturbation budget gamma (0: "
                                                           "none, the default: at 5e-3 and 1e-3 it kept the masked "
                                                           "VQ-VAE at chance at CPU scale, README)")


class MaskedVqvaeParams(ParamsModel):
    """Parameters of ``masked_vqvae`` (defaults: ``../shared/notes/masked-vqvae-analysis.md``, CPU preset)."""

    scheme: Literal["mvqvae", "jscc", "digital"] = Field(
        "mvqvae", description="mvqvae (masked VQ-VAE, digital indices), jscc (JSCC-ViT, analog symbols) or digital "
                              "(the JPEG + LDPC + QAM baseline with a ViT classifier at the receiver)")
    fim: bool = Field(False, description="feature importance module (eqs. 13-16; not with scheme: digital)")
    digital: Optional[DigitalParams] = Field(None, description="scheme: digital only: JPEG quality, LDPC rate, QAM "
                                                               "order (default: q 75, rate 1/2, 16-QAM)")
    adversarial: Optional[AdversarialParams] = Field(None, description="adversarial training (null: none)")
    masking_ratio: float = Field(0.5, ge=0, lt=1, description="M_r in [0, 1) (mvqvae)")
    patch: int = Field(4, ge=1, le=64, strict=True, description="patch side in pixels")
    codebook_size: int = Field(256, ge=2, le=65536, strict=True, description="J, a power of two (mvqvae)")
    codebook_dim: int = Field(32, ge=1, le=1024, strict=True, description="D: codebook vector length")
    width: int = Field(64, ge=4, le=2048, strict=True)
    depth: int = Field(4, ge=1, le=48, strict=True)
    heads: int = Field(4, ge=1, le=64, strict=True)
    hidden: int = Field(128, ge=4, le=8192, strict=True, description="width of the receiver's FC layers")
    orthogonality: float = Field(1.0, ge=0, le=100, description="weight of the codebook orthogonality term")
    fim_gamma: float = Field(1.0, ge=0, le=100, description="gamma of eq. (16)")
    train_snr_db: float = Field(3.0, ge=-30, le=60, description="training SNR in dB (the paper: 3)")
    epsilon: float = Field(0.0, ge=0, le=1, description="test-time PGD budget when the sweep does not set it")
    attack: AttackParams = Field(default_factory=AttackParams)
    ideal_channel: bool = Field(False, description="no channel at test time (Fig. 4(b)'s upper bound)")
    threads: Optional[int] = Field(None, ge=1, le=1024)

    @model_validator(mode="after")
    def _consistent(self) -> "MaskedVqvaeParams":
        if self.codebook_size & (self.codebook_size - 1):
            raise ValueError(f"codebook_size: {self.codebook_size} is not a power of two (indices are sent as "
                             "log2 J bits)")
        if self.width % self.heads:
            raise ValueError(f"heads: width {self.width} is not a multiple of {self.heads} heads")
        if self.digital is not None and self.scheme != "digital":
            raise ValueError(f"digital: the JPEG + LDPC settings need scheme: digital (scheme is {self.scheme!r})")
        if self.fim and self.scheme == "digital":
            raise ValueError("fim: the digital baseline's ViT classifier has no feature importance module")
        return self

    def link_settings(self) -> DigitalParams:
        """The digital baseline's settings (``params.digital`` or its defaults)."""
        return self.digital if self.digital is not None else DigitalParams()


@systems.register("masked_vqvae")
class MaskedVqvaeSystem(ImageSystem):
    """A masked VQ-VAE (or JSCC-ViT) classifier link under semantic noise (see the module docstring)."""

    Params = MaskedVqvaeParams
    Training = TrainingParams
    sweep_parameters: ClassVar[FrozenSet[str]] = frozenset({"snr_db", "epsilon"})
    sweep_labels: ClassVar[Dict[str, str]] = {**ImageSystem.sweep_labels,
                                              "epsilon": r"Semantic noise $\epsilon$ (L$_\infty$, pixels in [0, 1])"}
    metrics_provided: ClassVar[FrozenSet[str]] = frozenset({"accuracy", "symbols_per_message", "index_error_rate",
                                                            "image_loss"})
    accepts_training: ClassVar[bool] = True
    simulate_needs_gradients: ClassVar[bool] = True  # PGD at the transmitter

    def __init__(self, params: MaskedVqvaeParams, context: SystemContext) -> None:
        super().__init__(params, context)
        self.training = validate_model(TrainingParams, context.training or {}, field="training")
        self.model: Any = None
        self.key: Optional[str] = None
        self.record: Dict[str, Any] = {}
        self._link: Any = None
        self._digital_link: Any = None
        self._channel_layer: Any = None

    # ----------------------------------------------------------------- checks
    @classmethod
    def validate_context(cls, params: MaskedVqvaeParams, context: SystemContext) -> None:
        validate_model(TrainingParams, context.training or {}, field="training")
        from ..image_system import image_dataset
        from ...phy.channels import build_channel

        dataset = image_dataset(context)
        if dataset.num_classes < 2:
            raise UserError("data: masked_vqvae classifies: it needs a labelled dataset")
        h, w, _ = dataset.image_shape
        if h % params.patch or w % params.patch:
            raise UserError(f"params.patch: {params.patch} does not divide the {h}x{w} images")
        build_channel(context.channel)
        for point in context.points or [{}]:
            if "snr_db" not in point and not params.ideal_channel:
                raise UserError("sweep: give snr_db in the sweep (or sweep.fixed)")
            epsilon = point.get("epsilon", params.epsilon)
            if not 0 <= epsilon <= 1:
                raise UserError(f"sweep: epsilon {epsilon:g} is outside [0, 1] (an L-inf budget on pixels in [0, 1])")

    # ----------------------------------------------------------------- settings
    def config(self) -> Dict[str, Any]:
        """The architecture (the digital baseline's classifier has no codebook and no FIM)."""
        p = self.params
        arch = {"patch": p.patch, "width": p.width, "depth": p.depth, "heads": p.heads, "hidden": p.hidden,
                "codebook_dim": p.codebook_dim, "codebook_size": p.codebook_size, "fim": p.fim}
        if p.scheme == "digital":
            del arch["codebook_size"], arch["fim"]
        if self.context.quick:
            arch.update(QUICK_ARCH)
        return arch

    def stage(self) -> StageSettings:
        return self.training.stage("model", quick=self.context.quick)

    def _training_images(self) -> Tuple[np.ndarray, np.ndarray]:
        train = self.dataset.split("train")
        count = QUICK_TRAIN_IMAGES if self.context.quick else (
            self.training.num_train or (CPU_TRAIN_IMAGES if self.training.preset == "cpu" else None))
        return (train.images, train.labels) if count is None else (train.images[:count], train.labels[:count])

    def model_key(self) -> str:
        """Weight-store key: model version, architecture, training settings, data identity."""
        return config_hash({"model": MODEL_VERSION}, self.config(), self._training_identity(), self.dataset.identity())

    def _training_identity(self) -> Dict[str, Any]:
        """The training settings that make the weights. The digital baseline's classifier trains
        on clean images without a channel, so neither the channel nor the training SNR enters."""
        p = self.params
        images, _ = self._training_images()
        if p.scheme == "digital":
            return {"scheme": p.scheme, "adversarial": p.adversarial.model_dump() if p.adversarial else None,
                    "stage": stage_dict(self.stage()), "num_train": len(images), "seed": self.context.seed,
                    "quick": self.context.quick}
        return {"scheme": p.scheme, "masking_ratio": p.masking_ratio if p.scheme == "mvqvae" else None,
                "orthogonality": p.orthogonality if p.scheme == "mvqvae" else None,
                "fim_gamma": p.fim_gamma if p.fim else None, "fim_placement": "pre_norm" if p.fim else None,
                "train_snr_db": p.train_snr_db,
                "channel": self.context.channel, "adversarial": p.adversarial.model_dump() if p.adversarial else None,
                "stage": stage_dict(self.stage()), "num_train": len(images), "seed": self.context.seed,
                "quick": self.context.quick}

    def symbols_per_image(self) -> Optional[int]:
        """Channel symbols per image: the packed indices of the kept patches (mvqvae), one per patch
        (jscc); None for the digital baseline, whose JPEG payloads vary (``symbols_per_message`` measures it)."""
        if self.params.scheme == "digital":
            return None
        h, w, _ = self.image_shape
        n = (h // self.params.patch) * (w // self.params.patch)
        if self.params.scheme == "jscc":
            multiple = self._link_channel().symbols_multiple
            return -(-n // multiple) * multiple
        return self.index_link().symbols_per_message(kept_patches(n, self.params.masking_ratio))

    # ----------------------------------------------------------------- parts
    def _link_channel(self) -> Any:
        from ...phy.channels import build_channel

        return build_channel(self.context.channel)

    def index_link(self) -> Any:
        from .index_link import IndexLink

        if self._link is None:
            self._link = IndexLink(self.params.codebook_size, self._link_channel())
        return self._link

    def digital_link(self) -> Any:
        """The digital baseline's :class:`~.digital.JpegLdpcLink` over the scenario's channel."""
        from .digital import JpegLdpcLink

        if self._digital_link is None:
            self._digital_link = JpegLdpcLink(self.params.link_settings(), self._link_channel())
        return self._digital_link

    def channel_layer(self) -> Any:
        from ...layers.channel import ChannelLayer

        if self._channel_layer is None:
            self._channel_layer = ChannelLayer(self.context.channel, self.params.train_snr_db)
        return self._channel_layer

    def _build(self) -> Any:
        from .networks import build_model

        return build_model(self.params.scheme, self.image_shape, self.config(), self.dataset.num_classes,
                           self.channel_layer() if self.params.scheme == "jscc" else None)

    # ----------------------------------------------------------------- setup
    def setup(self) -> None:
        from .training import AdversarialTraining, Objectives, train_classifier_link

        p = self.params
        self.key = key = self.model_key()
        log = None if self.context.quick else log_stderr
        record: Dict[str, Any] = {}

        def train(model: Any) -> Any:
            images, labels = self._training_images()
            adversarial = None if p.adversarial is None else AdversarialTraining(
                epsilon=p.adversarial.epsilon, steps=p.adversarial.steps, awp_gamma=p.adversarial.awp_gamma)
            if log:
                where = "clean images, no channel" if p.scheme == "digital" else f"{p.train_snr_db:g} dB"
                log(f"[{self.context.label}] training {p.scheme} ({'FIM, ' if p.fim else ''}"
                    f"{'AT' if adversarial else 'no AT'}) on {len(images)} images ({where})")
            started = time.time()
            report = train_classifier_link(
                model, to_tensor(images), labels, self.stage(), snr_db=p.train_snr_db, masking_ratio=p.masking_ratio,
                link=self.index_link() if p.scheme == "mvqvae" else None, adversarial=adversarial,
                weights=Objectives(orthogonality=p.orthogonality, fim_gamma=p.fim_gamma), seed=self.context.seed,
                name=f"'{self.context.label}'", log=log)
            record["running_time_s"] = time.time() - started
            return report

        with torch_threads(p.threads):
            trained = load_or_train(WeightStore(self.context.cache_dir, WEIGHT_KIND), key, build=self._build,
                                    train=train, seed={"seed": self.context.seed, "key": key},
                                    info=lambda model: {"model": f"masked_vqvae {p.scheme}", "config": self.config(),
                                                        "data": self.dataset.provenance(), **record})
        self.model = trained.model
        self.record = {"key": key, "source": trained.source}

    # ----------------------------------------------------------------- simulate
    def _positions(self, batch: int, generator: torch.Generator) -> torch.Tensor:
        from .networks import all_positions

        n = self.model.num_positions
        if self.params.scheme != "mvqvae":
            return all_positions(batch, n)
        return kept_positions(batch, n, self.params.masking_ratio, generator)

    def simulate(self, batch_size: int, point: Mapping[str, float]) -> Dict[str, float]:
        import sionna.phy

        p = self.params
        test = self.dataset.split("test")
        rng = sionna.phy.config.np_rng
        index = rng.integers(0, len(test), size=batch_size)
        generator = torch.Generator().manual_seed(int(rng.integers(0, 2**62)))
        epsilon = float(point.get("epsilon", p.epsilon))
        snr = float(point.get("snr_db", p.train_snr_db))
        mu = torch.full((batch_size,), snr / 10.0)
        labels = torch.as_tensor(test.labels[index]).long()
        with torch_threads(p.threads):
            images = to_tensor(test.images[index])
            positions = self._positions(batch_size, generator)
            if epsilon > 0:
                images = pgd_linf(lambda x: torch.nn.functional.cross_entropy(
                    self._ideal_logits(x, positions, mu), labels, reduction="sum"), images, epsilon,
                    p.attack.steps, p.attack.step_size)
            with torch.no_grad():
                logits, symbols, stats = self._receive(images, positions, snr, mu)
        stats["correct"] = float((logits.argmax(-1) == labels).sum())
        stats["trials"] = float(batch_size)
        stats.update(mean_statistics("symbols_per_message", symbols))
        return stats

    def _receive(self, images: torch.Tensor, positions: torch.Tensor, snr: float,
                 mu: torch.Tensor) -> Tuple[torch.Tensor, np.ndarray, Dict[str, float]]:
        """Send ``[B, C, H, W]`` images over the point's link (``snr`` dB) and classify what arrives.

        :returns: logits ``[B, classes]``, channel symbols per image ``[B]`` and the link's
            statistics (``index_errors``/``indices``, or ``images_lost``/``images``).
        """
        p = self.params
        if p.scheme == "digital":
            return self._receive_digital(images, snr)
        stats: Dict[str, float] = {}
        if p.scheme == "jscc":
            logits = self.model.logits(images, snr_db=snr, ideal=p.ideal_channel, mu=mu)
        else:
            z_e, _ = self.model.encode(images, positions, mu)
            sent = self.model.quantizer.indices(z_e)
            received = sent if p.ideal_channel else \
                self.index_link().transmit(sent, float(snr_db_to_no(snr))).indices
            logits = self.model.logits_from_indices(received, positions)
            stats["index_errors"] = float((received != sent).sum())
            stats["indices"] = float(sent.numel())
        return logits, np.full(images.shape[0], float(self.symbols_per_image())), stats

    def _through_jpeg(self, images: torch.Tensor) -> torch.Tensor:
        """``[B, C, H, W]`` in [0, 1] -> the transmitter's JPEG images (8-bit pixels, encoded and
        decoded) in the forward pass, the identity in the backward pass (BPDA)."""
        from ...vision.quality import to_uint8
        from ...vision.training import to_images
        from .codebook import straight_through

        decoded = self.digital_link().roundtrip(to_uint8(to_images(images)))
        return straight_through(images, to_tensor(decoded, images.device))

    def _receive_digital(self, images: torch.Tensor,
                         snr: float) -> Tuple[torch.Tensor, np.ndarray, Dict[str, float]]:
        """The digital baseline: 8-bit pixels, JPEG, LDPC, QAM, channel, decoders (or the
        mid-grey fallback for a damaged payload), then the ViT classifier (see :mod:`.digital`)."""
        from ...vision.quality import to_uint8
        from ...vision.training import to_images

        out = self.digital_link().transmit(to_uint8(to_images(images)), snr, ideal=self.params.ideal_channel)
        logits = self.model(to_tensor(out.images, images.device))
        stats = {"images_lost": float(out.lost.sum()), "images": float(out.lost.size)}
        return logits, out.symbols.astype(np.float64), stats

    def _ideal_logits(self, images: torch.Tensor, positions: torch.Tensor, mu: torch.Tensor) -> torch.Tensor:
        """The attacker's white-box model: the whole chain with an ideal link (quantiser by STE;
        the digital baseline's JPEG by BPDA, :meth:`_through_jpeg`)."""
        if self.params.scheme == "digital":
            return self.model(self._through_jpeg(images))
        if self.params.scheme == "jscc":
            return self.model.logits(images, ideal=True, mu=mu)
        return self.model.noiseless_logits(images, positions, mu)

    # ----------------------------------------------------------------- records
    def provenance(self) -> Dict[str, Any]:
        p = self.params
        info = {"scheme": p.scheme, "data": self.dataset.provenance(), "model": self.record,
                "symbols_per_image": self.symbols_per_image(), "attack": "PGD (eq. 7), white box, ideal link",
                "channel": self.context.channel}
        if p.scheme == "digital":
            info["symbols_per_image"] = "measured per image (whole LDPC blocks of each JPEG payload)"
            info["attack"] = "PGD (eq. 7), white box: JPEG (straight-through, BPDA) then the classifier"
            info["link"] = dict(self.digital_link().provenance())
        if p.scheme == "mvqvae":
            info["bits_per_index"] = bits_per_index(p.codebook_size)
            if self.model is not None:
                from .codebook import coherence

                mean, largest = coherence(self.model.quantizer.codebook)
                info["codebook_coherence"] = {"mean_abs_cosine": mean, "max_abs_cosine": largest}
        return info

    def trained_weights(self) -> List[Tuple[str, str]]:
        return [(WEIGHT_KIND, self.key)] if self.key else []


__all__ = ["MaskedVqvaeSystem", "MaskedVqvaeParams", "WEIGHT_KIND"]
