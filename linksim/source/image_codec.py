"""Image source codecs of the classical baselines: BPG (HEVC intra) and JPEG.

A codec turns a ``uint8 [H, W, C]`` image (C = 1 grayscale or 3 RGB) into an
:class:`EncodedImage` at an integer *quality* and back. ``EncodedImage.payload`` is
exactly the bytes that travel on the channel; its length is the rate that the
``bpp`` metric reports and that must fit a link's bit budget (:func:`fit_budget`).

**BPG.** Bellard's BPG is an HEVC (H.265) intra picture with a small byte header.
There is no BPG library in Python, so :class:`BpgCodec` encodes with x265 through
pillow-heif (libheif) and rewrites the HEVC stream of the resulting HEIF file into
the BPG layout of the BPG specification (version 0.9):

* the ISO-BMFF boxes of the HEIF file (``ftyp``, ``meta`` with ``hdlr``/``pitm``/
  ``iinf``/``iloc``/``iprp``/``ipco``/``ipma``, ``mdat``) are parsed; the primary
  item's ``hvcC`` box gives the parameter-set NAL units (VPS, SPS, PPS) and its
  ``iloc`` extents in ``mdat`` give the coded slice NAL units (4-byte length prefixes,
  ``lengthSizeMinusOne = 3``); everything else (boxes, item properties, colour
  information, the length prefixes) is container and is not counted;
* the payload is then a BPG file: ``file_magic`` (4 bytes), two format bytes (pixel
  format, bit depth, colour space 0 = YCbCr, flags 0), ``picture_width``,
  ``picture_height`` and ``picture_data_length`` as ``ue7`` (1 to 5 bytes each; 1, 1
  and 1-2 bytes for a 32x32 image: :data:`BPG_FIXED_HEADER_BYTES` = 6 fixed bytes),
  then ``hevc_header_and_data``: ``hevc_header_length`` (ue7), the compact
  ``hevc_header`` (the SPS coding-block/transform sizes, SAO/PCM/strong-intra flags
  as read from x265's SPS; 3-4 bytes), and ``hevc_data``: the PPS and slice NAL units
  in Annex-B form with **4-byte start codes** ``00 00 00 01`` between them and none
  before the first (as BPG stores them);
* as in BPG, the VPS and SPS NAL units are *not* sent (the decoder rebuilds them
  from the header; they cost about 60-80 bytes, more than a whole 32x32 image at
  low rate), and SEI NAL units (encoder information) are dropped.

So ``len(payload)`` is the size a ``.bpg`` file of the same HEVC bitstream would
have (up to the start-code length, which the spec lets be 3 or 4 bytes).
``EncodedImage.sizes`` keeps the accounting: ``heif`` (container file), ``slices``
(slice NAL units in ``mdat``, no prefixes), ``parameter_sets`` (VPS+SPS+PPS with
4-byte prefixes, as a full Annex-B stream would carry them), ``annexb`` (the complete
Annex-B stream: parameter sets + slices with start codes), ``payload``.

*Decoding.* BPG bytes are not fed back to a decoder: the receiver of the digital
link checks integrity (a genie CRC, see :mod:`linksim.systems.image_digital`), so an
image is decoded only when its payload arrived bit-exact, and then decoding the
stored HEIF container (``EncodedImage.container``, which carries the identical HEVC
bitstream) gives the identical picture. A damaged payload is never decoded.

Encoder settings mirror ``bpgenc``'s x265 front end where libheif lets us: constant
QP (``qp = q + 1`` for 8-bit input, as bpgenc does), 8-bit, full-range BT.601 YCbCr
4:2:0 by default (``chroma="444"`` for 4:4:4), x265 preset ``placebo`` (bpgenc's
default compression level 8; ``veryslow`` for images smaller than 32 pixels on a side,
where x265 rejects ``placebo`` with libheif's 16x16 CTUs) tuned for SSIM, only I frames.

*Picture padding.* libheif hands x265 a picture of at least 64x64 (even sizes), the
extra rows and columns replicating the edge, and crops on decoding; bpgenc would pad
to a multiple of 8 only. The replicated area is cheap but not free: a flat 32x32
image codes into 11-17 slice bytes (q 50..10), an upper bound on that overhead. ``q`` is BPG's ``-q``:
0 (best) .. 50 (worst); bpgenc's 51 would need x265 QP 52, which x265 rejects.

**JPEG.** Pillow's libjpeg, baseline, ``optimize=True`` (optimal Huffman tables),
4:2:0 chroma by default; quality 1..100. The payload is the JPEG stream without the
JFIF ``APP0`` segment (metadata: 18 bytes; decoders assume YCbCr without it).

**Cache.** The digital system evaluates the same test images at many budgets;
:meth:`ImageCodec.encode` and :meth:`ImageCodec.decode` keep an LRU cache keyed by a
hash of the image bytes, its shape, the codec settings and the quality, bounded in
bytes (:attr:`ImageCodec.cache_bytes`).
"""

