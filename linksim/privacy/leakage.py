"""Mutual-information leakage between an image and an attacker's reconstruction.

The paper's privacy metric is the MI between the source image and what a model-inversion
attacker recovers, without an estimator. linksim's estimator (stated on every figure):

* per image, all ``H W C`` paired 8-bit values ``(x, x_hat)``, each quantised to
  ``bins`` = 16 levels (``v >> 4``);
* the plug-in MI of that joint histogram in **bits**, with the **Miller-Madow** bias
  correction: ``MI = H(X) + H(Y) - H(X, Y) - (m_xy - m_x - m_y + 1) / (2 N ln 2)``,
  ``m_*`` the occupied bins and ``N`` the pairs;
* ``mi_leakage`` is its mean over images; the pooled variant is the MI of the histogram
  summed over images (additive, so batches add exactly).

Bias: without correction an independent pair at full occupancy reads
``(bins - 1)^2 / (2 N ln 2)`` bits (0.053 at 16 bins and 3072 pairs); the correction
removes that first-order term. MI is at most ``log2 bins`` = 4 bits.
"""

from __future__ import annotations

import math

import numpy as np

DEFAULT_BINS = 16


def _levels(images: np.ndarray, bins: int) -> np.ndarray:
    """8-bit images ``[N, ...]`` -> bin indices ``[N, P]`` (``bins`` a power of two dividing 256)."""
    if bins < 2 or 256 % bins:
        raise ValueError(f"bins must divide 256, got {bins}")
    images = np.asarray(images)
    if images.dtype != np.uint8:
        raise ValueError(f"expected uint8 images, got {images.dtype}")
    return (images.reshape(images.shape[0], -1) // (256 // bins)).astype(np.int64)


def pixel_joint_histograms(x: np.ndarray, y: np.ndarray, bins: int = DEFAULT_BINS) -> np.ndarray:
    """``[N, bins, bins]`` counts of the paired levels of ``x`` and ``y`` (uint8, same shape)."""
    if np.shape(x) != np.shape(y):
        raise ValueError(f"images of different shapes: {np.shape(x)} and {np.shape(y)}")
    a, b = _levels(x, bins), _levels(y, bins)
    n = a.shape[0]
    flat = (np.arange(n)[:, None] * bins + a) * bins + b
    return np.bincount(flat.ravel(), minlength=n * bins * bins).reshape(n, bins, bins)


def entropy_bits(counts: np.ndarray, *, correction: bool = True) -> np.ndarray:
    """Entropy in bits of histograms ``[..., cells]`` (Miller-Madow corrected unless ``correction`` is False)."""
    counts = np.asarray(counts, dtype=np.float64)
    total = counts.sum(axis=-1, keepdims=True)
    p = np.where(counts > 0, counts / np.maximum(total, 1), 1.0)
    h = -np.sum(np.where(counts > 0, p * np.log2(p), 0.0), axis=-1)
    if correction:
        occupied = np.count_nonzero(counts, axis=-1)
        h = h + (occupied - 1) / (2.0 * total[..., 0] * math.log(2))
    return h


def mi_from_joint(joint: np.ndarray, *, correction: bool = True) -> np.ndarray:
    """MI in bits of joint histograms ``[..., bins, bins]``: ``H(X) + H(Y) - H(X, Y)`` (each term corrected)."""
    joint = np.asarray(joint)
    hx = entropy_bits(joint.sum(axis=-1), correction=correction)
    hy = entropy_bits(joint.sum(axis=-2), correction=correction)
    hxy = entropy_bits(joint.reshape(*joint.shape[:-2], -1), correction=correction)
    return hx + hy - hxy


def mi_per_image(x: np.ndarray, y: np.ndarray, bins: int = DEFAULT_BINS, *, correction: bool = True) -> np.ndarray:
    """``[N]`` MI leakage in bits between 8-bit images ``x`` and reconstructions ``y`` (module docstring)."""
    return mi_from_joint(pixel_joint_histograms(x, y, bins), correction=correction)
