"""Classical image links: BPG/JPEG + IEEE 802.16e LDPC + QAM, the BPG+Capacity bound,
and codec-only rate/quality curves (SemCC paper, Sec. VI-A).

``image_digital`` (separate source and channel coding)
------------------------------------------------------

Per sweep point (bandwidth ratio, SNR) every image gets ``k = round(ratio x H W C)``
complex channel uses (:func:`~.quality.symbols_for_ratio`). With a WiMAX LDPC code
(n = 2304, rate ``R = k_c / n``) and ``M``-QAM the image's **bit budget** is
``floor(k log2(M) R)`` information bits, and the codec's highest quality whose
payload fits ``floor(budget / 8)`` bytes is sent (:func:`~linksim.source.image_codec.fit_budget`).

*Codeword sharing.* At small ratios an image's budget is far below one codeword
(ratio 1/24 on 32x32x3: k = 128 symbols = 128..576 information bits, a codeword
holds 1152..1728), so the images of a batch share codewords: each image owns a slot
of exactly ``budget`` bits in one bit stream (its payload, then padding), the stream
is cut into ``k_c``-bit information blocks (the last one padded), encoded, mapped,
sent through the scenario's channel and decoded; slots are read back from the decoded
stream.

*Fading.* With ``coherence: symbol`` each channel use fades independently. With a
fading channel in blocks the code blocks go out serially on one channel
(:meth:`ImageDigitalSystem.stream_channel`): ``coherence: block`` (one fade per image
for the learned links) becomes one fade per ``k / S`` channel uses of the stream
(``S`` symbols per channel use, below), one image's allocation, so both kinds of link
see fades of the same length; an integer coherence counts channel uses along the
stream. An image's slot may straddle two fades, as a real serial transmission would. All
padding bits (in a slot after the payload, after the last slot) are uniform random
bits from ``sionna.phy.config.np_rng``, so the transmitted symbols look like data.
The channel uses of the last block's padding are not charged to the images:
``symbols_per_message`` is ``k`` per image (the allocation the ratio defines).

*MIMO.* Any linksim channel carries the stream, the ``mimo`` channel included
(``{type: mimo, nt: 8, nr: 4, precoding: svd, streams: 1|2|4}`` or ``{..., equalizer:
lmmse}``). Such a channel sends ``S`` QAM symbols per channel use
(``channel.symbols_multiple``: ``streams`` with ``precoding: svd``, ``nt`` without) and
``snr_db`` is its SNR per receive antenna at total transmit power 1 per channel use
(:class:`~linksim.phy.channels.MIMOChannel`). The budget ``k`` counts **complex QAM
symbols, all streams together** (as the learned links and ``symbols_per_message``
count them), so an image occupies ``k / S`` channel uses; the formulas above are
unchanged (``log2(M)`` coded bits per symbol). ``k`` must fill whole channel uses:
a sweep point (or ``params.bandwidth_ratio``) whose ``k`` is not a multiple of ``S``
is refused (:func:`symbols_per_image`, a :class:`~linksim.errors.UserError` naming
the field and the nearest usable ratios). Each LDPC block is padded with random bits
to a whole number of channel uses (:class:`~linksim.phy.link.CodedModulationLink`:
``symbols_per_block`` = ``ceil(2304 / (S log2 M)) S``; no padding for ``M`` <= 256 and
``S`` in 1, 2, 4, 8), and the budget charges it. SISO channels are ``S = 1``.

*Integrity.* An image is **intact** iff every payload bit of its slot was decoded
correctly: a genie CRC (a real link would spend a few bits of the budget on a CRC;
not modelled). An intact payload is decoded (bit-exact, so the codec decodes its
stored container, see :mod:`linksim.source.image_codec`); a damaged one is never
decoded.

*Fallback.* An image that is lost (damaged payload) or for which no codec quality
fits the budget is replaced by the **mid-grey image** (every sample 128, i.e.
0.502 in [0, 1]: :data:`FALLBACK_VALUE`) and counted in ``image_loss``
(``images_lost``). PSNR, SSIM, MSE and accuracy are computed on the receiver's
output, fallbacks included; ``bpp`` counts the payload bits sent (0 when nothing fit).
Downstream accuracy (labelled datasets only) is the shared downstream classifier's
(:func:`~.classifier.downstream_classifier`) on the receiver output.

*Choice of code rate and modulation.* ``select: fixed`` uses the single combination
given (``code_rates`` and ``orders`` with one entry each; e.g. the paper's
``3/4`` + 64-QAM at 20 dB). ``select: best`` (the paper's "optimal combination")
picks, per sweep point, the combination of ``code_rates x orders`` with the highest
mean PSNR (``select_metric: psnr``) or accuracy (``select_metric: accuracy``, ties by
PSNR; needs labels) on a **pilot set**: ``pilot_images`` test images (default 64,
:data:`QUICK_PILOT_IMAGES` in ``--quick`` runs; a fixed subset drawn once from the
scenario seed), each combination simulated once with Sionna's
generators seeded from (scenario seed, system label, ratio, SNR). The choice is made
in ``setup`` for every point of the sweep, recorded in ``provenance()["choices"]``
(with the pilot means of every combination) and then used for all batches of the
point. Ties go to the first combination in ``code_rates x orders`` order.

``bound: capacity`` (BPG+Capacity) replaces code and modulation by an error-free
link at capacity: budget ``floor((k / S) C(SNR))`` bits (:func:`capacity_bits`) with
``C`` the channel's :meth:`~linksim.phy.base.Channel.capacity` in bit per channel use
(``S`` symbols): ``C = log2(1 + snr)`` on AWGN and the ergodic capacity on Rayleigh /
Rician fading (:mod:`linksim.phy.theory`, perfect CSI), all with ``S = 1``, i.e.
``floor(k C)``. The ``mimo`` channel has no capacity formula
(``MIMOChannel.capacity`` is None: it would depend on the precoding and on how the
power is spread over the streams; ``capacity_mimo_rayleigh`` of :mod:`~linksim.phy.theory`
is the no-Tx-CSI curve for plots), so the bound refuses it. Nothing is lost on the
channel; images that do not fit are still fallbacks.

``image_codec`` (no channel)
----------------------------

Rate/quality curves of the codec alone: sweep ``bpp`` (target bits per pixel); each
image is coded at the highest quality with at most ``floor(bpp H W / 8)`` bytes.
Reports PSNR, SSIM, MSE, the actual ``bpp`` and ``image_loss`` (nothing fits; the
image is then the mid-grey fallback, included in the means).
"""