from __future__ import annotations

import hashlib
import io
import struct
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any, Dict, List, Literal, Optional, Sequence, Tuple

import numpy as np

from ..registry import source_codecs

#: BPG ``file_magic`` (``'B' 'P' 'G' 0xfb``).
BPG_MAGIC = b"BPG\xfb"
#: Bytes of the BPG header that do not depend on the picture: magic (4) + 2 format bytes.
BPG_FIXED_HEADER_BYTES = 6
#: Annex-B start code written between NAL units of BPG's ``hevc_data``.
START_CODE = b"\x00\x00\x00\x01"

# HEVC NAL unit types (H.265 Table 7-1).
NAL_VPS, NAL_SPS, NAL_PPS = 32, 33, 34
_NAL_SEI = (39, 40)


@dataclass(eq=False)
class EncodedImage:
    """One compressed image.

    :ivar codec: Codec name (``"bpg"``, ``"jpeg"``).
    :ivar quality: The codec's quality setting (BPG: ``q``, JPEG: quality).
    :ivar payload: The bytes that travel on the channel.
    :ivar shape: ``(H, W, C)`` of the original image.
    :ivar container: What the decoder reads when it differs from ``payload`` (the
        HEIF file of a BPG image; see the module docstring), else None.
    :ivar sizes: Byte accounting (BPG: ``heif``, ``slices``, ``parameter_sets``,
        ``annexb``, ``bpg_header``, ``payload``).
    """

    codec: str
    quality: int
    payload: bytes
    shape: Tuple[int, int, int]
    container: Optional[bytes] = None
    sizes: Dict[str, int] = field(default_factory=dict)
    _decoded: Optional[np.ndarray] = field(default=None, repr=False)

    @property
    def num_bytes(self) -> int:
        return len(self.payload)

    @property
    def num_bits(self) -> int:
        return 8 * len(self.payload)


def check_image(image: Any) -> np.ndarray:
    """Validate a codec input: a ``uint8`` array ``[H, W, C]`` with C = 1 or 3.

    :raises ValueError: with what is wrong.
    """
    if not isinstance(image, np.ndarray):
        raise ValueError(f"image must be a numpy uint8 array [H, W, C], got {type(image).__name__}")
    if image.dtype != np.uint8:
        raise ValueError(f"image must have dtype uint8 (values 0..255), got {image.dtype}; "
                         "convert float images in [0, 1] with linksim.vision.quality.to_uint8")
    if image.ndim != 3 or image.shape[2] not in (1, 3) or image.shape[0] < 1 or image.shape[1] < 1:
        raise ValueError(f"image must have shape [H, W, C] with C = 1 (grayscale) or 3 (RGB), got {image.shape}")
    return np.ascontiguousarray(image)


