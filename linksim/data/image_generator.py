"""linksim's embedded image set: procedural 32x32 RGB pictures in 10 shape/texture classes.

Offline stand-in for CIFAR-10 (same shape, ``uint8 [N, 32, 32, 3]``, 10 classes) so that
every shipped image scenario can train and run without downloads. It is *not* CIFAR-10
and results on it are not the paper's numbers; :data:`GENERATOR_VERSION` names it in
provenance.

Picture model (every random draw comes from one seeded :class:`numpy.random.Generator`
per chunk of :data:`CHUNK` images, so image ``i`` does not depend on how many are made):

* background: a linear gradient between two colours in a random direction;
* foreground: one object or texture of the image's class in a colour drawn from the
  *same* distribution as the background colours (kept at least :data:`MIN_CONTRAST`
  away from the background's mean colour), with a soft (anti-aliased, sometimes
  blurry) edge and a random shading gradient;
* shapes (disk, ring, square, triangle, cross, star): random position, size, aspect,
  rotation; textures (horizontal / vertical / diagonal stripes, checkerboard): random
  period, phase and tilt (up to 20 degrees), inside a random soft window;
* nuisances: up to two soft round blobs of random colour (clutter), an occluding
  rectangle of random colour (probability :data:`OCCLUDER_PROBABILITY`), global
  contrast/brightness change, Gaussian pixel noise.

Foreground and background colours have the same distribution for every class, so the
mean colour of an image says (almost) nothing about its class; shape and texture must
be recognised, as in a natural image set. Small, blurry, occluded or low-contrast
samples make a perfect score unlikely.

Pixel values are computed in float64 and rounded once to ``uint8``. The numbers are
identical run to run for a given numpy version; the transcendental functions used
(sin, cos, atan2, sqrt) could in principle round one pixel by one step differently on
another platform's maths library.
"""

from __future__ import annotations

import functools
from typing import List, Tuple

import numpy as np

#: Bump when any pixel of any generated image changes (it identifies trained weights).
GENERATOR_VERSION = "linksim-embedded-images-v1"

#: Class names, in label order.
CLASS_NAMES: Tuple[str, ...] = ("disk", "ring", "square", "triangle", "cross", "star",
                                "horizontal_stripes", "vertical_stripes", "diagonal_stripes",
                                "checkerboard")
NUM_CLASSES = len(CLASS_NAMES)
IMAGE_SIZE = 32
CHANNELS = 3

#: Images drawn from one generator; labels are exactly balanced within each chunk.
CHUNK = 500
#: Random-stream numbers of the splits (independent streams for the same seed).
STREAMS = {"train": 0, "test": 1}

MIN_CONTRAST = 0.25
OCCLUDER_PROBABILITY = 0.35
#: Binary attributes of every image, from its nuisance draws (pixels unchanged): an occluder,
#: pixel noise above :data:`NOISY_SIGMA`, two clutter blobs.
ATTRIBUTE_NAMES: Tuple[str, ...] = ("occluded", "noisy", "two_blobs")
NOISY_SIGMA = 0.06

_SHAPES = 6  # labels below this are shapes, the rest textures


def _grid(size: int) -> Tuple[np.ndarray, np.ndarray]:
    """Pixel-centre coordinates in [-1, 1] (x right, y down), shape ``[1, size, size]``."""
    c = (np.arange(size, dtype=np.float64) + 0.5) / size * 2.0 - 1.0
    y, x = np.meshgrid(c, c, indexing="ij")
    return x[None], y[None]


def _col(values: np.ndarray) -> np.ndarray:
    """``[n]`` -> ``[n, 1, 1]`` for broadcasting over pixels."""
    return values[:, None, None]


def _soft(distance_px: np.ndarray, width_px: np.ndarray) -> np.ndarray:
    """Coverage in [0, 1] of a signed distance (negative inside) with a linear edge."""
    return np.clip(0.5 - distance_px / width_px, 0.0, 1.0)