from __future__ import annotations

import hashlib
import math
from contextlib import contextmanager
from typing import Any, ClassVar, Dict, FrozenSet, Iterator, List, Literal, Mapping, Optional, Sequence, Tuple

import numpy as np
import torch
from pydantic import Field, ValidationInfo, field_validator

from ..errors import UserError
from ..registry import Number, ParamsModel, systems
from ..source.image_codec import EncodedImage, ImageCodec, fit_budget, make_codec
from ..source.payload import bytes_to_bits
from ..vision import quality
from ..vision.classifier import ClassifierParams
from .base import SystemContext
from . import image_system
from .image_system import ImageSystem

#: Sample value (uint8) of the receiver's output for a lost or unsendable image.
FALLBACK_VALUE = 128

#: Pilot-set size of ``select: best`` in ``--quick`` runs.
QUICK_PILOT_IMAGES = 8

IMAGE_METRICS = frozenset({"psnr", "ssim", "mse", "accuracy", "bpp", "image_loss", "symbols_per_message"})


def fallback_image(shape: Sequence[int]) -> np.ndarray:
    """The receiver output for an image it has nothing for: mid-grey ``uint8 [H, W, C]``."""
    return np.full(tuple(shape), FALLBACK_VALUE, dtype=np.uint8)


def _no_capacity(kind: Any) -> UserError:
    """The refusal of ``bound: capacity`` on a channel without a capacity formula."""
    hint = ("; the mimo channel has none (it would depend on the precoding and the power per "
            "stream): use params.bound: none (LDPC + QAM) over MIMO" if kind == "mimo" else "")
    return UserError(f"channel.type: no capacity formula for {kind!r} (params.bound: capacity needs one){hint}")