class ImageCodec:
    """Base class: ``encode(image, quality)`` / ``decode(encoded)`` with an LRU cache.

    Subclasses set :attr:`name` and :attr:`qualities` (ordered from the worst to the best
    quality, i.e. by increasing rate) and implement :meth:`_encode` / :meth:`_decode`.
    """

    name: str = ""
    #: Quality settings from the lowest to the highest quality.
    qualities: Tuple[int, ...] = ()
    #: Upper bound on the bytes the LRU cache holds (payloads + decoded images).
    cache_bytes: int = 256 * 2 ** 20

    def __init__(self) -> None:
        self._cache: "OrderedDict[Tuple[Any, ...], EncodedImage]" = OrderedDict()
        self._cached_bytes = 0

    # -- subclass API ---------------------------------------------------------------

    def settings(self) -> Dict[str, Any]:
        """Settings that change the bitstream (part of the cache key and provenance)."""
        return {}

    def _encode(self, image: np.ndarray, quality: int) -> EncodedImage:  # pragma: no cover
        raise NotImplementedError

    def _decode(self, encoded: EncodedImage) -> np.ndarray:  # pragma: no cover
        raise NotImplementedError

    # -- public API ------------------------------------------------------------------

    def check_quality(self, quality: int) -> int:
        if int(quality) not in self.qualities:
            raise ValueError(f"{self.name} quality must be one of {min(self.qualities)}..{max(self.qualities)}, "
                             f"got {quality!r}")
        return int(quality)

    def encode(self, image: np.ndarray, quality: int) -> EncodedImage:
        """Compress ``image`` (``uint8 [H, W, C]``) at ``quality`` (cached)."""
        image = check_image(image)
        quality = self.check_quality(quality)
        key = (hashlib.sha1(image.tobytes()).digest(), image.shape, tuple(sorted(self.settings().items())), quality)
        hit = self._cache.get(key)
        if hit is not None:
            self._cache.move_to_end(key)
            return hit
        encoded = self._encode(image, quality)
        self._cache[key] = encoded
        self._cached_bytes += self._footprint(encoded)
        self._evict()
        return encoded

    def decode(self, encoded: EncodedImage) -> np.ndarray:
        """The reconstructed ``uint8 [H, W, C]`` image (cached on ``encoded``; read-only)."""
        if encoded._decoded is None:
            out = self._decode(encoded)
            if out.ndim == 2:
                out = out[:, :, None]
            out = np.ascontiguousarray(out, dtype=np.uint8)
            if out.shape != tuple(encoded.shape):
                raise RuntimeError(f"{self.name} decoder returned shape {out.shape}, expected {encoded.shape}")
            out.setflags(write=False)
            encoded._decoded = out
            self._cached_bytes += out.nbytes
            self._evict()
        return encoded._decoded

    def clear_cache(self) -> None:
        self._cache.clear()
        self._cached_bytes = 0

    def _footprint(self, encoded: EncodedImage) -> int:
        size = len(encoded.payload) + len(encoded.container or b"")
        return size + (encoded._decoded.nbytes if encoded._decoded is not None else 0)

    def _evict(self) -> None:
        while self._cached_bytes > self.cache_bytes and len(self._cache) > 1:
            _, old = self._cache.popitem(last=False)
            self._cached_bytes -= self._footprint(old)

    def provenance(self) -> Dict[str, Any]:
        return {"codec": self.name, **self.settings(), "qualities": [min(self.qualities), max(self.qualities)]}


# ---------------------------------------------------------------------------------------
# JPEG
# ---------------------------------------------------------------------------------------


def strip_jfif_app0(data: bytes) -> bytes:
    """Remove a JFIF ``APP0`` segment that directly follows SOI (metadata only)."""
    if data[:4] == b"\xff\xd8\xff\xe0":
        length = struct.unpack(">H", data[4:6])[0]
        return data[:2] + data[4 + length:]
    return data