def _shape_distance(label: int, u: np.ndarray, v: np.ndarray, extra: np.ndarray) -> np.ndarray:
    """Signed distance (in shape units, object radius about 1) of shape ``label``."""
    r = np.sqrt(u * u + v * v)
    if label == 0:  # disk
        return r - 1.0
    if label == 1:  # ring, thickness 2 * extra (0.22..0.38 of the radius)
        t = 0.22 + 0.16 * _col(extra)
        return np.abs(r - (1.0 - t)) - t
    if label == 2:  # square
        return np.maximum(np.abs(u), np.abs(v)) - 0.85
    if label == 3:  # equilateral triangle, circumradius 1.1
        angles = np.pi / 2 + 2 * np.pi * np.arange(3) / 3
        return np.max([u * np.cos(a) + v * np.sin(a) for a in angles], axis=0) - 0.55
    if label == 4:  # plus-shaped cross, arm half-width 0.25..0.38
        a = 0.25 + 0.13 * _col(extra)
        return np.minimum(np.maximum(np.abs(u) - a, np.abs(v) - 1.0), np.maximum(np.abs(u) - 1.0, np.abs(v) - a))
    if label == 5:  # five-pointed star (lobed outline)
        phi = np.arctan2(v, u)
        return r - (0.62 + 0.38 * np.cos(5.0 * phi))
    raise ValueError(label)


def _texture(label: int, x_px: np.ndarray, y_px: np.ndarray, period: np.ndarray, phase: np.ndarray,
             phase2: np.ndarray, tilt: np.ndarray, sharpness: np.ndarray, sign: np.ndarray) -> np.ndarray:
    """Coverage in [0, 1] of texture ``label`` (pixel coordinates)."""
    if label == 6:
        angle = np.pi / 2 + tilt  # horizontal stripes: intensity varies along y
    elif label == 7:
        angle = tilt
    elif label == 8:
        angle = sign * np.pi / 4 + tilt
    else:  # checkerboard at any orientation
        angle = tilt * 3.0
    ca, sa = _col(np.cos(angle)), _col(np.sin(angle))
    t1 = x_px * ca + y_px * sa
    k = 2.0 * np.pi / _col(period)
    wave = np.sin(k * t1 + _col(phase))
    if label == 9:
        t2 = -x_px * sa + y_px * ca
        wave = 1.4 * wave * np.sin(k * t2 + _col(phase2))
    return np.clip(0.5 + _col(sharpness) * wave, 0.0, 1.0)


def _colours(rng: np.random.Generator, n: int) -> np.ndarray:
    return rng.random((n, 3))


