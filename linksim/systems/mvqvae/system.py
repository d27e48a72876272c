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

:meth:`MaskedVqvaeSystem.setup` loads (or trains, :mod:`.training`) one model per distinct
:class:`ModelPoint` of the sweep (``codebook_size`` and ``masking_ratio`` may be swept, Figs. 5
and 7: one masked VQ-VAE per value; the parameters' point keeps its weight key), at the
training SNR (``params.train_snr_db``, 3 dB as in the paper). A sweep over ``ssnr_db``
(Fig. 8) adds semantic noise at the receiver: Algorithm 1's universal perturbation, computed
once per model (:mod:`.receiver_noise`), sent through the attacker's own channel at that
signal-to-semantic-noise ratio. Per batch,
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

Which patches the masked VQ-VAE sends (``params.masking``, :mod:`.masking`): ``random`` (MAE,
how every model is trained) or ``noise_map`` (Sec. III-A2), a test-time setting: the
``round((1 - M_r) N)`` positions whose encoder tokens move least under PGD, by a data-set-level
map measured once per model on its training images (``params.noise_map``; the same positions
for every image, or Gumbel-top-k per image), shared by both ends; its heat map is the matrix
``noise_map``. ``params.train_channel`` names the channel a model trains through (its weights
are keyed by it; default: the evaluated channel), so that the shipped models, trained on SVD
with 1 stream, can be evaluated over 2 or 4 streams or ``precoding: none`` (the index link and
JSCC-ViT's channel layer then use the evaluated channel).

Figs. 9, 10 and 11(a) (:mod:`.probes`): a sweep over ``feature`` (a 1-based patch position)
reports ``activation_frequency`` instead of sending anything (each test image's kept
positions and attack fixed by its index, its activations computed once per model and
epsilon); the metrics ``codebook_cosine_mean``/``_max`` (the 64 codes sent most for 1000
clean test images), ``codebook_cosine_mean_all``/``_max_all`` (every code) and
``codebook_perplexity`` describe the model's codebook, whose cosine-similarity matrices
``codebook_cosine`` and ``codebook_cosine_all`` feed ``kind: heatmap`` figures
(:meth:`~MaskedVqvaeSystem.matrix`); ``recall_at_1`` retrieves each received image's class
from a clean gallery (the first ``gallery_images`` test images; queries are drawn from the
others) by the cosine nearest neighbour of the receiver's penultimate features.

Fig. 11(b), reconstruction (masked VQ-VAE only): when the scenario reports ``psnr``, ``ssim`` or
``mse`` (or ``params.reconstruction`` is given), each model gets a
:class:`~.networks.ReconstructionDecoder`, an MAE-style decoder from the receiver's token grid
(received codebook vectors at the kept positions, a learned mask token elsewhere) to pixels,
trained after the classifier with MSE and the transmitter, codebook and receiver frozen
(:func:`~.training.train_reconstruction_decoder`), in its own weights file whose key derives
from the model's key and the decoder's settings; the classifier's weights and key do not
change. A model with MAE pre-training (``params.pretrain``, :class:`PretrainParams`) starts its
decoder from the pre-training decoder when their architectures match (the paper's decoder);
otherwise it is a post-hoc decoder, trained from scratch.
The metrics compare each received image's reconstruction (8-bit pixels) with the clean test
image; computing them draws nothing random, so the other metrics' numbers stay as they were.
:meth:`~MaskedVqvaeSystem.sample_images` draws the first test images and their reconstructions
for a ``samples:`` grid. The provenance (and the figures' footer) gives the reference of sending
nothing: the mean training image's PSNR and SSIM against the test images.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, ClassVar, Dict, FrozenSet, List, Mapping, Optional, Tuple

import numpy as np
import torch

from ...adversarial import pgd_linf
from ...errors import UserError
from ...learning.cache import load_or_train, weight_key
from ...learning.stages import StageSettings
from ...phy.base import snr_db_to_no
from ...phy.channels import Interference
from ...registry import systems, validate_model
from ...vision.quality import image_statistics, mean_statistics
from ...vision.training import stage_dict, to_tensor
from ...weights import WeightStore, config_hash
from ..base import SystemContext
from ..image_system import ImageSystem
from ..training import log_stderr, torch_threads
from .masking import kept_positions, least_noisy_positions
from .params import (CPU_TRAIN_IMAGES, MaskedVqvaeParams, ModelPoint, NoiseMapParams, PretrainParams,
                     TrainingParams, check_feature, check_receiver_attack, model_point, training_spec)
from .probes import nearest_neighbour_hits
from .receiver_noise import attacker_interference
from .symbols import bits_per_index, kept_patches, patch_grid

MODEL_VERSION = "mvqvae-1"
#: Version of the reconstruction decoder (Fig. 11(b)); its key also holds its model's key.
DECODER_VERSION = "mvqvae-decoder-1"
#: Version of the MAE pre-training checkpoint (``params.pretrain``); a pre-trained model's key holds its key.
PRETRAIN_VERSION = "mvqvae-pretrain-1"
WEIGHT_KIND = "mvqvae"

QUICK_TRAIN_IMAGES = 128
QUICK_ARCH = {"width": 16, "depth": 1, "heads": 2, "hidden": 32, "codebook_dim": 8}
#: The reconstruction decoder in quick mode.
QUICK_DECODER_ARCH = {"width": 16, "depth": 1, "heads": 2}
#: Metrics of the reconstruction decoder (Fig. 11(b)); the masked VQ-VAE only.
RECONSTRUCTION_METRICS: Tuple[str, ...] = ("psnr", "ssim", "mse")
#: Algorithm 1's training images in quick mode (a smoke run, not a measurement).
QUICK_RECEIVER_SAMPLES = 32
#: Sweep parameters that select a trained model (one model per distinct value; masked VQ-VAE only).
MODEL_SWEEPS: Tuple[str, ...] = ("codebook_size", "masking_ratio")
#: Probe images of Fig. 10 (codebook usage: the first test images, clean, at the transmitter) and of
#: Fig. 9's activation threshold (the first training images, clean); quick mode: QUICK_PROBE_IMAGES.
PROBE_IMAGES = 1000
QUICK_PROBE_IMAGES = 64
#: Largest retrieval gallery in quick mode.
QUICK_GALLERY_IMAGES = 64
#: Seeds (added to the scenario seed) of the masking positions of the probes: Fig. 9's per-test-image
#: positions, its threshold images' positions, Fig. 10's probe images and Fig. 11(a)'s gallery.
ACTIVATION_SEED, THRESHOLD_SEED, CODEBOOK_SEED, GALLERY_SEED = 91, 92, 93, 94
#: Fig. 10's scalar metrics (codebook similarity and usage), one value per model.
CODEBOOK_METRICS: Dict[str, str] = {
    "codebook_cosine_mean": "mean_top", "codebook_cosine_max": "max_top",
    "codebook_cosine_mean_all": "mean_all", "codebook_cosine_max_all": "max_all",
    "codebook_perplexity": "perplexity"}


@dataclass
class ServedModel:
    """One trained model of the system: the Keras model, its weight key and where it came from."""

    model: Any
    key: str
    record: Dict[str, Any] = field(default_factory=dict)
    #: Algorithm 1's universal receiver-side perturbation ``[uses, na]`` (computed on first use).
    perturbation: Optional[torch.Tensor] = None
    #: Fig. 10: the codebook's similarities and usage (:func:`.probes.codebook_summary`, on first use).
    codebook: Any = None
    #: Fig. 9: the activation threshold (the clean activations' 75th percentile) and, per epsilon,
    #: the ``[test images, N]`` activations computed so far (NaN: not kept or not yet computed) and
    #: which test images are done.
    threshold: Optional[float] = None
    activations: Dict[float, Tuple[torch.Tensor, np.ndarray]] = field(default_factory=dict)
    #: Fig. 11(a): the clean gallery's embeddings ``[G, hidden]`` and labels ``[G]``.
    gallery: Optional[Tuple[torch.Tensor, torch.Tensor]] = None
    #: ``masking: noise_map``: the noise score of every patch position ``[N]`` (computed on first use).
    noise_map: Optional[torch.Tensor] = None
    #: ``params.pretrain``: the MAE pre-training checkpoint's key and where it came from.
    pretrain_record: Dict[str, Any] = field(default_factory=dict)
    #: Fig. 11(b): the reconstruction decoder (:class:`~.networks.ReconstructionDecoder`), its weight
    #: key and where it came from (loaded or trained on first use; None: not asked for).
    decoder: Any = None
    decoder_key: Optional[str] = None
    decoder_record: Dict[str, Any] = field(default_factory=dict)


@systems.register("masked_vqvae")
class MaskedVqvaeSystem(ImageSystem):
    """A masked VQ-VAE (or JSCC-ViT) classifier link under semantic noise (see the module docstring)."""

    Params = MaskedVqvaeParams
    Training = TrainingParams
    sweep_parameters: ClassVar[FrozenSet[str]] = frozenset({"snr_db", "epsilon", "ssnr_db", "feature", *MODEL_SWEEPS})
    sweep_labels: ClassVar[Dict[str, str]] = {
        **ImageSystem.sweep_labels, "epsilon": r"Semantic noise $\epsilon$ (L$_\infty$, pixels in [0, 1])",
        "ssnr_db": "Signal-to-semantic-noise ratio (dB)", "codebook_size": "Codebook size $J$", "masking_ratio": "Masking ratio $M_r$ (reserving ratio $1 - M_r$)",
        "feature": "Feature index $n$ (patch position)"}
    metrics_provided: ClassVar[FrozenSet[str]] = frozenset({"accuracy", "symbols_per_message", "index_error_rate",
                                                            "image_loss", "recall_at_1", "activation_frequency",
                                                            *CODEBOOK_METRICS, *RECONSTRUCTION_METRICS})
    matrices_provided: ClassVar[FrozenSet[str]] = frozenset({"codebook_cosine", "codebook_cosine_all", "noise_map"})
    accepts_training: ClassVar[bool] = True
    simulate_needs_gradients: ClassVar[bool] = True  # PGD at the transmitter

    def __init__(self, params: MaskedVqvaeParams, context: SystemContext) -> None:
        super().__init__(params, context)
        self.training = validate_model(TrainingParams, training_spec(params, context.training), field="training")
        self.served: Dict[ModelPoint, ServedModel] = {}
        self._links: Dict[int, Any] = {}
        self._digital_link: Any = None
        self._channel_layer: Any = None
        self._mean_reference: Optional[Dict[str, float]] = None

    # ----------------------------------------------------------------- checks
    @classmethod
    def validate_context(cls, params: MaskedVqvaeParams, context: SystemContext) -> None:
        validate_model(TrainingParams, training_spec(params, context.training), field="training")
        from ..image_system import image_dataset
        from ...phy.channels import build_channel

        dataset = image_dataset(context)
        if dataset.num_classes < 2:
            raise UserError("data: masked_vqvae classifies: it needs a labelled dataset")
        h, w, _ = dataset.image_shape
        if params.image_size is None and (h % params.patch or w % params.patch):
            raise UserError(f"params.patch: {params.patch} does not divide the {h}x{w} images (or set "
                            f"params.image_size, a multiple of it, to resize them)")
        rows, cols = patch_grid(dataset.image_shape, params.patch, params.image_size)
        positions = rows * cols
        for where, spec in (("channel", context.channel), ("params.train_channel", params.train_channel)):
            if spec is None:
                continue
            channel = build_channel(spec, field=where)
            if params.scheme == "jscc" and positions % channel.symbols_multiple:
                raise UserError(f"{where}: JSCC-ViT sends one symbol per patch, {positions} per image, which do "
                                f"not fill whole channel uses of {channel.symbols_multiple} streams")
        for point in context.points or [{}]:
            if "snr_db" not in point and not params.ideal_channel and "feature" not in point:
                raise UserError("sweep: give snr_db in the sweep (or sweep.fixed)")
            epsilon = point.get("epsilon", params.epsilon)
            if not 0 <= epsilon <= 1:
                raise UserError(f"sweep: epsilon {epsilon:g} is outside [0, 1] (an L-inf budget on pixels in [0, 1])")
            if "feature" in point:
                check_feature(params, point["feature"], positions, f"{h}x{w}")
            model_point(params, point)
        if any("ssnr_db" in point for point in context.points or []):
            check_receiver_attack(params, context.channel)
        if context.metrics is not None and "recall_at_1" in context.metrics:
            gallery = min(params.gallery_images, QUICK_GALLERY_IMAGES) if context.quick else params.gallery_images
            test = len(dataset.split("test"))
            if gallery >= test:
                raise UserError(f"params.gallery_images: a gallery of {gallery} leaves no query image (the test "
                                f"split has {test} images)")

    @classmethod
    def provided_matrices(cls, params: MaskedVqvaeParams) -> FrozenSet[str]:  # type: ignore[override]
        """The codebook's cosine similarities (Fig. 10): only the masked VQ-VAE has a codebook; the
        noise map (``noise_map``, a patch grid): only with ``masking: noise_map``."""
        if params.scheme != "mvqvae":
            return frozenset()
        return cls.matrices_provided if params.masking == "noise_map" else cls.matrices_provided - {"noise_map"}

    # ----------------------------------------------------------------- settings
    def default_point(self) -> ModelPoint:
        """The model point of the parameters (and of every sweep point of jscc and digital)."""
        return ModelPoint(self.params.codebook_size, self.params.masking_ratio)

    def _model_point(self, point: Mapping[str, float]) -> ModelPoint:
        return model_point(self.params, point)

    def training_groups(self) -> List[List[int]]:
        """One group per distinct model (codebook size, masking ratio) of the sweep points."""
        groups: Dict[ModelPoint, List[int]] = {}
        for index, point in enumerate(self.context.points):
            groups.setdefault(self._model_point(point), []).append(index)
        return list(groups.values()) or [[]]

    def config(self, mp: Optional[ModelPoint] = None) -> Dict[str, Any]:
        """The architecture of the model of ``mp`` (default: the parameters'); the digital
        baseline's classifier has no codebook and no FIM."""
        p, mp = self.params, mp or self.default_point()
        arch = {"patch": p.patch, "width": p.width, "depth": p.depth, "heads": p.heads, "hidden": p.hidden,
                "codebook_dim": p.codebook_dim, "codebook_size": mp.codebook_size, "fim": p.fim}
        if p.image_size is not None:  # only when set, so that the models trained before them keep their keys
            arch["image_size"] = p.image_size
        if p.mlp_ratio != 2:
            arch["mlp_ratio"] = p.mlp_ratio
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

    def model_key(self, mp: Optional[ModelPoint] = None) -> str:
        """Weight-store key of the model of ``mp`` (default: the parameters'): model version,
        architecture, training settings, data identity. The parameters' model keeps its key
        whether or not the sweep varies ``codebook_size``/``masking_ratio``."""
        mp = mp or self.default_point()
        return config_hash({"model": MODEL_VERSION}, self.config(mp), self._training_identity(mp),
                           self.dataset.identity())

    def _training_identity(self, mp: ModelPoint) -> Dict[str, Any]:
        """The training settings that make the weights. The digital baseline's classifier trains
        on clean images without a channel, so neither the channel nor the training SNR enters."""
        p = self.params
        images, _ = self._training_images()
        if p.scheme == "digital":
            return {"scheme": p.scheme, "adversarial": p.adversarial.model_dump() if p.adversarial else None,
                    "stage": stage_dict(self.stage()), "num_train": len(images), "seed": self.context.seed,
                    "quick": self.context.quick}
        identity = {"scheme": p.scheme, "masking_ratio": mp.masking_ratio if p.scheme == "mvqvae" else None,
                    "orthogonality": p.orthogonality if p.scheme == "mvqvae" else None,
                    "fim_gamma": p.fim_gamma if p.fim else None, "fim_placement": "pre_norm" if p.fim else None,
                    "train_snr_db": p.train_snr_db, "channel": self._train_channel(),
                    "adversarial": p.adversarial.model_dump() if p.adversarial else None,
                    "stage": stage_dict(self.stage()), "num_train": len(images), "seed": self.context.seed,
                    "quick": self.context.quick}
        # only when set, so that the models trained before these options keep their keys
        if p.pretrain is not None:
            identity["pretrain"] = self.pretrain_key(mp)
        if p.vq_terms != "sum" and p.scheme == "mvqvae":
            identity["vq_terms"] = p.vq_terms
        if p.similarity > 0:
            identity["similarity"] = p.similarity
        if p.schedule != "merged":
            identity["schedule"] = p.schedule
        if p.trains_on_noise_map():
            identity["train_masking"] = {"mode": "noise_map", **p.noise_map_settings().model_dump(
                exclude={"temperature"})}
        return identity

    def pretrain_key(self, mp: Optional[ModelPoint] = None) -> str:
        """Weight-store key of the MAE pre-training of ``mp``'s model (``params.pretrain``): its
        version, the encoder and codebook architecture (no FIM), the decoder's, and its training
        settings; shared by the models with and without FIM."""
        mp = mp or self.default_point()
        p = self.params
        arch = {k: v for k, v in self.config(mp).items() if k not in ("fim", "hidden")}
        images, _ = self._training_images()
        identity = {"loss": "mse + eq. 12", "masking": "random", "masking_ratio": mp.masking_ratio,
                    "orthogonality": p.orthogonality, "train_snr_db": p.train_snr_db,
                    "channel": self._train_channel(), "stage": stage_dict(self.training.stage(
                        "pretrain", quick=self.context.quick)),
                    "num_train": len(images), "seed": self.context.seed, "quick": self.context.quick}
        if p.vq_terms != "sum":
            identity["vq_terms"] = p.vq_terms
        return weight_key(PRETRAIN_VERSION, arch, self.pretrain_config(), identity, self.dataset.identity())

    def pretrain_config(self) -> Dict[str, Any]:
        """The pre-training decoder's architecture (quick mode: :data:`QUICK_DECODER_ARCH`)."""
        if self.context.quick:
            return dict(QUICK_DECODER_ARCH)
        return (self.params.pretrain or PretrainParams()).model_dump()  # preset paper: filled at validation

    def symbols_per_image(self, mp: Optional[ModelPoint] = None) -> Optional[int]:
        """Channel symbols per image: the packed indices of the kept patches (mvqvae), one per patch
        (jscc); None for the digital baseline, whose JPEG payloads vary (``symbols_per_message`` measures it)."""
        mp = mp or self.default_point()
        if self.params.scheme == "digital":
            return None
        rows, cols = patch_grid(self.image_shape, self.params.patch, self.params.image_size)
        n = rows * cols
        if self.params.scheme == "jscc":
            multiple = self._link_channel().symbols_multiple
            return -(-n // multiple) * multiple
        return self.index_link(mp.codebook_size).symbols_per_message(kept_patches(n, mp.masking_ratio))

    # ----------------------------------------------------------------- parts
    def _link_channel(self) -> Any:
        """The evaluated channel (the system's, or the scenario's)."""
        from ...phy.channels import build_channel

        return build_channel(self.context.channel)

    def _train_channel(self) -> Dict[str, Any]:
        """The spec of the channel the model trains through: ``params.train_channel`` or the evaluated one."""
        p = self.params
        return dict(p.train_channel) if p.train_channel is not None else self.context.channel

    def _trains_elsewhere(self) -> bool:
        """True when the model trains through another channel than the one evaluated."""
        return self.params.train_channel is not None and dict(self.params.train_channel) != dict(self.context.channel)

    def _training_link(self, codebook_size: int) -> Any:
        """The :class:`~.index_link.IndexLink` the masked VQ-VAE trains through (over the training channel)."""
        from ...phy.channels import build_channel
        from .index_link import IndexLink

        if not self._trains_elsewhere():
            return self.index_link(codebook_size)
        return IndexLink(codebook_size, build_channel(self._train_channel()))

    def index_link(self, codebook_size: Optional[int] = None) -> Any:
        """The :class:`~.index_link.IndexLink` of ``codebook_size`` indices (default: the parameters')."""
        from .index_link import IndexLink

        size = codebook_size or self.params.codebook_size
        if size not in self._links:
            self._links[size] = IndexLink(size, self._link_channel())
        return self._links[size]

    def digital_link(self) -> Any:
        """The digital baseline's :class:`~.digital.JpegLdpcLink` over the scenario's channel."""
        from .digital import JpegLdpcLink

        if self._digital_link is None:
            self._digital_link = JpegLdpcLink(self.params.link_settings(), self._link_channel())
        return self._digital_link

    def channel_layer(self) -> Any:
        from ...layers.channel import ChannelLayer

        if self._channel_layer is None:  # JSCC-ViT's, built on the training channel (swapped after loading)
            self._channel_layer = ChannelLayer(self._train_channel(), self.params.train_snr_db)
        return self._channel_layer

    def _build(self, mp: ModelPoint) -> Any:
        from .networks import build_model

        return build_model(self.params.scheme, self.image_shape, self.config(mp), self.dataset.num_classes,
                           self.channel_layer() if self.params.scheme == "jscc" else None)

    # ----------------------------------------------------------------- served models
    @property
    def model(self) -> Any:
        """The model of the first sweep point (None before :meth:`setup`)."""
        return next(iter(self.served.values())).model if self.served else None

    @property
    def key(self) -> Optional[str]:
        """The weight key of the first sweep point's model (None before :meth:`setup`)."""
        return next(iter(self.served.values())).key if self.served else None

    def served_at(self, point: Mapping[str, float]) -> ServedModel:
        """The model serving sweep ``point`` (set up by :meth:`setup`)."""
        return self.served[self._model_point(point)]

    # ----------------------------------------------------------------- setup
    def setup(self) -> None:
        """Load (or train) the model of every distinct model point of the sweep (and measure its
        noise map with ``masking: noise_map``, so that the run's provenance records it; and load or
        train its reconstruction decoder when the scenario asks for one, :meth:`_reconstructs`)."""
        with torch_threads(self.params.threads):
            for point in self.context.points or [{}]:
                mp = self._model_point(point)
                if mp not in self.served:
                    self.served[mp] = self._load(mp)
                    if self.params.scheme == "mvqvae" and self.params.masking == "noise_map":
                        self._noise_map(mp)
                    if self._reconstructs():
                        self._decoder(mp)

    def _load(self, mp: ModelPoint) -> ServedModel:
        """The trained model of ``mp``: from the weight store, or trained now (Algorithm 3's CPU schedule)."""
        from .networks import transfer_pretrained
        from .training import AdversarialTraining, NoiseMapMasking, Objectives, train_classifier_link

        p = self.params
        key = self.model_key(mp)
        log = None if self.context.quick else log_stderr
        record: Dict[str, Any] = {}
        pretrain: Dict[str, Any] = {}

        def train(model: Any) -> Any:
            images, labels = self._training_images()
            adversarial = None if p.adversarial is None else AdversarialTraining(
                epsilon=p.adversarial.epsilon, steps=p.adversarial.steps, awp_gamma=p.adversarial.awp_gamma)
            if p.pretrain is not None:
                pretrained, pretrain["record"] = self._pretrained(mp)
                transfer_pretrained(pretrained, model)
                record["pretrain"] = pretrain["record"]["key"]
            noise_map = None
            if p.trains_on_noise_map():
                settings = p.noise_map_settings()
                noise_map = NoiseMapMasking(lambda: self._measure_noise_map(model, settings),
                                            float(settings.train_temperature))
            if log:
                where = "clean images, no channel" if p.scheme == "digital" else f"{p.train_snr_db:g} dB"
                log(f"[{self.context.label}] training {p.scheme} ({'FIM, ' if p.fim else ''}"
                    f"{'AT' if adversarial else 'no AT'}; J {mp.codebook_size}, M_r {mp.masking_ratio:g}"
                    f"{', pre-trained' if p.pretrain is not None else ''}"
                    f"{', on the noise map' if noise_map is not None else ''}"
                    f"{', Algorithm 3 interleaved' if p.schedule == 'interleaved' else ''}) on {len(images)} images "
                    f"({where})")
            started = time.time()
            report = train_classifier_link(
                model, to_tensor(images), labels, self.stage(), snr_db=p.train_snr_db,
                masking_ratio=mp.masking_ratio,
                link=self._training_link(mp.codebook_size) if p.scheme == "mvqvae" else None,
                adversarial=adversarial,
                weights=Objectives(orthogonality=p.orthogonality, fim_gamma=p.fim_gamma, vq_terms=p.vq_terms,
                                   similarity=p.similarity),
                seed=self.context.seed, name=f"'{self.context.label}'", noise_map=noise_map, schedule=p.schedule,
                log=log)
            record["running_time_s"] = time.time() - started
            if noise_map is not None and noise_map.maps:
                record["training_noise_map"] = [round(float(v), 6) for v in noise_map.maps[-1]]
            return report

        trained = load_or_train(WeightStore(self.context.cache_dir, WEIGHT_KIND), key, build=lambda: self._build(mp),
                                train=train, seed={"seed": self.context.seed, "key": key},
                                info=lambda model: {"model": f"masked_vqvae {p.scheme}", "config": self.config(mp),
                                                    "data": self.dataset.provenance(), **record})
        if p.scheme == "jscc" and self._trains_elsewhere():
            # evaluate over the system's channel: the channel layer has no weights, so nothing learned changes
            trained.model.channel.channel = self._link_channel()
        served = ServedModel(trained.model, key, {"key": key, "source": trained.source})
        if p.pretrain is not None:
            served.pretrain_record = pretrain.get("record") or {"key": self.pretrain_key(mp),
                                                                 "source": "not loaded (the model was)"}
        return served

    def _pretrained(self, mp: ModelPoint) -> Tuple[Any, Dict[str, Any]]:
        """The MAE pre-training checkpoint of ``mp``'s model (:class:`~.networks.MaskedAutoencoder`),
        from the weight store or trained now (:func:`~.training.train_masked_autoencoder`), and
        its record (key, source)."""
        from .networks import build_pretrainer
        from .training import Objectives, train_masked_autoencoder

        p = self.params
        key = self.pretrain_key(mp)
        log = None if self.context.quick else log_stderr
        record: Dict[str, Any] = {}
        arch = {k: v for k, v in self.config(mp).items() if k != "fim"}

        def train(model: Any) -> Any:
            images, _ = self._training_images()
            if log:
                log(f"[{self.context.label}] MAE pre-training (J {mp.codebook_size}, M_r {mp.masking_ratio:g}) on "
                    f"{len(images)} images ({p.train_snr_db:g} dB)")
            started = time.time()
            report = train_masked_autoencoder(
                model, to_tensor(images), self.training.stage("pretrain", quick=self.context.quick),
                snr_db=p.train_snr_db, masking_ratio=mp.masking_ratio, link=self._training_link(mp.codebook_size),
                weights=Objectives(orthogonality=p.orthogonality, vq_terms=p.vq_terms), seed=self.context.seed,
                name=f"'{self.context.label}' pre-training",
                log=log)
            record["running_time_s"] = time.time() - started
            return report

        trained = load_or_train(WeightStore(self.context.cache_dir, WEIGHT_KIND), key,
                                build=lambda: build_pretrainer(self.image_shape, arch, self.pretrain_config(),
                                                               self.dataset.num_classes),
                                train=train, seed={"seed": self.context.seed, "key": key},
                                info=lambda model: {"model": "masked_vqvae MAE pre-training (encoder without FIM, "
                                                             "codebook, reconstruction decoder)",
                                                    "config": arch, "decoder": self.pretrain_config(),
                                                    "data": self.dataset.provenance(), **record})
        return trained.model, {"key": key, "source": trained.source}

    # ----------------------------------------------------------------- Fig. 11(b): reconstruction decoder
    def _reconstructs(self) -> bool:
        """True when the masked VQ-VAE needs its reconstruction decoder: the scenario reports
        ``psnr``, ``ssim`` or ``mse`` (or its metrics are unknown), or ``params.reconstruction``
        is given (e.g. for a ``samples:`` grid alone)."""
        return self.params.scheme == "mvqvae" and (self.params.reconstruction is not None
                                                   or self._wants(*RECONSTRUCTION_METRICS))

    def decoder_config(self) -> Dict[str, Any]:
        """The reconstruction decoder's architecture (quick mode: :data:`QUICK_DECODER_ARCH`)."""
        if self.context.quick:
            return dict(QUICK_DECODER_ARCH)
        return self.params.reconstruction_settings().model_dump()

    def decoder_stage(self) -> StageSettings:
        return self.training.stage("decoder", quick=self.context.quick)

    def decoder_key(self, mp: Optional[ModelPoint] = None) -> str:
        """Weight-store key of the reconstruction decoder of ``mp``'s model: the decoder's version,
        architecture and training settings, chained to the model's key (:func:`weight_key`), so the
        model keeps its own key and retraining it invalidates the decoder."""
        mp = mp or self.default_point()
        images, _ = self._training_images()
        identity = {"loss": "mse", "input": "received codebook vectors, random masking", "frozen": "the model",
                    "masking_ratio": mp.masking_ratio, "train_snr_db": self.params.train_snr_db,
                    "channel": self._train_channel(), "stage": stage_dict(self.decoder_stage()),
                    "num_train": len(images), "seed": self.context.seed, "quick": self.context.quick}
        if self._decoder_starts_pretrained():
            identity["init"] = "the MAE pre-training decoder"
        return weight_key(DECODER_VERSION, self.decoder_config(), identity, parent=self.model_key(mp))

    def _decoder_starts_pretrained(self) -> bool:
        """True when the reconstruction decoder starts from the MAE pre-training decoder: the model
        is pre-trained (``params.pretrain``) with a decoder of the same architecture."""
        return self.params.pretrain is not None and self.decoder_config() == self.pretrain_config()

    def _decoder(self, mp: ModelPoint) -> Any:
        """The reconstruction decoder of the model of ``mp``: from the weight store, or trained now
        (:func:`~.training.train_reconstruction_decoder`, the model frozen) and saved."""
        from .networks import build_decoder
        from .training import train_reconstruction_decoder

        served = self.served[mp]
        if served.decoder is not None:
            return served.decoder
        p, model = self.params, served.model
        key = self.decoder_key(mp)
        log = None if self.context.quick else log_stderr
        record: Dict[str, Any] = {}

        def build() -> Any:
            return build_decoder(self.image_shape, model.encoder.patch, model.quantizer.codebook.shape[-1],
                                 self.decoder_config(), input_size=model.encoder.input_size)

        def train(decoder: Any) -> Any:
            from .networks import transfer_decoder

            images, _ = self._training_images()
            if self._decoder_starts_pretrained():
                pretrained, pretrain_record = self._pretrained(mp)
                transfer_decoder(pretrained, decoder)
                record["init"] = pretrain_record["key"]
                if served.pretrain_record.get("source") != "trained":
                    served.pretrain_record = pretrain_record
            if log:
                log(f"[{self.context.label}] training the reconstruction decoder of {served.key} (frozen) on "
                    f"{len(images)} images ({p.train_snr_db:g} dB"
                    f"{', from the pre-training decoder' if 'init' in record else ''})")
            started = time.time()
            with torch_threads(p.threads):
                report = train_reconstruction_decoder(
                    model, decoder, to_tensor(images), self.decoder_stage(), snr_db=p.train_snr_db,
                    masking_ratio=mp.masking_ratio, link=self._training_link(mp.codebook_size),
                    seed=self.context.seed, name=f"'{self.context.label}' decoder", log=log)
            record["running_time_s"] = time.time() - started
            return report

        trained = load_or_train(WeightStore(self.context.cache_dir, WEIGHT_KIND), key, build=build, train=train,
                                seed={"seed": self.context.seed, "key": key},
                                info=lambda decoder: {"model": "masked_vqvae reconstruction decoder (MAE-style, "
                                                               + ("from the MAE pre-training decoder)"
                                                                  if "init" in record else "post-hoc)"),
                                                      "config": self.decoder_config(), "parent": served.key,
                                                      "data": self.dataset.provenance(), **record})
        served.decoder, served.decoder_key = trained.model, key
        served.decoder_record = {"key": key, "source": trained.source, "parent": served.key}
        return served.decoder

    def _reconstruct(self, mp: ModelPoint, received: torch.Tensor, positions: torch.Tensor) -> np.ndarray:
        """``uint8 [B, H, W, C]``: the decoder's images from the received ``[B, K]`` indices at ``positions``."""
        from ...vision.quality import to_uint8
        from ...vision.training import to_images

        model = self.served[mp].model
        return to_uint8(to_images(self._decoder(mp)(model.quantizer.lookup(received), positions)))

    def mean_image_reference(self) -> Dict[str, float]:
        """Sending nothing: the PSNR (dB) and SSIM of the mean training image (8-bit) against every
        test image, averaged (deterministic; the reference a reconstruction must beat)."""
        if self._mean_reference is None:
            from ...vision.quality import psnr_per_image, ssim_per_image, to_uint8

            images, _ = self._training_images()
            mean = to_uint8(images.astype(np.float64).mean(0) / 255.0)
            test = self.dataset.split("test").images
            guess = np.broadcast_to(mean, test.shape)
            self._mean_reference = {"psnr_db": float(psnr_per_image(test, guess).mean()),
                                    "ssim": float(ssim_per_image(test, guess).mean()),
                                    "mse": float(((test / 255.0 - guess / 255.0) ** 2).mean())}
        return self._mean_reference

    @classmethod
    def samples_refused(cls, params: MaskedVqvaeParams) -> Optional[str]:  # type: ignore[override]
        """Only the masked VQ-VAE has a reconstruction decoder to draw samples with."""
        if params.scheme != "mvqvae":
            return (f"scheme {params.scheme!r} reconstructs no image (sample images come from the masked VQ-VAE's "
                    "reconstruction decoder: scheme: mvqvae)")
        return None

    def sample_images(self, point: Mapping[str, float], count: int) -> Dict[str, Any]:
        """Fig. 11(b)'s grid: the first ``count`` test images, attacked at the point's ``epsilon``
        (PGD as in :meth:`simulate`), sent over the link at its SNR, and the reconstruction
        decoder's images, each noted with its PSNR against the clean image."""
        import sionna.phy

        from ...vision.quality import psnr_per_image

        p = self.params
        if p.scheme != "mvqvae":
            raise UserError(f"samples: {self.context.label!r}: {self.samples_refused(p)}")
        rng = sionna.phy.config.np_rng
        mp = self._model_point(point)
        model = self.served[mp].model
        test = self.dataset.split("test")
        count = min(count, len(test))
        originals = test.images[:count]
        generator = torch.Generator().manual_seed(int(rng.integers(0, 2**62)))
        epsilon = float(point.get("epsilon", p.epsilon))
        snr = float(point.get("snr_db", p.train_snr_db))
        mu = torch.full((count,), snr / 10.0)
        labels = torch.as_tensor(test.labels[:count]).long()
        with torch_threads(p.threads):
            images = to_tensor(originals)
            positions = self._positions(mp, count, generator)
            if epsilon > 0:
                images = pgd_linf(lambda x: torch.nn.functional.cross_entropy(
                    self._ideal_logits(x, positions, mu, model), labels, reduction="sum"), images, epsilon,
                    p.attack.steps, p.attack.step_size)
            with torch.no_grad():
                _, received = self._send_indices(mp, images, positions, snr, mu)
                output = self._reconstruct(mp, received, positions)
        psnr = psnr_per_image(originals, output)
        return {"original": originals, "output": output, "notes": [f"{q:.1f} dB" for q in psnr]}

    # ----------------------------------------------------------------- simulate
    def _positions(self, mp: ModelPoint, batch: int, generator: torch.Generator) -> torch.Tensor:
        """``[B, K]`` kept patch positions (all ``N`` for jscc and digital)."""
        from .networks import all_positions

        n = self.served[mp].model.num_positions
        if self.params.scheme != "mvqvae":
            return all_positions(batch, n)
        return self._kept(mp, batch, generator)

    def _kept(self, mp: ModelPoint, batch: int, generator: torch.Generator) -> torch.Tensor:
        """``[B, K]`` positions the masked VQ-VAE of ``mp`` sends, by ``params.masking`` (:mod:`.masking`):
        random, the lowest noise-map scores (no draw from ``generator``) or Gumbel-top-k on them."""
        n = self.served[mp].model.num_positions
        if self.params.masking == "random":
            return kept_positions(batch, n, mp.masking_ratio, generator)
        scores = self._noise_map(mp)
        temperature = self.params.noise_map_settings().temperature
        if temperature is None:
            return least_noisy_positions(batch, scores, mp.masking_ratio)
        return kept_positions(batch, n, mp.masking_ratio, generator, scores=scores, temperature=temperature)

    def _noise_map(self, mp: ModelPoint) -> torch.Tensor:
        """The noise score ``[N]`` (float64) of every patch position for the model of ``mp``
        (:class:`NoiseMapParams`; :func:`.masking.noise_map_scores`), computed once. Deterministic:
        the first training images, PGD without a random start, no random draw."""
        served = self.served[mp]
        if served.noise_map is None:
            settings, model = self.params.noise_map_settings(), served.model
            with torch_threads(self.params.threads):
                served.noise_map = self._measure_noise_map(model, settings)
        return served.noise_map

    def _measure_noise_map(self, model: Any, settings: "NoiseMapParams") -> torch.Tensor:
        """The noise map ``[N]`` of ``model`` on its first ``settings.samples`` training images
        (quick runs: at most :data:`QUICK_RECEIVER_SAMPLES`; :func:`.masking.measure_noise_map`)."""
        from .masking import measure_noise_map

        images, labels = self._training_images()
        count = min(settings.samples, len(images), QUICK_RECEIVER_SAMPLES if self.context.quick else len(images))
        return measure_noise_map(model, to_tensor(images[:count]), torch.as_tensor(labels[:count]).long(),
                                 mu_value=self.params.train_snr_db / 10.0, epsilon=settings.epsilon,
                                 steps=settings.steps, score=settings.score)

    def _wants(self, *names: str) -> bool:
        """True if the scenario reports any of the metrics ``names`` (or its metrics are unknown)."""
        return self.context.metrics is None or any(name in self.context.metrics for name in names)

    def simulate(self, batch_size: int, point: Mapping[str, float]) -> Dict[str, float]:
        import sionna.phy

        p = self.params
        test = self.dataset.split("test")
        rng = sionna.phy.config.np_rng
        if "feature" in point:
            return self._activation_statistics(batch_size, point, rng.integers(0, len(test), size=batch_size))
        retrieval = self._wants("recall_at_1")
        first = self._gallery_size() if retrieval else 0
        index = rng.integers(first, len(test), size=batch_size)
        generator = torch.Generator().manual_seed(int(rng.integers(0, 2**62)))
        epsilon = float(point.get("epsilon", p.epsilon))
        snr = float(point.get("snr_db", p.train_snr_db))
        mu = torch.full((batch_size,), snr / 10.0)
        labels = torch.as_tensor(test.labels[index]).long()
        mp = self._model_point(point)
        model = self.served[mp].model
        with torch_threads(p.threads):
            images = to_tensor(test.images[index])
            positions = self._positions(mp, batch_size, generator)
            if epsilon > 0:
                images = pgd_linf(lambda x: torch.nn.functional.cross_entropy(
                    self._ideal_logits(x, positions, mu, model), labels, reduction="sum"), images, epsilon,
                    p.attack.steps, p.attack.step_size)
            interference = None
            if "ssnr_db" in point:
                attacker = torch.Generator().manual_seed(int(rng.integers(0, 2**62)))  # H_a draws
                interference = attacker_interference(self._perturbation(mp), float(point["ssnr_db"]), attacker)
            with torch.no_grad():
                features, symbols, stats, received = self._receive(mp, images, positions, snr, mu, interference)
                logits = model.receiver.out(features)
                if retrieval:
                    gallery, gallery_labels = self._gallery(mp)
                    stats["retrieval_hits"] = nearest_neighbour_hits(features, labels, gallery, gallery_labels)
                    stats["retrieval_queries"] = float(batch_size)
                if received is not None and self._wants(*RECONSTRUCTION_METRICS):
                    # no random draw: the other metrics' numbers do not depend on whether this runs
                    stats.update(image_statistics(test.images[index], self._reconstruct(mp, received, positions),
                                                  with_ssim=self._wants("ssim")))
        stats["correct"] = float((logits.argmax(-1) == labels).sum())
        stats["trials"] = float(batch_size)
        stats.update(mean_statistics("symbols_per_message", symbols))
        if p.scheme == "mvqvae" and self._wants(*CODEBOOK_METRICS):
            summary = self._codebook_summary(mp)
            for name, attribute in CODEBOOK_METRICS.items():
                stats.update(mean_statistics(name, np.array([getattr(summary, attribute)])))
        return stats

    def _receive(self, mp: ModelPoint, images: torch.Tensor, positions: torch.Tensor, snr: float,
                 mu: torch.Tensor, interference: Optional[Interference] = None,
                 ) -> Tuple[torch.Tensor, np.ndarray, Dict[str, float], Optional[torch.Tensor]]:
        """Send ``[B, C, H, W]`` images over the link of model point ``mp`` (``snr`` dB, with the
        receiver-side ``interference`` of an attacker if given) and embed what arrives.

        :returns: the receiver's penultimate features ``[B, hidden]`` (``model.receiver.out`` of
            them: the logits; Fig. 11(a)'s retrieval embedding), channel symbols per image ``[B]``,
            the link's statistics (``index_errors``/``indices``, or ``images_lost``/``images``) and
            the masked VQ-VAE's received indices ``[B, K]`` (None for the other schemes).
        """
        p, model = self.params, self.served[mp].model
        if p.scheme == "digital":
            return (*self._receive_digital(images, snr), None)
        stats: Dict[str, float] = {}
        received = None
        if p.scheme == "jscc" and interference is not None:
            features = self._jscc_attacked(model, images, snr, mu, interference)
        elif p.scheme == "jscc":
            x, _ = model.symbols(images, mu)
            if not p.ideal_channel:
                x = model.channel(x, snr_db=snr)
            features = model.features_from_symbols(x)
        else:
            sent, received = self._send_indices(mp, images, positions, snr, mu, interference)
            features = model.features_from_indices(received, positions)
            stats["index_errors"] = float((received != sent).sum())
            stats["indices"] = float(sent.numel())
        return features, np.full(images.shape[0], float(self.symbols_per_image(mp))), stats, received

    def _send_indices(self, mp: ModelPoint, images: torch.Tensor, positions: torch.Tensor, snr: float,
                      mu: torch.Tensor, interference: Optional[Interference] = None,
                      ) -> Tuple[torch.Tensor, torch.Tensor]:
        """The masked VQ-VAE's transmitter and link: ``(sent, received)`` codebook indices ``[B, K]``
        of ``[B, C, H, W]`` images at ``[B, K]`` positions (received = sent with ``ideal_channel``)."""
        model = self.served[mp].model
        z_e, _ = model.encode(images, positions, mu)
        sent = model.quantizer.indices(z_e)
        received = sent if self.params.ideal_channel else self.index_link(mp.codebook_size).transmit(
            sent, float(snr_db_to_no(snr)), interference).indices
        return sent, received

    def _jscc_attacked(self, model: Any, images: torch.Tensor, snr: float, mu: torch.Tensor,
                       interference: Interference) -> torch.Tensor:
        """JSCC-ViT penultimate features ``[B, hidden]`` through the scenario's channel with receiver-side
        ``interference`` (the channel layer's mapping: token ``(re, im)`` -> one complex symbol)."""
        tokens, _ = model.symbols(images, mu)  # [B, N, 2]
        x_hat = self._link_channel()(torch.complex(tokens[..., 0], tokens[..., 1]), float(snr_db_to_no(snr)),
                                     interference).x_hat
        return model.features_from_symbols(torch.stack([x_hat.real, x_hat.imag], dim=-1).to(tokens.dtype))

    # ----------------------------------------------------------------- Figs. 9, 10 and 11(a)
    def _probe_count(self) -> int:
        return QUICK_PROBE_IMAGES if self.context.quick else PROBE_IMAGES

    def _gallery_size(self) -> int:
        return min(self.params.gallery_images, QUICK_GALLERY_IMAGES) if self.context.quick else \
            self.params.gallery_images

    def _seeded_positions(self, mp: ModelPoint, count: int, seed: int) -> torch.Tensor:
        """``[count, K]`` kept positions from a generator of the scenario seed plus ``seed`` (the
        same every run: the probes' image ``i`` always keeps the same patches)."""
        from .networks import all_positions

        n = self.served[mp].model.num_positions
        if self.params.scheme != "mvqvae":
            return all_positions(count, n)
        return self._kept(mp, count, torch.Generator().manual_seed(self.context.seed + seed))

    def _codebook_summary(self, mp: ModelPoint) -> Any:
        """Fig. 10's :class:`~.probes.CodebookSummary` of the model of ``mp``: the indices its
        transmitter sends for the first :data:`PROBE_IMAGES` clean test images (computed once)."""
        from .probes import codebook_summary

        served = self.served[mp]
        if served.codebook is None:
            test = self.dataset.split("test")
            count = min(self._probe_count(), len(test))
            positions = self._seeded_positions(mp, count, CODEBOOK_SEED)
            mu = torch.full((count,), self.params.train_snr_db / 10.0)
            indices = []
            with torch_threads(self.params.threads), torch.no_grad():
                for start in range(0, count, 250):
                    stop = min(start + 250, count)
                    z_e, _ = served.model.encode(to_tensor(test.images[start:stop]), positions[start:stop],
                                                 mu[start:stop])
                    indices.append(served.model.quantizer.indices(z_e))
            served.codebook = codebook_summary(served.model.quantizer.codebook, torch.cat(indices))
        return served.codebook

    def matrix(self, name: str, point: Mapping[str, float]) -> Any:
        """Fig. 10's heat maps: ``codebook_cosine``, the cosine similarities of the 64 codes the
        transmitter sends most for 1000 clean test images (most used first); ``codebook_cosine_all``,
        those of all ``J`` codes in index order (at most 1024); ``noise_map`` (``masking: noise_map``),
        the noise score of every patch position on the image's patch grid."""
        from ...matrices import MAX_SIDE, Matrix
        from .probes import code_labels

        mp = self._model_point(point)
        if name == "noise_map":
            return self._noise_map_matrix(mp)
        summary = self._codebook_summary(mp)
        j = mp.codebook_size
        if name == "codebook_cosine":
            note = (f"the {len(summary.top)} codes sent most for {summary.images} clean test images "
                    f"({summary.used()} of J = {j} used); mean |off-diag.| {summary.mean_top:.3f}, "
                    f"max {summary.max_top:.3f}")
            labels = code_labels(summary.top)
            return Matrix(summary.gram_top, rows=labels, cols=labels, row_label="codebook vector (most used first)",
                          col_label="codebook vector (most used first)", value_label="cosine similarity", note=note)
        if name == "codebook_cosine_all":
            if j > MAX_SIDE:
                raise UserError(f"codebook_cosine_all: J = {j} codes is more than {MAX_SIDE} rows; use "
                                "codebook_cosine (the most used codes)")
            note = f"all J = {j} codes; mean |off-diag.| {summary.mean_all:.3f}, max {summary.max_all:.3f}"
            labels = code_labels(np.arange(j))
            return Matrix(summary.gram_all, rows=labels, cols=labels, row_label="codebook vector (index order)",
                          col_label="codebook vector (index order)", value_label="cosine similarity", note=note)
        raise UserError(f"matrix: masked_vqvae reports no matrix {name!r}")

    def _noise_map_matrix(self, mp: ModelPoint) -> Any:
        """The noise map of the model of ``mp`` as a ``[H / P, W / P]`` :class:`~linksim.matrices.Matrix`
        (row-major patch positions, as the encoder numbers them); the note names the kept positions."""
        from ...matrices import Matrix

        p, settings = self.params, self.params.noise_map_settings()
        rows, cols = patch_grid(self.image_shape, p.patch, p.image_size)
        scores = self._noise_map(mp)
        if settings.temperature is None:
            kept = least_noisy_positions(1, scores, mp.masking_ratio)[0]
            listed = ", ".join(str(int(i) + 1) for i in kept)
            what = f"kept (lowest {kept.numel()} of {scores.numel()}, 1-based): {listed}"
        else:
            keep = kept_patches(scores.numel(), mp.masking_ratio)
            what = f"Gumbel-top-{keep} per image at tau {settings.temperature:g}"
        units = {"displacement": "mean ||z_e(s') - z_e(s)||",
                 "relative_displacement": "mean ||z_e(s') - z_e(s)|| / ||z_e(s)||",
                 "index_change": "share of images whose index changes"}[settings.score]
        return Matrix(scores.reshape(rows, cols).numpy(), rows=[str(r + 1) for r in range(rows)],
                      cols=[str(c + 1) for c in range(cols)], row_label="patch row", col_label="patch column",
                      value_label=f"noise score ({units})",
                      note=f"PGD eps {settings.epsilon:g}, {settings.steps} steps; {what}")

    def _activations(self, mp: ModelPoint, images: torch.Tensor, positions: torch.Tensor,
                     labels: Optional[torch.Tensor], epsilon: float) -> torch.Tensor:
        """Fig. 9's ``[B, N]`` activations (NaN where not kept) of ``images`` attacked at ``epsilon``
        (PGD as in :meth:`simulate`; 0: clean) through the model of ``mp``."""
        from .probes import token_activations

        p, model = self.params, self.served[mp].model
        mu = torch.full((images.shape[0],), p.train_snr_db / 10.0)
        if epsilon > 0:
            images = pgd_linf(lambda x: torch.nn.functional.cross_entropy(
                self._ideal_logits(x, positions, mu, model), labels, reduction="sum"), images, epsilon,
                p.attack.steps, p.attack.step_size)
        with torch.no_grad():
            tokens, _ = model.encoder.features(images, positions, mu)
        return token_activations(tokens, positions, model.num_positions)

    def _threshold(self, mp: ModelPoint) -> float:
        """Fig. 9's activation threshold of the model of ``mp``: the 75th percentile of the clean
        activations of the first :data:`PROBE_IMAGES` training images, pooled over positions."""
        from .probes import activation_threshold

        served = self.served[mp]
        if served.threshold is None:
            images, _ = self._training_images()
            count = min(self._probe_count(), len(images))
            images = images[:count]
            positions = self._seeded_positions(mp, count, THRESHOLD_SEED)
            with torch_threads(self.params.threads):
                acts = torch.cat([self._activations(mp, to_tensor(images[start:start + 250]),
                                                    positions[start:start + 250], None, 0.0)
                                  for start in range(0, count, 250)])
            served.threshold = activation_threshold(acts)
        return served.threshold

    def _activation_statistics(self, batch_size: int, point: Mapping[str, float],
                               index: np.ndarray) -> Dict[str, float]:
        """Fig. 9 at sweep ``point``: of the test images ``index``, how many kept position
        ``feature`` (1-based) and how many of those activated it (:mod:`.probes`). Each test
        image's positions and attack are fixed (seeded by its index), so its activations are
        computed once per model and epsilon and shared by every feature."""
        from .probes import activation_counts

        p = self.params
        mp = self._model_point(point)
        epsilon = float(point.get("epsilon", p.epsilon))
        served = self.served[mp]
        test = self.dataset.split("test")
        threshold = self._threshold(mp)
        if epsilon not in served.activations:
            served.activations[epsilon] = (torch.full((len(test), served.model.num_positions), float("nan"),
                                                      dtype=torch.float64), np.zeros(len(test), bool))
        table, done = served.activations[epsilon]
        missing = np.unique(index[~done[index]])
        if missing.size:
            positions = self._seeded_positions(mp, len(test), ACTIVATION_SEED)[torch.as_tensor(missing)]
            with torch_threads(p.threads):
                for start in range(0, missing.size, 250):
                    chunk = missing[start:start + 250]
                    table[torch.as_tensor(chunk)] = self._activations(
                        mp, to_tensor(test.images[chunk]), positions[start:start + 250],
                        torch.as_tensor(test.labels[chunk]).long(), epsilon)
            done[missing] = True
        activated, kept = activation_counts(table[torch.as_tensor(index)], int(point["feature"]) - 1, threshold)
        return {"activations": activated, "activation_trials": kept}

    def _gallery(self, mp: ModelPoint) -> Tuple[torch.Tensor, torch.Tensor]:
        """Fig. 11(a)'s clean gallery of the model of ``mp``: the penultimate features ``[G, hidden]``
        of the first ``gallery_images`` test images sent over an ideal link (the digital baseline:
        through its JPEG, without channel errors), and their labels ``[G]`` (computed once)."""
        served = self.served[mp]
        if served.gallery is None:
            p, model = self.params, served.model
            test = self.dataset.split("test")
            count = self._gallery_size()
            positions = self._seeded_positions(mp, count, GALLERY_SEED)
            mu = torch.full((count,), p.train_snr_db / 10.0)
            features = []
            with torch_threads(p.threads), torch.no_grad():
                for start in range(0, count, 250):
                    images = to_tensor(test.images[start:min(start + 250, count)])
                    if p.scheme == "digital":
                        features.append(model.features(self._through_jpeg(images)))
                    elif p.scheme == "jscc":
                        x, _ = model.symbols(images, mu[start:start + 250])
                        features.append(model.features_from_symbols(x))
                    else:
                        z_e, _ = model.encode(images, positions[start:start + 250], mu[start:start + 250])
                        features.append(model.features_from_indices(model.quantizer.indices(z_e),
                                                                    positions[start:start + 250]))
            served.gallery = (torch.cat(features), torch.as_tensor(test.labels[:count]).long())
        return served.gallery

    # ----------------------------------------------------------------- receiver-side semantic noise
    def _perturbation(self, mp: ModelPoint) -> torch.Tensor:
        """Algorithm 1's universal ``dx`` ``[uses, na]`` against the model of ``mp``, computed once
        (seeded by the scenario seed and the model's key: the same every run) on the first
        ``receiver_attack.samples`` training images sent at the training SNR."""
        served = self.served[mp]
        if served.perturbation is None:
            import sionna.phy

            seed = int(served.key[:12], 16) + self.context.seed
            channel_rng = sionna.phy.config.torch_rng("cpu")
            state = channel_rng.get_state()
            channel_rng.manual_seed(seed)
            try:
                served.perturbation = self._universal_perturbation(mp, torch.Generator().manual_seed(seed)) \
                    if self.params.receiver_attack.perturbation == "universal" else self._gaussian_perturbation(mp, seed)
            finally:
                channel_rng.set_state(state)
        return served.perturbation

    def _gaussian_perturbation(self, mp: ModelPoint, seed: int) -> torch.Tensor:
        """The reference ``dx`` ``[uses, na]``: i.i.d. CN(0, 1), seeded (scaled to each SSNR at the receiver)."""
        uses = self.symbols_per_image(mp) // self._link_channel().symbols_multiple
        return torch.randn(uses, self.params.receiver_attack.antennas, dtype=torch.complex64,
                           generator=torch.Generator().manual_seed(seed))

    def _universal_perturbation(self, mp: ModelPoint, generator: torch.Generator) -> torch.Tensor:
        """Run Algorithm 1 (:func:`.receiver_noise.universal_perturbation`) through the model's soft receiver."""
        from .receiver_noise import ReceiverAttack, universal_perturbation

        p, model = self.params, self.served[mp].model
        images, labels = self._training_images()
        count = min(p.receiver_attack.samples, len(images), QUICK_RECEIVER_SAMPLES if self.context.quick else len(images))
        x, y = to_tensor(images[:count]), torch.as_tensor(labels[:count]).long()
        mu = torch.full((count,), p.train_snr_db / 10.0)
        attack = ReceiverAttack(count, p.receiver_attack.steps, p.receiver_attack.rho, p.receiver_attack.antennas)
        with torch.no_grad():
            if p.scheme == "jscc":
                tokens, _ = model.symbols(x, mu)
                symbols = torch.complex(tokens[..., 0], tokens[..., 1])
                loss = self._jscc_sample_loss(model, y)
            else:
                link = self.index_link(mp.codebook_size)
                positions = self._kept(mp, count, generator)
                z_e, _ = model.encode(x, positions, mu)
                symbols = link.map(model.quantizer.indices(z_e))
                loss = self._vq_sample_loss(model, link, positions, y)
        return universal_perturbation(self._link_channel(), symbols, float(snr_db_to_no(p.train_snr_db)), loss,
                                      attack, generator)

    @staticmethod
    def _vq_sample_loss(model: Any, link: Any, positions: torch.Tensor, labels: torch.Tensor) -> Any:
        """Cross-entropy of sample ``n`` from its equalised symbols through the soft receiver
        (index probabilities -> expected codebook vectors -> task receiver)."""
        def loss(n: int, x_hat: torch.Tensor, no_eff: torch.Tensor) -> torch.Tensor:
            log_probs = link.index_log_probs(x_hat[None], no_eff[None], positions.shape[-1])  # [1, K, J]
            vectors = torch.softmax(log_probs, dim=-1) @ model.quantizer.codebook
            logits = model.logits_from_vectors(vectors, positions[n: n + 1])
            return torch.nn.functional.cross_entropy(logits, labels[n: n + 1], reduction="sum")
        return loss

    @staticmethod
    def _jscc_sample_loss(model: Any, labels: torch.Tensor) -> Any:
        """Cross-entropy of sample ``n`` from its equalised symbols (one complex symbol per token)."""
        def loss(n: int, x_hat: torch.Tensor, no_eff: torch.Tensor) -> torch.Tensor:
            tokens = torch.stack([x_hat.real, x_hat.imag], dim=-1)[None].float()
            return torch.nn.functional.cross_entropy(model.logits_from_symbols(tokens), labels[n: n + 1],
                                                     reduction="sum")
        return loss

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
        mid-grey fallback for a damaged payload), then the ViT classifier's penultimate features
        (see :mod:`.digital`)."""
        from ...vision.quality import to_uint8
        from ...vision.training import to_images

        out = self.digital_link().transmit(to_uint8(to_images(images)), snr, ideal=self.params.ideal_channel)
        features = self.served[self.default_point()].model.features(to_tensor(out.images, images.device))
        stats = {"images_lost": float(out.lost.sum()), "images": float(out.lost.size)}
        return features, out.symbols.astype(np.float64), stats

    def _ideal_logits(self, images: torch.Tensor, positions: torch.Tensor, mu: torch.Tensor,
                      model: Any = None) -> torch.Tensor:
        """The attacker's white-box ``model`` (default: the first point's): the whole chain with an
        ideal link (quantiser by STE; the digital baseline's JPEG by BPDA, :meth:`_through_jpeg`)."""
        model = model if model is not None else self.model
        if self.params.scheme == "digital":
            return model(self._through_jpeg(images))
        if self.params.scheme == "jscc":
            return model.logits(images, ideal=True, mu=mu)
        return model.noiseless_logits(images, positions, mu)

    # ----------------------------------------------------------------- records
    def provenance(self) -> Dict[str, Any]:
        p = self.params
        records = [served.record for served in self.served.values()]
        info = {"scheme": p.scheme, "data": self.dataset.provenance(),
                "model": records[0] if len(records) == 1 else records,
                "symbols_per_image": self.symbols_per_image(), "attack": "PGD (eq. 7), white box, ideal link",
                "channel": self.context.channel}
        if any("ssnr_db" in point for point in self.context.points or []):
            info["receiver_attack"] = {**p.receiver_attack.model_dump(), "ssnr": (
                "10 log10(sum |H_t x|^2 / sum |c H_a dx|^2) over each batch, before thermal noise; H_a i.i.d. "
                "CN(0, 1) per image and channel use")}
        if p.scheme == "digital":
            info["symbols_per_image"] = "measured per image (whole LDPC blocks of each JPEG payload)"
            info["attack"] = "PGD (eq. 7), white box: JPEG (straight-through, BPDA) then the classifier"
            info["link"] = dict(self.digital_link().provenance())
        if p.train_channel is not None:
            info["train_channel"] = self._train_channel()
        if p.scheme == "mvqvae" and p.masking == "noise_map":
            info["masking"] = {"mode": "noise_map", **p.noise_map_settings().model_dump(),
                               "trained_with": ("the noise map (Algorithm 3 step 2, Gumbel-top-k at "
                                                f"{p.noise_map_settings().train_temperature:g} from epoch 2)"
                                                if p.trains_on_noise_map() else "random masking"),
                               "scores": {f"J={mp.codebook_size},M_r={mp.masking_ratio:g}": [
                                   round(float(v), 6) for v in served.noise_map]
                                   for mp, served in self.served.items() if served.noise_map is not None}}
        decoders = {f"J={mp.codebook_size},M_r={mp.masking_ratio:g}": served.decoder_record
                    for mp, served in self.served.items() if served.decoder is not None}
        if decoders:
            reference = self.mean_image_reference()
            info["reconstruction"] = {
                "decoder": next(iter(decoders.values())) if len(decoders) == 1 else decoders,
                "config": self.decoder_config(), "stage": stage_dict(self.decoder_stage()),
                "what": "MAE-style decoder trained after the classifier (transmitter, codebook and receiver frozen) "
                        "with MSE on clean training images through the link at the training SNR, "
                        + ("started from the MAE pre-training decoder" if self._decoder_starts_pretrained()
                           else "from scratch (post-hoc; the model has no MAE pre-training)"),
                "metrics": "psnr/ssim/mse of the 8-bit reconstruction against the clean test image",
                "reference_mean_image": reference}
            origin = "from the MAE pre-training decoder" if self._decoder_starts_pretrained() else \
                "post-hoc decoder (no MAE pre-training)"
            info["footer_note"] = (f"reconstruction: {origin}; sending nothing (mean "
                                   f"training image): PSNR {reference['psnr_db']:.1f} dB, SSIM {reference['ssim']:.2f}")
        if p.pretrain is not None:
            info["pretrain"] = {"decoder": self.pretrain_config(),
                                "stage": stage_dict(self.training.stage("pretrain", quick=self.context.quick)),
                                "checkpoints": {f"J={mp.codebook_size},M_r={mp.masking_ratio:g}": served.pretrain_record
                                                for mp, served in self.served.items()}}
        if p.scheme == "mvqvae":
            info["bits_per_index"] = bits_per_index(p.codebook_size)
            from .codebook import coherence

            coherences = {}
            for mp, served in self.served.items():
                mean, largest = coherence(served.model.quantizer.codebook)
                coherences[f"J={mp.codebook_size},M_r={mp.masking_ratio:g}"] = {
                    "mean_abs_cosine": mean, "max_abs_cosine": largest}
            if len(coherences) == 1:
                info["codebook_coherence"] = next(iter(coherences.values()))
            elif coherences:
                info["codebook_coherence"] = coherences
        return info

    def trained_weights(self) -> List[Tuple[str, str]]:
        out = [(WEIGHT_KIND, served.key) for served in self.served.values()]
        if self.params.pretrain is not None:  # the lineage of the model and of a decoder started from it
            out += [(WEIGHT_KIND, self.pretrain_key(mp)) for mp in self.served]
        return out + [(WEIGHT_KIND, served.decoder_key) for served in self.served.values()
                      if served.decoder_key is not None]


__all__ = ["MaskedVqvaeSystem", "WEIGHT_KIND"]
