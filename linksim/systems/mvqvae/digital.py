"""The paper's classical baseline link: JPEG + IEEE 802.16e LDPC + Gray QAM over the scenario's channel.

``scheme: digital`` of :mod:`.system` (the paper's JPEG+LDPC and JPEG+LDPC+AT): each
(attacked) image is quantised to 8-bit pixels, JPEG-coded at a **fixed quality**
(``params.digital.quality``, 75 by default, Pillow's default; the paper's 5,108 B per
224x224 image matches q 75, analysis note), and its payload (the JPEG stream without the
JFIF APP0 segment, :class:`~linksim.source.image_codec.JpegCodec`) is sent as its own
message: :func:`~linksim.source.payload.send_payloads` cuts it into ``k``-bit information
blocks (the last one zero-padded), and every block goes through the WiMAX LDPC code
(n = 2304, rate ``code_rate``, 1/2 by default: k = 1152), Gray ``order``-QAM (16),
the scenario's channel (the same linksim channel object as the learned schemes', e.g.
MIMO 8x4 with SVD precoding), APP demapping and BP decoding
(:class:`~linksim.phy.link.CodedModulationLink`).

Cost per image: ``ceil(8 B / k)`` whole code blocks of ``padded_bits / log2 M`` complex
symbols each (``B`` JPEG bytes; 2304 / 4 = 576 symbols per block for rate 1/2, 16-QAM,
with 1 or 4 MIMO streams), i.e. ``ceil(8 B / (n R)) n / log2 M`` symbols: the paper's
``bits / (R_c B_s)`` rounded up to whole LDPC blocks. ``symbols_per_message`` reports it
per image as sent.

Integrity and fallback follow :mod:`linksim.systems.image_digital`: an image is intact iff
all of its blocks decoded without error (a genie CRC; a real link would spend a few bits
of the payload on it); an intact payload decodes to exactly the transmitter's JPEG image;
a damaged one is never decoded, and the receiver, which has nothing else, classifies the
mid-grey image (:func:`~linksim.systems.image_digital.fallback_image`) and counts the
image in ``image_loss``.

Shapes: images ``uint8 [N, H, W, C]``; per-image arrays ``[N]``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Dict, List, Literal, Mapping

import numpy as np
from pydantic import Field, field_validator

from ...phy.base import Channel
from ...registry import ParamsModel
from ...source.image_codec import EncodedImage, ImageCodec, make_codec

#: LDPC codeword length of the baseline (IEEE 802.16e's longest).
CODEWORD_BITS = 2304
#: Default JPEG quality (Pillow's default; the paper's mean JPEG size fits q 75, analysis note).
DEFAULT_QUALITY = 75


class DigitalParams(ParamsModel):
    """``params.digital`` of ``scheme: digital``: JPEG quality, LDPC rate, QAM order, decoder settings."""

    quality: int = Field(DEFAULT_QUALITY, ge=1, le=100, strict=True,
                         description="JPEG quality 1..100 (fixed per image; the payload length varies)")
    chroma: Literal["420", "444"] = Field("420", description="JPEG chroma subsampling")
    code_rate: str = Field("1/2", description="IEEE 802.16e LDPC rate (n = 2304): 1/2, 2/3A, 2/3B, 3/4A, 3/4B, 5/6")
    order: int = Field(16, strict=True, description="Gray QAM order (2, 4, 16, 64, 256, 1024; the paper: 16)")
    num_iter: int = Field(20, ge=1, le=200, strict=True, description="LDPC BP iterations")
    demapping: Literal["app", "maxlog"] = Field("app", description="soft demapper of the QAM symbols")

    @field_validator("code_rate")
    @classmethod
    def _wimax_rate(cls, rate: str) -> str:
        from ...phy.codes import WimaxLdpc

        allowed = WimaxLdpc.Params.model_fields["rate"].annotation.__args__  # type: ignore[union-attr]
        if rate not in allowed:
            raise ValueError(f"{rate!r} is not an IEEE 802.16e LDPC rate; one of {', '.join(allowed)}")
        return rate

    @field_validator("order")
    @classmethod
    def _qam_order(cls, order: int) -> int:
        from ...phy.modulation import MODULATION_ORDERS

        if order not in MODULATION_ORDERS:
            raise ValueError(f"{order} is not a supported QAM order; one of "
                             f"{', '.join(str(o) for o in MODULATION_ORDERS)}")
        return order

    def code_spec(self) -> Dict[str, Any]:
        """The ``{type: wimax_ldpc, ...}`` spec of :func:`~linksim.phy.codes.build_code`."""
        return {"type": "wimax_ldpc", "rate": self.code_rate, "n": CODEWORD_BITS, "num_iter": self.num_iter}


@dataclass
class DigitalReception:
    """What the receiver of :meth:`JpegLdpcLink.transmit` has for a batch.

    :ivar images: ``uint8 [N, H, W, C]`` the decoded JPEG images, the mid-grey fallback where lost.
    :ivar lost: ``bool [N]`` images whose payload arrived damaged (never decoded).
    :ivar symbols: ``int64 [N]`` complex channel symbols each image cost (whole LDPC blocks).
    :ivar payload_bytes: ``int64 [N]`` JPEG payload bytes per image.
    """

    images: np.ndarray
    lost: np.ndarray
    symbols: np.ndarray
    payload_bytes: np.ndarray


class JpegLdpcLink:
    """JPEG at a fixed quality, each image's payload in whole LDPC blocks over ``channel`` (module doc).

    :param settings: :class:`DigitalParams`.
    :param channel: any linksim channel (e.g. the scenario's MIMO 8x4 with SVD precoding).
    :raises UserError: an invalid code or constellation, naming ``params.digital``.
    """

    def __init__(self, settings: DigitalParams, channel: Channel) -> None:
        from ...phy.link import build_link

        self.settings = settings
        self.codec: ImageCodec = make_codec("jpeg", chroma=settings.chroma)
        self.link = build_link(settings.code_spec(), settings.order, channel, field="params.digital",
                               demapping=settings.demapping)

    def encode(self, images: np.ndarray) -> List[EncodedImage]:
        """``uint8 [N, H, W, C]`` -> one JPEG per image at the fixed quality."""
        return [self.codec.encode(image, self.settings.quality) for image in images]

    def roundtrip(self, images: np.ndarray) -> np.ndarray:
        """``uint8 [N, H, W, C]`` -> what an intact payload decodes to: the JPEG images ``uint8 [N, H, W, C]``."""
        return np.stack([self.codec.decode(encoded) for encoded in self.encode(images)])

    def symbols_for(self, num_bytes: int) -> int:
        """Complex channel symbols a payload of ``num_bytes`` costs: ``ceil(8 B / k)`` blocks x symbols per block."""
        from ...source.payload import symbols_for_payload

        return symbols_for_payload(num_bytes, self.link)

    def transmit(self, images: np.ndarray, snr_db: float, ideal: bool = False) -> DigitalReception:
        """Send ``uint8 [N, H, W, C]`` images at ``snr_db`` (Es/N0 per complex symbol, dB).

        ``ideal``: no channel (the payloads arrive intact; symbols are still counted).
        """
        from ...source.payload import send_payloads
        from ..image_digital import decode_or_fallback

        encoded = self.encode(images)
        sizes = np.array([e.num_bytes for e in encoded], dtype=np.int64)
        if ideal:
            intact = np.ones(len(encoded), dtype=bool)
            symbols = np.array([self.symbols_for(int(b)) for b in sizes], dtype=np.int64)
        else:
            reception = send_payloads(self.link, [e.payload for e in encoded], snr_db)
            intact, symbols = reception.intact, reception.symbols
        received = decode_or_fallback(self.codec, encoded, intact, images.shape[1:])
        return DigitalReception(images=received, lost=~intact, symbols=symbols, payload_bytes=sizes)

    def provenance(self) -> Mapping[str, Any]:
        """The link's settings as run (codec, code, constellation, cost per block, fallback)."""
        from ..image_digital import FALLBACK_VALUE

        s = self.settings
        return {"codec": {**self.codec.provenance(), "quality": s.quality},
                "code": f"IEEE 802.16e LDPC n={CODEWORD_BITS} rate {s.code_rate} (k={self.link.code.k})",
                "num_iter": s.num_iter, "modulation": f"Gray {s.order}-QAM", "demapping": s.demapping,
                "symbols_per_block": self.link.symbols_per_block, "integrity": "genie CRC per image",
                "fallback": f"mid-grey image (uint8 {FALLBACK_VALUE})"}


__all__ = ["CODEWORD_BITS", "DEFAULT_QUALITY", "DigitalParams", "DigitalReception", "JpegLdpcLink"]