def _generate_chunk(rng: np.random.Generator, n: int, size: int) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``n`` images (uint8 ``[n, size, size, 3]``), labels (int64 ``[n]``) and the binary
    attributes of their nuisances (uint8 ``[n, 3]``, :data:`ATTRIBUTE_NAMES`)."""
    labels = rng.permutation(np.arange(n) % NUM_CLASSES).astype(np.int64)
    X, Y = _grid(size)
    half = size / 2.0
    # every parameter is drawn for every image, in a fixed order, whatever its class
    bg = _colours(rng, 2 * n).reshape(n, 2, 3)
    bg_angle = rng.uniform(0.0, 2 * np.pi, n)
    bg_strength = rng.uniform(0.0, 1.0, n)
    candidates = _colours(rng, 8 * n).reshape(n, 8, 3)
    cx, cy = rng.uniform(-0.4, 0.4, n), rng.uniform(-0.4, 0.4, n)
    scale = rng.uniform(0.26, 0.72, n)
    aspect = np.exp(rng.uniform(-0.2, 0.2, n))
    rotation = rng.uniform(0.0, 2 * np.pi, n)
    extra = rng.random(n)
    edge = np.exp(rng.uniform(np.log(0.6), np.log(3.0), n))  # edge width in pixels
    shade_angle = rng.uniform(0.0, 2 * np.pi, n)
    shade = rng.uniform(0.0, 0.25, n)
    period = rng.uniform(3.5, 12.0, n)
    phase, phase2 = rng.uniform(0.0, 2 * np.pi, n), rng.uniform(0.0, 2 * np.pi, n)
    tilt = rng.uniform(-np.pi / 9, np.pi / 9, n)
    sharpness = rng.uniform(0.6, 4.0, n)
    sign = np.where(rng.random(n) < 0.5, -1.0, 1.0)
    win_half = rng.uniform(0.3, 1.1, (n, 2))
    occluded = rng.random(n) < OCCLUDER_PROBABILITY
    occ_colour = _colours(rng, n)
    occ_centre = rng.uniform(-1.0, 1.0, (n, 2))
    occ_half = rng.uniform(0.12, 0.4, (n, 2))
    gain = rng.uniform(0.7, 1.1, n)
    offset = rng.uniform(-0.08, 0.08, n)
    blobs = rng.integers(0, 3, n)
    blob_colour = _colours(rng, 2 * n).reshape(n, 2, 3)
    blob_centre = rng.uniform(-1.0, 1.0, (n, 2, 2))
    blob_radius = rng.uniform(1.5, 4.0, (n, 2))  # pixels
    noise_sigma = rng.uniform(0.0, 0.12, n)
    noise = rng.standard_normal((n, size, size, 3))

    # background gradient
    t = np.clip(0.5 + 0.5 * (X * _col(np.cos(bg_angle)) + Y * _col(np.sin(bg_angle))), 0.0, 1.0)
    t = 0.5 + (t - 0.5) * _col(bg_strength)
    image = bg[:, 0, None, None, :] * (1.0 - t[..., None]) + bg[:, 1, None, None, :] * t[..., None]

    # foreground colour: first candidate far enough from the mean background colour
    distance = np.linalg.norm(candidates - bg.mean(axis=1)[:, None, :], axis=2)
    ok = distance >= MIN_CONTRAST
    first = np.where(ok.any(axis=1), ok.argmax(axis=1), distance.argmax(axis=1))
    fg = candidates[np.arange(n), first]

    mask = np.zeros((n, size, size))
    for label in range(NUM_CLASSES):
        idx = np.flatnonzero(labels == label)
        if idx.size == 0:
            continue
        if label < _SHAPES:
            dx, dy = X - _col(cx[idx]), Y - _col(cy[idx])
            c, s = _col(np.cos(rotation[idx])), _col(np.sin(rotation[idx]))
            sx, sy = _col(scale[idx] * aspect[idx]), _col(scale[idx] / aspect[idx])
            u, v = (c * dx + s * dy) / sx, (-s * dx + c * dy) / sy
            d_px = _shape_distance(label, u, v, extra[idx]) * _col(scale[idx]) * half
            mask[idx] = _soft(d_px, _col(edge[idx]))
        else:
            x_px, y_px = X * half, Y * half
            pattern = _texture(label, x_px, y_px, period[idx], phase[idx], phase2[idx], tilt[idx],
                               sharpness[idx], sign[idx])
            wx = (np.abs(X - _col(cx[idx] * 0.5)) - _col(win_half[idx, 0])) * half
            wy = (np.abs(Y - _col(cy[idx] * 0.5)) - _col(win_half[idx, 1])) * half
            window = _soft(np.maximum(wx, wy), _col(edge[idx]))
            mask[idx] = pattern * window

    shading = 1.0 + _col(shade) * (X * _col(np.cos(shade_angle)) + Y * _col(np.sin(shade_angle)))
    fg_layer = fg[:, None, None, :] * shading[..., None]
    image = image * (1.0 - mask[..., None]) + fg_layer * mask[..., None]

    # clutter: up to two soft round blobs of random colour, anywhere
    for j in range(2):
        bx, by = _col(blob_centre[:, j, 0]), _col(blob_centre[:, j, 1])
        d2 = ((X - bx) ** 2 + (Y - by) ** 2) * half * half
        alpha = np.exp(-0.5 * d2 / _col(blob_radius[:, j]) ** 2) * _col((blobs > j).astype(np.float64))
        image = image * (1.0 - alpha[..., None]) + blob_colour[:, j, None, None, :] * alpha[..., None]

    # occluding rectangle (hard-edged, opaque)
    ox = np.abs(X - _col(occ_centre[:, 0])) <= _col(occ_half[:, 0])
    oy = np.abs(Y - _col(occ_centre[:, 1])) <= _col(occ_half[:, 1])
    occ = (ox & oy & _col(occluded))[..., None]
    image = np.where(occ, occ_colour[:, None, None, :], image)

    image = image * gain[:, None, None, None] + offset[:, None, None, None]
    image = image + noise * noise_sigma[:, None, None, None]
    pixels = np.rint(np.clip(image, 0.0, 1.0) * 255.0).astype(np.uint8)
    attributes = np.stack([occluded, noise_sigma > NOISY_SIGMA, blobs == 2], axis=-1).astype(np.uint8)
    return pixels, labels, attributes


@functools.lru_cache(maxsize=64)
def _chunk(seed: int, stream: str, chunk: int, size: int) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Chunk ``chunk`` of a stream: a pure function of its arguments, so the process keeps
    the last 64 (about 100 MB at 32x32): scenarios and tests that use the same embedded
    set generate it once. The arrays are read-only."""
    x, y, a = _generate_chunk(np.random.default_rng([seed, STREAMS[stream], chunk]), CHUNK, size)
    for array in (x, y, a):
        array.setflags(write=False)
    return x, y, a