@source_codecs.register("jpeg")
class JpegCodec(ImageCodec):
    """Baseline JPEG (Pillow/libjpeg), optimised Huffman tables; quality 1..100.

    :param chroma: ``"420"`` (default, libjpeg's default for quality < 90 too) or ``"444"``.
    """

    name = "jpeg"
    qualities = tuple(range(1, 101))

    def __init__(self, chroma: Literal["420", "444"] = "420") -> None:
        super().__init__()
        if chroma not in ("420", "444"):
            raise ValueError(f"chroma must be '420' or '444', got {chroma!r}")
        self.chroma = chroma

    def settings(self) -> Dict[str, Any]:
        return {"chroma": self.chroma}

    def _encode(self, image: np.ndarray, quality: int) -> EncodedImage:
        from PIL import Image

        pil = Image.fromarray(image[:, :, 0] if image.shape[2] == 1 else image)
        buf = io.BytesIO()
        pil.save(buf, format="JPEG", quality=quality, optimize=True, progressive=False,
                 subsampling=2 if self.chroma == "420" else 0)
        payload = strip_jfif_app0(buf.getvalue())
        return EncodedImage(self.name, quality, payload, tuple(image.shape),
                            sizes={"jfif": len(buf.getvalue()), "payload": len(payload)})

    def _decode(self, encoded: EncodedImage) -> np.ndarray:
        from PIL import Image

        with Image.open(io.BytesIO(encoded.payload)) as pil:
            arr = np.asarray(pil.convert("L" if encoded.shape[2] == 1 else "RGB"))
        return arr


# ---------------------------------------------------------------------------------------
# ISO-BMFF / HEIF parsing
# ---------------------------------------------------------------------------------------

_CONTAINERS = {b"meta": 4, b"iprp": 0, b"ipco": 0, b"dinf": 0, b"iinf": None, b"moov": 0}
"""Boxes whose payload holds child boxes, with the bytes to skip first (None: iinf)."""


@dataclass
class Box:
    type: bytes
    start: int        # offset of the box header in the file
    data_start: int   # offset of the payload
    end: int
    children: List["Box"] = field(default_factory=list)


def parse_boxes(data: bytes, start: int = 0, end: Optional[int] = None) -> List[Box]:
    """The ISO-BMFF box tree of ``data[start:end]`` (containers expanded)."""
    end = len(data) if end is None else end
    boxes, pos = [], start
    while pos + 8 <= end:
        size, btype = struct.unpack(">I4s", data[pos:pos + 8])
        header = 8
        if size == 1:
            size = struct.unpack(">Q", data[pos + 8:pos + 16])[0]
            header = 16
        elif size == 0:
            size = end - pos
        if size < header or pos + size > end:
            raise ValueError(f"corrupt ISO-BMFF box {btype!r} at offset {pos}")
        box = Box(btype, pos, pos + header, pos + size)
        if btype in _CONTAINERS:
            skip = _CONTAINERS[btype]
            if skip is None:  # iinf: full box + entry_count (16 bits in v0, 32 bits otherwise)
                skip = 4 + (2 if data[box.data_start] == 0 else 4)
            box.children = parse_boxes(data, box.data_start + skip, box.end)
        boxes.append(box)
        pos += size
    return boxes


def _find(boxes: Sequence[Box], btype: bytes) -> Box:
    for box in boxes:
        if box.type == btype:
            return box
    raise ValueError(f"HEIF file has no {btype.decode()!r} box")


class _Reader:
    def __init__(self, data: bytes, pos: int) -> None:
        self.data, self.pos = data, pos

    def uint(self, nbytes: int) -> int:
        value = int.from_bytes(self.data[self.pos:self.pos + nbytes], "big") if nbytes else 0
        self.pos += nbytes
        return value


@dataclass
class HeifHevc:
    """The HEVC content of a HEIF file's primary item."""

    parameter_sets: List[bytes]   # NAL units from hvcC (VPS, SPS, PPS, maybe SEI), no prefixes
    nal_units: List[bytes]        # NAL units of the item data in mdat, no length prefixes
    heif_bytes: int