def capacity_bits(k: int, snr_db: float, channel: Mapping[str, Any]) -> int:
    """Information bits ``k`` complex symbols carry at the channel's capacity.

    ``floor((k / S) C(snr))`` with ``C`` the channel's
    :meth:`~linksim.phy.base.Channel.capacity` in bit per channel use and ``S`` its
    symbols per channel use (``symbols_multiple``): ``k / S`` channel uses. Every channel
    with a capacity formula is SISO (``S = 1``: ``floor(k C)``).

    :param k: complex symbols per image (all streams together).
    :param snr_db: Es/N0 per channel use [dB] (the channel's SNR convention).
    :param channel: the channel spec ``{type: ..., **params}``.
    :raises UserError: the channel has no capacity formula.
    """
    from ..phy.channels import build_channel

    built = build_channel(dict(channel), field="channel")
    c = built.capacity(snr_db)
    if c is None:
        raise _no_capacity(channel.get("type"))
    streams = built.symbols_multiple
    uses = k if streams == 1 else k / streams
    return int(math.floor(uses * float(c) + 1e-9))


def symbols_per_image(ratio: float, image_shape: Sequence[int], streams: int = 1, *, field: str) -> int:
    """``k = round(ratio H W C)`` complex symbols per image, a whole number of channel uses.

    :param ratio: bandwidth ratio ``k / (H W C)``.
    :param image_shape: ``(H, W, C)``.
    :param streams: symbols per channel use of the channel (``symbols_multiple``; ``S``
        MIMO streams, 1 for SISO).
    :param field: the scenario field that set the ratio (``sweep`` or ``params.bandwidth_ratio``).
    :returns: ``k``, a multiple of ``streams`` (``k / streams`` channel uses).
    :raises UserError: naming ``field``: ``k < 1`` (:func:`~linksim.vision.quality.symbols_for_ratio`)
        or ``k`` not a multiple of ``streams`` (with the nearest ratios that fit).
    """
    k = quality.symbols_for_ratio(ratio, image_shape, field=field)
    if k % streams:
        n = quality.source_dimension(image_shape)
        lower, upper = (k // streams) * streams, (k // streams + 1) * streams
        usable = " or ".join(f"{m}/{n} (k = {m})" for m in (lower, upper) if 1 <= m <= n)
        raise UserError(f"{field}: bandwidth_ratio {ratio:g} gives k = {k} symbols per "
                        f"{'x'.join(map(str, image_shape))} image, not a whole number of channel uses of "
                        f"{streams} symbols (the channel's MIMO streams); use a ratio whose k is a multiple "
                        f"of {streams}, e.g. {usable}")
    return k


@contextmanager
def _preserved_rngs() -> Iterator[None]:
    """Run a block that reseeds Sionna's generators, then restore their seed and states.

    The pilot simulations of ``select: best`` may run inside a batch (a point that was
    not known at setup); restoring keeps the batch a pure function of its seed.
    """
    import sionna.phy

    config = sionna.phy.config
    device = str(config.device)
    seed, np_state, torch_state = config.seed, config.np_rng.bit_generator.state, config.torch_rng(device).get_state()
    try:
        yield
    finally:
        config.seed = seed
        config.np_rng.bit_generator.state = np_state
        config.torch_rng(device).set_state(torch_state)


def _downstream_classifier(context: SystemContext, dataset: Any, params: ClassifierParams) -> Any:
    from ..vision.classifier import downstream_classifier

    return downstream_classifier(context, dataset, params)


class _CodecParams(ParamsModel):
    codec: str = Field("bpg", description="a registered source codec (linksim list source_codecs): bpg or jpeg")
    chroma: Literal["420", "444"] = Field("420", description="chroma subsampling of the codec")

    @field_validator("codec")
    @classmethod
    def _registered_codec(cls, name: str) -> str:
        from ..registry import source_codecs

        if name not in source_codecs:
            raise ValueError(f"unknown source codec {name!r}; registered: {', '.join(source_codecs.names())}")
        return name


def _build_codec(params: _CodecParams) -> ImageCodec:
    return make_codec(params.codec, chroma=params.chroma)


def _codec_provenance(codec: ImageCodec) -> Dict[str, Any]:
    import PIL

    info: Dict[str, Any] = {**codec.provenance(), "pillow": PIL.__version__}
    if codec.name == "bpg":
        import pillow_heif

        lib = pillow_heif.libheif_info()
        info.update({"pillow_heif": pillow_heif.__version__, "libheif": lib.get("libheif"),
                     "hevc_encoder": lib.get("HEIF"), "hevc_decoders": lib.get("decoders")})
    return info


def _codec_images(codec: ImageCodec, images: np.ndarray, budget_bytes: int) -> List[Optional[EncodedImage]]:
    return [fit_budget(codec, img, budget_bytes) for img in images]


def decode_or_fallback(codec: ImageCodec, encoded: Sequence[Optional[EncodedImage]], intact: np.ndarray,
                       shape: Sequence[int]) -> np.ndarray:
    """The receiver's images ``uint8 [N, *shape]``: each intact payload decoded, the
    :func:`fallback_image` where a payload is missing (``None``: nothing fit) or damaged."""
    out = np.empty((len(encoded), *shape), dtype=np.uint8)
    fallback = fallback_image(shape)
    for i, (enc, ok) in enumerate(zip(encoded, intact)):
        out[i] = codec.decode(enc) if (enc is not None and ok) else fallback
    return out


@systems.register("image_digital")
class ImageDigitalSystem(ImageSystem):
    """BPG/JPEG + WiMAX LDPC (n = 2304) + QAM, or the BPG+Capacity bound (see module doc)."""

    class Params(_CodecParams):
        code_rates: List[str] = Field(default_factory=lambda: ["1/2", "2/3", "3/4"], max_length=8,
                                      description="IEEE 802.16e LDPC rates (n = 2304); at most the 8 rate names")
        orders: List[int] = Field(default_factory=lambda: [4, 16, 64], max_length=6,
                                  description="QAM orders; at most the 6 supported (2, 4, 16, 64, 256, 1024)")
        select: Literal["best", "fixed"] = Field(
            "best", description="best: per point the combination best on a pilot set; fixed: the single one given")
        select_metric: Literal["psnr", "accuracy"] = "psnr"
        pilot_images: int = Field(64, ge=1, le=100_000, description="test images of the pilot set for select: best "
                                                                   "(1..100000; at most the test split is used)")
        bound: Literal["none", "capacity"] = Field("none", description="capacity: BPG+Capacity (error-free at C)")
        bandwidth_ratio: Optional[Number] = Field(None, gt=0, le=1, description="k/n when the sweep does not set it")
        num_iter: int = Field(20, ge=1, le=200, description="LDPC BP iterations")
        demapping: Literal["app", "maxlog"] = "app"
        downstream: ClassifierParams = Field(default_factory=ClassifierParams,
                                             description="the downstream model that judges the reconstructions")

        @field_validator("code_rates", "orders")
        @classmethod
        def _not_empty(cls, value: List[Any], info: ValidationInfo) -> List[Any]:
            if not value:
                raise ValueError("give at least one " + ("code rate" if info.field_name == "code_rates" else "QAM order"))
            return value

    sweep_parameters: ClassVar[FrozenSet[str]] = quality.IMAGE_SWEEP_PARAMETERS
    metrics_provided: ClassVar[FrozenSet[str]] = IMAGE_METRICS

    def __init__(self, params: ParamsModel, context: SystemContext) -> None:
        super().__init__(params, context)
        self._classifier: Any = None
        self._links: Dict[Tuple[str, int], Any] = {}
        self._stream_channels: Dict[int, Any] = {}
        self._choices: Dict[Tuple[float, float], Tuple[str, int]] = {}
        self._pilot_report: Dict[str, Any] = {}

    # -- validation -------------------------------------------------------------------

    @staticmethod
    def _code_spec(rate: str, num_iter: int) -> Dict[str, Any]:
        return {"type": "wimax_ldpc", "rate": rate, "n": 2304, "num_iter": num_iter}

    @classmethod
    def _check_channel(cls, params: Any, context: SystemContext) -> Any:
        """The scenario's channel (SISO or MIMO), refused where ``params.bound: capacity`` has no formula
        or imperfect CSI."""
        from ..phy.channels import build_channel

        channel = build_channel(context.channel, field="channel")
        kind = (context.channel or {}).get("type")
        if params.bound == "capacity" and channel.capacity(0.0) is None:
            raise _no_capacity(kind)
        csi = getattr(getattr(channel, "params", None), "csi", None)
        if params.bound == "capacity" and csi is not None and getattr(csi, "type", "perfect") != "perfect":
            raise UserError("channel.csi: the capacity bound (params.bound: capacity) assumes perfect CSI")
        return channel

    @classmethod
    def validate_context(cls, params: ParamsModel, context: SystemContext) -> None:
        from ..phy.link import build_link

        p: Any = params
        channel = cls._check_channel(p, context)
        if p.select == "fixed" and (len(p.code_rates) != 1 or len(p.orders) != 1):
            raise UserError("params.select: fixed needs exactly one code rate (params.code_rates) and one QAM "
                            f"order (params.orders); got {len(p.code_rates)} and {len(p.orders)}")
        if p.bound == "none":
            for rate in p.code_rates:
                for order in p.orders:
                    build_link(cls._code_spec(rate, p.num_iter), order, channel, field="params",
                               demapping=p.demapping)
        dataset = image_system.image_dataset(context)
        if p.select_metric == "accuracy" and p.select == "best" and p.bound == "none" and dataset.num_classes < 1:
            raise UserError("params.select_metric: accuracy needs a labelled dataset")
        cls.check_points(context, dataset.image_shape, p.bandwidth_ratio, need_snr=True)
        cls._check_allocations(context, dataset.image_shape, p.bandwidth_ratio, channel)

    @staticmethod
    def _check_allocations(context: SystemContext, image_shape: Sequence[int], default_ratio: Optional[float],
                           channel: Any) -> None:
        """Every point's ``k`` fills whole channel uses (:func:`symbols_per_image`), and with
        ``coherence: block`` one image's ``k / S`` channel uses are a valid coherence.

        :raises UserError: naming ``sweep`` / ``params.bandwidth_ratio``, or ``channel.coherence``.
        """
        from ..phy.channels import MAX_COHERENCE

        streams = channel.symbols_multiple
        block = getattr(getattr(channel, "params", None), "coherence", None) == "block"
        for point in context.points or [{}]:
            ratio = point.get("bandwidth_ratio", default_ratio)
            field = "sweep" if "bandwidth_ratio" in point else "params.bandwidth_ratio"
            uses = symbols_per_image(float(ratio), image_shape, streams, field=field) // streams
            if block and uses > MAX_COHERENCE:
                raise UserError(f"channel.coherence: 'block' is one fade per image, {uses} channel uses at "
                                f"bandwidth_ratio {float(ratio):g}, more than the {MAX_COHERENCE} a fading "
                                "block may last; give an integer coherence")

    # -- setup ------------------------------------------------------------------------

    def setup(self) -> None:
        from ..phy.channels import build_channel
        from ..phy.link import build_link

        p: Any = self.params
        self.codec = _build_codec(p)
        self._channel = build_channel(self.context.channel, field="channel")
        test = self.dataset.split("test")
        self._images = test.images
        self._labels = getattr(test, "labels", None) if self.dataset.num_classes > 0 else None
        if self.dataset.num_classes > 0:
            self._classifier = _downstream_classifier(self.context, self.dataset, p.downstream)
        if p.bound == "none":
            for rate in p.code_rates:
                for order in p.orders:
                    self._links[(rate, order)] = build_link(self._code_spec(rate, p.num_iter), order,
                                                            self._channel, field="params", demapping=p.demapping)
            self._choose_all()

    def _choose_all(self) -> None:
        p: Any = self.params
        combos = list(self._links)
        if p.select == "fixed" or len(combos) == 1:
            for point in self.context.points:
                self._choices[self._key(point)] = combos[0]
            self._fixed = combos[0]
            return
        self._fixed = None
        rng = np.random.default_rng(int(self.context.seed))
        n = len(self._images)
        size = min(p.pilot_images, QUICK_PILOT_IMAGES if self.context.quick else p.pilot_images, n)
        self._pilot = rng.choice(n, size=size, replace=False)
        for point in self.context.points:
            self.choose(point)

    @staticmethod
    def _key(point: Mapping[str, float]) -> Tuple[float, float]:
        return (float(point.get("bandwidth_ratio", -1.0)), float(point.get("snr_db", float("nan"))))

    def _ratio_snr(self, point: Mapping[str, float]) -> Tuple[float, float]:
        return quality.point_ratio_and_snr(dict(point), self.params.bandwidth_ratio)  # type: ignore[attr-defined]

    def _symbols(self, point: Mapping[str, float], ratio: float) -> int:
        """``k`` of ``point``: complex symbols per image, a multiple of the channel's streams."""
        field = "sweep" if "bandwidth_ratio" in point else "params.bandwidth_ratio"
        return symbols_per_image(ratio, self.image_shape, self._channel.symbols_multiple, field=field)

    def choose(self, point: Mapping[str, float]) -> Tuple[str, int]:
        """The (code rate, QAM order) used at ``point`` (pilot-set selection; cached)."""
        import sionna.phy

        key = self._key(point)
        if key in self._choices:
            return self._choices[key]
        if getattr(self, "_fixed", None) is not None:
            self._choices[key] = self._fixed
            return self._fixed
        p: Any = self.params
        ratio, snr = self._ratio_snr(point)
        k = self._symbols(point, ratio)
        images = self._images[self._pilot]
        labels = self._labels[self._pilot] if self._labels is not None else None
        seed_key = f"linksim/image_digital/pilot/{self.context.seed}/{self.context.label}/{ratio!r}/{snr!r}".encode()
        seed = int.from_bytes(hashlib.sha256(seed_key).digest()[:4], "little")
        scores = {}
        with _preserved_rngs():
            for combo in self._links:
                sionna.phy.config.seed = seed
                recon, _, _ = self._transmit(images, k, snr, combo)
                psnr = float(quality.psnr_per_image(images, recon).mean())
                acc = None
                if labels is not None and self._classifier is not None:
                    acc = float(np.mean(self._classifier.predict(recon) == labels))
                scores[combo] = (psnr, acc)
        if p.select_metric == "accuracy" and labels is not None:
            best = max(self._links, key=lambda c: (scores[c][1], scores[c][0]))
        else:
            best = max(self._links, key=lambda c: scores[c][0])
        self._choices[key] = best
        self._pilot_report[f"bandwidth_ratio={ratio:g}, snr_db={snr:g}"] = {
            "code_rate": best[0], "modulation": best[1],
            "pilot_psnr": {f"{c[0]} {c[1]}-QAM": round(s[0], 3) for c, s in scores.items()},
            **({"pilot_accuracy": {f"{c[0]} {c[1]}-QAM": s[1] for c, s in scores.items()}}
               if labels is not None else {}),
        }
        return best

    # -- simulation -------------------------------------------------------------------

    def budget_bits(self, k: int, snr_db: float, combo: Optional[Tuple[str, int]]) -> int:
        """Information bits per image of ``k`` complex symbols (all streams together).

        ``floor(k log2(M) k_c / padded_bits)`` (``= floor(k log2(M) R)`` when a code block
        needs no padding to whole channel uses) for ``combo = (rate, M)``, or
        :func:`capacity_bits` (``floor((k / S) C(snr))``) for the bound (``combo`` None).
        """
        if combo is None:
            return capacity_bits(k, snr_db, self.context.channel)
        link = self._links[combo]
        m = link.modulation.bits_per_symbol
        return (k * m * link.code.k) // link.padded_bits

    def _transmit(self, images: np.ndarray, k: int, snr_db: float,
                  combo: Optional[Tuple[str, int]]) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Send ``uint8 [N, H, W, C]`` images with ``k`` complex symbols each at ``snr_db``.

        :returns: the receiver output ``uint8 [N, H, W, C]``, lost flags ``bool [N]`` and
            payload bits ``int64 [N]`` per image.
        """
        budget = self.budget_bits(k, snr_db, combo)
        encoded = _codec_images(self.codec, images, budget // 8)
        fits = np.array([e is not None for e in encoded], dtype=bool)
        payload_bits = np.array([e.num_bits if e is not None else 0 for e in encoded], dtype=np.int64)
        intact = fits.copy()
        if combo is not None and fits.any():
            intact = fits & self._send_stream(encoded, budget, snr_db, self._links[combo], self.stream_channel(k))
        recon = decode_or_fallback(self.codec, encoded, intact, images.shape[1:])
        return recon, ~intact, payload_bits

    def stream_channel(self, k: int) -> Optional[Any]:
        """The channel the batch's code blocks are sent through, one after another, or None.

        None (each code block a row of the scenario's channel) unless the channel fades in
        blocks. With ``coherence: block`` (one fade per example: per image for the learned
        links) the stream sees one fade per ``k / S`` channel uses (``k`` complex symbols
        per image, ``S`` per channel use: the MIMO streams, 1 for SISO), one image's
        allocation; with an integer coherence the blocks of that many channel uses run
        along the stream. Both links then see the same channel: fades that last as long in
        channel uses, whatever the code-block boundaries.

        :param k: complex symbols per image (a multiple of ``S``, :func:`symbols_per_image`).
        """
        coherence = getattr(getattr(self._channel, "params", None), "coherence", None)
        if coherence is None or coherence == "symbol":
            return None
        if coherence != "block":
            return self._channel
        if k not in self._stream_channels:
            from ..phy.channels import build_channel

            uses = int(k) // self._channel.symbols_multiple
            self._stream_channels[k] = build_channel({**dict(self.context.channel), "coherence": uses},
                                                     field="channel")
        return self._stream_channels[k]

    @staticmethod
    def _send_stream(encoded: Sequence[Optional[EncodedImage]], budget: int, snr_db: float, link: Any,
                     channel: Optional[Any] = None) -> np.ndarray:
        """Send the batch's slots through ``link``; True where an image's payload bits all arrived.

        :param encoded: per image its payload, or None (nothing fit: its slot is padding).
        :param budget: bits per image slot.
        :param snr_db: the channel's SNR [dB].
        :param link: the code + QAM + channel chain (SISO or MIMO).
        :param channel: send the code blocks serially through it (see :meth:`stream_channel`).
        :returns: ``bool [N]``.
        """
        import sionna.phy

        rng = sionna.phy.config.np_rng
        kc = link.code.k
        total = len(encoded) * budget
        blocks = -(-total // kc)
        stream = rng.integers(0, 2, size=blocks * kc, dtype=np.uint8)  # padding everywhere ...
        for i, enc in enumerate(encoded):  # ... overwritten by the payloads
            if enc is not None:
                bits = bytes_to_bits(enc.payload)
                stream[i * budget: i * budget + bits.size] = bits
        device = sionna.phy.config.device
        u = torch.from_numpy(stream.reshape(blocks, kc).astype(np.float32)).to(device)
        sent = link.transmit(u, snr_db, channel=channel, serial=True) if channel is not None else link.transmit(u, snr_db)
        u_hat = sent.to(torch.uint8).cpu().numpy().reshape(-1)
        ok = np.zeros(len(encoded), dtype=bool)
        for i, enc in enumerate(encoded):
            if enc is not None:
                lo, hi = i * budget, i * budget + enc.num_bits
                ok[i] = bool(np.array_equal(u_hat[lo:hi], stream[lo:hi]))
        return ok

    def simulate(self, batch_size: int, point: Mapping[str, float]) -> Dict[str, float]:
        import sionna.phy

        ratio, snr = self._ratio_snr(point)
        k = self._symbols(point, ratio)
        combo = None if self.params.bound == "capacity" else self.choose(point)  # type: ignore[attr-defined]
        idx = sionna.phy.config.np_rng.integers(0, len(self._images), size=batch_size)
        images = self._images[idx]
        recon, lost, payload_bits = self._transmit(images, k, snr, combo)
        labels = predicted = None
        if self._labels is not None and self._classifier is not None:
            labels = self._labels[idx]
            predicted = self._classifier.predict(recon)
        return quality.image_statistics(images, recon, labels=labels, predicted=predicted,
                                       symbols=np.full(batch_size, k, dtype=np.float64),
                                       payload_bits=payload_bits, lost=lost)

    def provenance(self) -> Dict[str, Any]:
        p: Any = self.params
        info: Dict[str, Any] = {"system": "image_digital", "codec": _codec_provenance(self.codec),
                                "bound": p.bound, "data": self.dataset.provenance(),
                                "fallback": f"mid-grey image (uint8 {FALLBACK_VALUE})"}
        if p.bound == "none":
            info["link"] = {"code": "IEEE 802.16e LDPC n=2304", "num_iter": p.num_iter, "demapping": p.demapping,
                            "select": p.select, "select_metric": p.select_metric,
                            "channel": dict(self.context.channel)}
            if self._channel.symbols_multiple != 1:
                info["link"]["symbols_per_channel_use"] = self._channel.symbols_multiple
            info["choices"] = self._pilot_report or {
                f"bandwidth_ratio={self._ratio_snr(pt)[0]:g}, snr_db={self._ratio_snr(pt)[1]:g}":
                    {"code_rate": c[0], "modulation": c[1]}
                for pt in self.context.points for c in [self.choose(pt)]}
            if p.select == "best":
                info["pilot_images"] = int(len(getattr(self, "_pilot", [])))
        else:
            info["link"] = {"capacity": dict(self.context.channel)}
        if self._classifier is not None:
            info["downstream"] = getattr(self._classifier, "info", None)
        return info

    def trained_weights(self) -> List[Tuple[str, str]]:
        if self.dataset.num_classes > 0:
            from ..vision.classifier import classifier_weights

            return classifier_weights(self.context, self.dataset, self.params.downstream)  # type: ignore[attr-defined]
        return []


@systems.register("image_codec")
class ImageCodecSystem(ImageSystem):
    """Codec-only rate/quality: PSNR/SSIM vs bits per pixel (no channel)."""

    class Params(_CodecParams):
        pass

    sweep_parameters: ClassVar[FrozenSet[str]] = frozenset({"bpp"})
    sweep_labels: ClassVar[Dict[str, str]] = {"bpp": "Bits per pixel"}
    metrics_provided: ClassVar[FrozenSet[str]] = frozenset({"psnr", "ssim", "mse", "bpp", "image_loss"})

    def __init__(self, params: ParamsModel, context: SystemContext) -> None:
        super().__init__(params, context)

    @classmethod
    def validate_context(cls, params: ParamsModel, context: SystemContext) -> None:
        image_system.image_dataset(context)
        for point in context.points:
            if "bpp" not in point:
                raise UserError("sweep: image_codec sweeps bpp (target bits per pixel)")
            if not point["bpp"] > 0:
                raise UserError(f"sweep: bpp must be > 0, got {point['bpp']!r}")

    @property
    def dataset(self) -> Any:
        if self._dataset is None:
            self._dataset = image_system.image_dataset(self.context)
        return self._dataset

    def setup(self) -> None:
        self.codec = _build_codec(self.params)  # type: ignore[arg-type]
        self._images = self.dataset.split("test").images

    def simulate(self, batch_size: int, point: Mapping[str, float]) -> Dict[str, float]:
        import sionna.phy

        idx = sionna.phy.config.np_rng.integers(0, len(self._images), size=batch_size)
        images = self._images[idx]
        h, w = images.shape[1:3]
        budget = int(math.floor(float(point["bpp"]) * h * w / 8 + 1e-9))
        encoded = _codec_images(self.codec, images, budget)
        fits = np.array([e is not None for e in encoded], dtype=bool)
        recon = decode_or_fallback(self.codec, encoded, fits, images.shape[1:])
        bits = np.array([e.num_bits if e is not None else 0 for e in encoded], dtype=np.int64)
        return quality.image_statistics(images, recon, payload_bits=bits, lost=~fits)

    def provenance(self) -> Dict[str, Any]:
        return {"system": "image_codec", "codec": _codec_provenance(self.codec), "data": self.dataset.provenance(),
                "fallback": f"mid-grey image (uint8 {FALLBACK_VALUE})"}