def generate_images(num: int, seed: int = 0, stream: str = "train",
                    size: int = IMAGE_SIZE) -> Tuple[np.ndarray, np.ndarray]:
    """The first ``num`` images of the embedded set's ``stream`` for ``seed``.

    :param stream: ``"train"`` or ``"test"`` (independent random streams).
    :returns: ``(images, labels)``: uint8 ``[num, size, size, 3]`` and int64 ``[num]``.
        Image ``i`` is the same whatever ``num`` (chunks of :data:`CHUNK` images each
        have their own generator, seeded by ``(seed, stream, chunk)``).
    """
    images, labels, _ = _generate(num, seed, stream, size)
    return images, labels


def generate_attributes(num: int, seed: int = 0, stream: str = "train", size: int = IMAGE_SIZE) -> np.ndarray:
    """Binary attributes uint8 ``[num, 3]`` (:data:`ATTRIBUTE_NAMES`) of the images of :func:`generate_images`.

    They are read off draws the generator makes anyway (an occluder, the noise level, the
    number of clutter blobs), so the images are byte for byte those without attributes:
    a CelebA-style attribute set (base rates 0.35, 0.5, 1/3) for attribute inference.
    """
    return _generate(num, seed, stream, size)[2]


def _generate(num: int, seed: int, stream: str, size: int) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    if stream not in STREAMS:
        raise ValueError(f"stream must be one of {', '.join(STREAMS)}, not {stream!r}")
    if num < 0 or seed < 0:
        raise ValueError("num and seed must be non-negative")
    parts: List[Tuple[np.ndarray, np.ndarray, np.ndarray]] = []
    for chunk, start in enumerate(range(0, num, CHUNK)):
        keep = min(CHUNK, num - start)
        parts.append(tuple(array[:keep] for array in _chunk(seed, stream, chunk, size)))
    if not parts:
        return (np.zeros((0, size, size, CHANNELS), np.uint8), np.zeros(0, np.int64),
                np.zeros((0, len(ATTRIBUTE_NAMES)), np.uint8))
    return tuple(np.concatenate([part[i] for part in parts]) for i in range(3))