def heif_primary_hevc(data: bytes) -> HeifHevc:
    """Parse a HEIF file: parameter sets (``hvcC``) and NAL units of the primary item."""
    top = parse_boxes(data)
    meta = _find(top, b"meta")
    pitm = _find(meta.children, b"pitm")
    primary = struct.unpack(">H", data[pitm.data_start + 4:pitm.data_start + 6])[0] if data[pitm.data_start] == 0 \
        else struct.unpack(">I", data[pitm.data_start + 4:pitm.data_start + 8])[0]
    # item type of the primary item
    iinf = _find(meta.children, b"iinf")
    item_type = None
    for infe in iinf.children:
        if infe.type != b"infe":
            continue
        version = data[infe.data_start]
        r = _Reader(data, infe.data_start + 4)
        item_id = r.uint(2 if version == 2 else 4)
        r.uint(2)  # protection index
        if item_id == primary:
            item_type = data[r.pos:r.pos + 4]
    if item_type != b"hvc1":
        raise ValueError(f"HEIF primary item is {item_type!r}, expected a single 'hvc1' image")
    # hvcC of the primary item through ipma
    iprp = _find(meta.children, b"iprp")
    ipco = _find(iprp.children, b"ipco")
    ipma = _find(iprp.children, b"ipma")
    version, flags = data[ipma.data_start], int.from_bytes(data[ipma.data_start + 1:ipma.data_start + 4], "big")
    r = _Reader(data, ipma.data_start + 4)
    hvcc: Optional[Box] = None
    for _ in range(r.uint(4)):
        item_id = r.uint(2 if version < 1 else 4)
        for _ in range(r.uint(1)):
            index = r.uint(2) & 0x7FFF if flags & 1 else r.uint(1) & 0x7F
            if item_id == primary and index >= 1 and ipco.children[index - 1].type == b"hvcC":
                hvcc = ipco.children[index - 1]
    if hvcc is None:
        raise ValueError("HEIF primary item has no hvcC property")
    length_size = (data[hvcc.data_start + 21] & 3) + 1
    r = _Reader(data, hvcc.data_start + 22)
    parameter_sets = []
    for _ in range(r.uint(1)):
        r.uint(1)  # completeness + NAL type
        for _ in range(r.uint(2)):
            n = r.uint(2)
            parameter_sets.append(data[r.pos:r.pos + n])
            r.pos += n
    # item data through iloc
    iloc = _find(meta.children, b"iloc")
    version = data[iloc.data_start]
    r = _Reader(data, iloc.data_start + 4)
    sizes = r.uint(2)
    offset_size, length_size_iloc, base_size = sizes >> 12, (sizes >> 8) & 15, (sizes >> 4) & 15
    index_size = sizes & 15 if version in (1, 2) else 0
    item_data = b""
    for _ in range(r.uint(2 if version < 2 else 4)):
        item_id = r.uint(2 if version < 2 else 4)
        method = r.uint(2) & 15 if version in (1, 2) else 0
        r.uint(2)  # data_reference_index
        base = r.uint(base_size)
        extents = []
        for _ in range(r.uint(2)):
            r.uint(index_size)
            extents.append((base + r.uint(offset_size), r.uint(length_size_iloc)))
        if item_id == primary:
            if method != 0:
                raise ValueError("HEIF primary item data is not stored in the file (construction_method != 0)")
            item_data = b"".join(data[o:o + n] for o, n in extents)
    nal_units, pos = [], 0
    while pos < len(item_data):
        n = int.from_bytes(item_data[pos:pos + length_size], "big")
        nal_units.append(item_data[pos + length_size:pos + length_size + n])
        pos += length_size + n
    return HeifHevc(parameter_sets, nal_units, len(data))


# ---------------------------------------------------------------------------------------
# HEVC bitstream helpers and the BPG layout
# ---------------------------------------------------------------------------------------


def nal_type(nal: bytes) -> int:
    return (nal[0] >> 1) & 0x3F


def _rbsp(nal: bytes) -> bytes:
    """NAL payload without its 2-byte header and emulation-prevention bytes."""
    out, zeros = bytearray(), 0
    for b in nal[2:]:
        if zeros >= 2 and b == 3:
            zeros = 0
            continue
        out.append(b)
        zeros = zeros + 1 if b == 0 else 0
    return bytes(out)


class _BitReader:
    def __init__(self, data: bytes) -> None:
        self.data, self.pos = data, 0

    def u(self, n: int) -> int:
        v = 0
        for _ in range(n):
            byte = self.data[self.pos >> 3]
            v = (v << 1) | ((byte >> (7 - (self.pos & 7))) & 1)
            self.pos += 1
        return v

    def ue(self) -> int:
        zeros = 0
        while self.u(1) == 0:
            zeros += 1
        return (1 << zeros) - 1 + self.u(zeros)


class _BitWriter:
    def __init__(self) -> None:
        self.bits: List[int] = []

    def u(self, n: int, v: int) -> None:
        self.bits.extend((v >> (n - 1 - i)) & 1 for i in range(n))

    def ue(self, v: int) -> None:
        n = (v + 1).bit_length()
        self.u(n - 1, 0)
        self.u(n, v + 1)

    def bytes(self) -> bytes:
        bits = self.bits + [0] * (-len(self.bits) % 8)
        return np.packbits(np.array(bits, dtype=np.uint8)).tobytes() if bits else b""


def ue7(value: int) -> bytes:
    """BPG's ``ue7``: 7 bits per byte, most significant group first, MSB = continuation."""
    groups = [value & 0x7F]
    value >>= 7
    while value:
        groups.append(0x80 | (value & 0x7F))
        value >>= 7
    return bytes(reversed(groups))


def bpg_hevc_header(sps_nal: bytes) -> Tuple[bytes, Dict[str, int]]:
    """BPG's compact ``hevc_header`` (fields after ``hevc_header_length``) from an SPS.

    Reads the SPS up to ``strong_intra_smoothing_enabled_flag``; the SPS extension
    flag is written as 0 (x265 writes no range-extension SPS for 8-bit pictures).
    """
    r = _BitReader(_rbsp(sps_nal))
    r.u(4)
    max_sub_layers_minus1 = r.u(3)
    r.u(1)
    r.u(96)  # general profile_tier_level
    sub_profile, sub_level = [], []
    for _ in range(max_sub_layers_minus1):
        sub_profile.append(r.u(1))
        sub_level.append(r.u(1))
    if max_sub_layers_minus1 > 0:
        r.u(2 * (8 - max_sub_layers_minus1))
    for p, l in zip(sub_profile, sub_level):
        r.u(88 * p + 8 * l)
    f: Dict[str, int] = {}
    r.ue()  # sps_seq_parameter_set_id
    f["chroma_format_idc"] = r.ue()
    if f["chroma_format_idc"] == 3:
        r.u(1)
    f["width"], f["height"] = r.ue(), r.ue()
    if r.u(1):  # conformance window
        for _ in range(4):
            r.ue()
    f["bit_depth_luma_minus8"] = r.ue()
    r.ue()  # chroma bit depth
    log2_max_poc_lsb = r.ue() + 4
    ordering_all = r.u(1)
    for _ in range(0 if ordering_all else max_sub_layers_minus1, max_sub_layers_minus1 + 1):
        r.ue(), r.ue(), r.ue()
    names = ["log2_min_luma_coding_block_size_minus3", "log2_diff_max_min_luma_coding_block_size",
             "log2_min_transform_block_size_minus2", "log2_diff_max_min_transform_block_size",
             "max_transform_hierarchy_depth_inter", "max_transform_hierarchy_depth_intra"]
    for name in names:
        f[name] = r.ue()
    if r.u(1):
        raise ValueError("SPS uses scaling lists, which BPG does not allow")
    r.u(1)  # amp
    f["sao"] = r.u(1)
    f["pcm"] = r.u(1)
    pcm: List[int] = []
    if f["pcm"]:
        pcm = [r.u(4), r.u(4), r.ue(), r.ue(), r.u(1)]
    num_st_rps = r.ue()
    for i in range(num_st_rps):
        if i > 0 and r.u(1):
            raise ValueError("SPS with predicted short-term RPS is not supported")
        neg, pos = r.ue(), r.ue()
        for _ in range(neg + pos):
            r.ue(), r.u(1)
    if r.u(1):  # long-term reference pictures
        for _ in range(r.ue()):
            r.u(log2_max_poc_lsb), r.u(1)
    r.u(1)  # temporal MVP
    f["strong_intra_smoothing"] = r.u(1)
    w = _BitWriter()
    for name in names:
        if name != "max_transform_hierarchy_depth_inter":
            w.ue(f[name])
    w.u(1, f["sao"])
    w.u(1, f["pcm"])
    if f["pcm"]:
        w.u(4, pcm[0]), w.u(4, pcm[1]), w.ue(pcm[2]), w.ue(pcm[3]), w.u(1, pcm[4])
    w.u(1, f["strong_intra_smoothing"])
    w.u(1, 0)  # sps_extension_present_flag
    return w.bytes(), f


def bpg_file(hevc: HeifHevc, width: int, height: int, gray: bool) -> Tuple[bytes, Dict[str, int]]:
    """The BPG file of the HEVC stream in ``hevc`` (see the module docstring)."""
    sps = [n for n in hevc.parameter_sets if nal_type(n) == NAL_SPS]
    if len(sps) != 1:
        raise ValueError(f"expected one SPS in hvcC, found {len(sps)}")
    header_fields, f = bpg_hevc_header(sps[0])
    kept = [n for n in hevc.parameter_sets + hevc.nal_units if nal_type(n) == NAL_PPS]
    kept += [n for n in hevc.nal_units if nal_type(n) < 32]  # VCL (slice) NAL units
    hevc_data = START_CODE.join(kept)
    hevc_header = ue7(len(header_fields)) + header_fields
    picture = hevc_header + hevc_data
    pixel_format = 0 if gray else {1: 1, 2: 2, 3: 3}[f["chroma_format_idc"]]
    head = (BPG_MAGIC + bytes([(pixel_format << 5) | f["bit_depth_luma_minus8"], 0])
            + ue7(width) + ue7(height) + ue7(len(picture)))
    payload = head + picture
    slices = sum(len(n) for n in hevc.nal_units if nal_type(n) < 32)
    params = [n for n in hevc.parameter_sets if nal_type(n) in (NAL_VPS, NAL_SPS, NAL_PPS)]
    sizes = {
        "heif": hevc.heif_bytes,
        "slices": slices,
        "parameter_sets": sum(4 + len(n) for n in params),
        "annexb": sum(4 + len(n) for n in params) + sum(4 + len(n) for n in hevc.nal_units if nal_type(n) < 32),
        "bpg_header": len(head),
        "hevc_header": len(hevc_header),
        "payload": len(payload),
    }
    return payload, sizes


#: x265 preset used when the requested one cannot open the encoder: libheif codes images
#: narrower or lower than 32 pixels with 16x16 CTUs, which x265's ``placebo`` rejects.
FALLBACK_PRESET = "veryslow"


@source_codecs.register("bpg")
class BpgCodec(ImageCodec):
    """BPG-equivalent HEVC intra coding (x265 via pillow-heif); ``q`` 0 (best) .. 50.

    :param chroma: ``"420"`` (BPG's default) or ``"444"``.
    :param preset: x265 preset (bpgenc's default compression level 8 uses ``placebo``).
    """

    name = "bpg"
    qualities = tuple(range(50, -1, -1))  # worst -> best (q is a quantiser: lower is better)
    default_quality = 29

    def __init__(self, chroma: Literal["420", "444"] = "420", preset: str = "placebo") -> None:
        super().__init__()
        if chroma not in ("420", "444"):
            raise ValueError(f"chroma must be '420' or '444', got {chroma!r}")
        self.chroma = chroma
        self.preset = preset

    def settings(self) -> Dict[str, Any]:
        return {"chroma": self.chroma, "preset": self.preset}

    def heif_bytes(self, image: np.ndarray, q: int) -> bytes:
        """The HEIF file x265/libheif produce for ``image`` at BPG ``q``."""
        import pillow_heif

        gray = image.shape[2] == 1
        heif = pillow_heif.from_bytes(mode="L" if gray else "RGB", size=(image.shape[1], image.shape[0]),
                                      data=(image[:, :, 0] if gray else image).tobytes())
        for preset in (self.preset, FALLBACK_PRESET):
            buf = io.BytesIO()
            try:
                heif.save(buf, quality=50, chroma=int(self.chroma), save_nclx_profile=True,
                          enc_params={"preset": preset, "tune": "ssim", "x265:qp": str(q + 1)})
                return buf.getvalue()
            except RuntimeError:
                if preset == FALLBACK_PRESET:
                    raise
        raise AssertionError("unreachable")  # pragma: no cover

    def _encode(self, image: np.ndarray, quality: int) -> EncodedImage:
        container = self.heif_bytes(image, quality)
        hevc = heif_primary_hevc(container)
        payload, sizes = bpg_file(hevc, image.shape[1], image.shape[0], image.shape[2] == 1)
        return EncodedImage(self.name, quality, payload, tuple(image.shape), container=container, sizes=sizes)

    def _decode(self, encoded: EncodedImage) -> np.ndarray:
        import pillow_heif

        heif = pillow_heif.open_heif(io.BytesIO(encoded.container), convert_hdr_to_8bit=True)
        arr = np.asarray(heif)
        if encoded.shape[2] == 1 and arr.ndim == 3:
            arr = arr[:, :, :1] if arr.shape[2] != 3 else np.asarray(
                np.rint(arr.astype(np.float64) @ np.array([0.299, 0.587, 0.114])), dtype=np.uint8)[:, :, None]
        return arr


def make_codec(name: str, **kwargs: Any) -> ImageCodec:
    """The registered source codec ``name`` (``bpg``, ``jpeg``, or a plugin's); keyword
    arguments go to its constructor.

    :raises UserError: ``name`` is not a registered source codec.
    """
    return source_codecs.get(name, field="params.codec")(**kwargs)


def fit_budget(codec: ImageCodec, image: np.ndarray, budget_bytes: int) -> Optional[EncodedImage]:
    """The highest-quality encoding of ``image`` whose payload fits in ``budget_bytes``.

    Binary search over ``codec.qualities`` (sizes grow with quality almost always), then
    a check of the next few higher qualities in case the size is not monotone there.
    Only encodings that were measured to fit are ever returned. None when even the
    lowest quality does not fit.
    """
    qualities = codec.qualities
    if budget_bytes <= 0:
        return None
    best = codec.encode(image, qualities[0])
    if best.num_bytes > budget_bytes:
        return None
    lo, hi, best_index = 1, len(qualities) - 1, 0
    while lo <= hi:
        mid = (lo + hi) // 2
        enc = codec.encode(image, qualities[mid])
        if enc.num_bytes <= budget_bytes:
            best, best_index, lo = enc, mid, mid + 1
        else:
            hi = mid - 1
    # non-monotone sizes: look a few steps above the binary-search answer
    index = best_index + 1
    while index < len(qualities) and index <= best_index + 3:
        enc = codec.encode(image, qualities[index])
        if enc.num_bytes <= budget_bytes:
            best, best_index = enc, index
        index += 1
    return best
