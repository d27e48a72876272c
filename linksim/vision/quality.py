"""What every image system shares: bandwidth ratio, quality measures, batch statistics.

The base class of the image systems (dataset, ratio checks) is
:class:`linksim.systems.image_system.ImageSystem`.

Conventions (all image systems, learned and classical):

* images travel as ``uint8`` arrays ``[N, H, W, C]`` (the dataset's layout) and are
  compared as floats in ``[0, 1]``;
* ``n = H * W * C`` real source dimensions, ``k`` complex channel uses per image, the
  bandwidth (compression) ratio is ``k / n`` (Sec. III of the SemCC paper) and
  ``k = round(ratio * n)`` (:func:`symbols_for_ratio`);
* PSNR is ``10 log10(1 / MSE)`` per image with peak 1 (images in [0, 1]), capped at
  :data:`PSNR_CAP_DB` for a perfect reconstruction; SSIM is Wang et al. (2004) with an
  11x11 Gaussian window (sigma 1.5), K1 = 0.01, K2 = 0.03, averaged over channels;
* a batch returns the additive statistics of :data:`STATISTICS` (see
  :func:`image_statistics`), from which the metrics ``psnr``, ``ssim``, ``mse``,
  ``accuracy`` and ``bpp`` are computed with confidence intervals.
"""

from __future__ import annotations

from typing import Dict, Optional, Sequence, Tuple

import numpy as np
from scipy.ndimage import gaussian_filter

from ..errors import UserError

#: PSNR reported for an exact reconstruction (MSE = 0), in dB.
PSNR_CAP_DB = 100.0

#: Sweep parameters every image system understands.
IMAGE_SWEEP_PARAMETERS = frozenset({"snr_db", "bandwidth_ratio"})


def source_dimension(image_shape: Sequence[int]) -> int:
    """``n = H * W * C`` of an image of shape ``(H, W, C)``."""
    h, w, c = image_shape
    return int(h) * int(w) * int(c)


def symbols_for_ratio(ratio: float, image_shape: Sequence[int], *, field: str = "bandwidth_ratio") -> int:
    """Complex channel uses ``k = round(ratio * n)`` for one image.

    :raises UserError: naming ``field`` when the ratio gives no symbol at all or is
        not a number in (0, 1].
    """
    if not np.isfinite(ratio) or ratio <= 0 or ratio > 1:
        raise UserError(f"{field}: {ratio!r} is not a bandwidth ratio k/n in (0, 1]")
    n = source_dimension(image_shape)
    k = int(round(ratio * n))
    if k < 1:
        raise UserError(f"{field}: {ratio:g} gives k = round({ratio:g} x {n}) = 0 channel uses per "
                        f"{'x'.join(map(str, image_shape))} image; the smallest usable ratio is {0.5 / n:.3g}")
    return k


def point_ratio_and_snr(point: Dict[str, float], default_ratio: Optional[float]) -> Tuple[float, float]:
    """``(bandwidth_ratio, snr_db)`` of a sweep point (ratio from params when not swept)."""
    ratio = point.get("bandwidth_ratio", default_ratio)
    if ratio is None:
        raise UserError("sweep: give bandwidth_ratio in the sweep (or sweep.fixed), or params.bandwidth_ratio")
    if "snr_db" not in point:
        raise UserError("sweep: give snr_db in the sweep (or sweep.fixed)")
    return float(ratio), float(point["snr_db"])


def to_unit(images: np.ndarray) -> np.ndarray:
    """``uint8 [..]`` -> ``float32`` in [0, 1]; float input is returned as float32."""
    if images.dtype == np.uint8:
        return images.astype(np.float32) / 255.0
    return images.astype(np.float32)


def to_uint8(images: np.ndarray) -> np.ndarray:
    """Float images in [0, 1] -> ``uint8`` (rounded, clipped)."""
    return np.clip(np.rint(np.asarray(images, dtype=np.float64) * 255.0), 0, 255).astype(np.uint8)


def mse_per_image(original: np.ndarray, reconstructed: np.ndarray) -> np.ndarray:
    """Mean squared error per image ``[N]`` of ``[N, H, W, C]`` images in [0, 1]."""
    a, b = to_unit(original).astype(np.float64), to_unit(reconstructed).astype(np.float64)
    return ((a - b) ** 2).reshape(a.shape[0], -1).mean(axis=1)


def psnr_per_image(original: np.ndarray, reconstructed: np.ndarray) -> np.ndarray:
    """PSNR in dB per image ``[N]`` (peak 1; :data:`PSNR_CAP_DB` when identical)."""
    mse = mse_per_image(original, reconstructed)
    with np.errstate(divide="ignore"):
        psnr = -10.0 * np.log10(mse)
    return np.minimum(psnr, PSNR_CAP_DB)


def ssim_per_image(original: np.ndarray, reconstructed: np.ndarray, *, sigma: float = 1.5) -> np.ndarray:
    """SSIM per image ``[N]`` (Gaussian window, data range 1, mean over pixels and channels).

    Statistics are computed with a truncated Gaussian (radius 5 = an 11x11 window) and
    only where the whole window lies inside the image, as in Wang et al.'s reference
    implementation.
    """
    a, b = to_unit(original).astype(np.float64), to_unit(reconstructed).astype(np.float64)
    c1, c2 = 0.01 ** 2, 0.03 ** 2
    radius = 5
    out = np.empty(a.shape[0])
    for i in range(a.shape[0]):
        vals = []
        for ch in range(a.shape[3]):
            x, y = a[i, :, :, ch], b[i, :, :, ch]

            def blur(z: np.ndarray) -> np.ndarray:
                return gaussian_filter(z, sigma, truncate=radius / sigma, mode="reflect")

            mx, my = blur(x), blur(y)
            sxx, syy, sxy = blur(x * x) - mx * mx, blur(y * y) - my * my, blur(x * y) - mx * my
            ssim = ((2 * mx * my + c1) * (2 * sxy + c2)) / ((mx * mx + my * my + c1) * (sxx + syy + c2))
            if ssim.shape[0] > 2 * radius and ssim.shape[1] > 2 * radius:
                ssim = ssim[radius:-radius, radius:-radius]
            vals.append(ssim.mean())
        out[i] = float(np.mean(vals))
    return out


def mean_statistics(name: str, values: np.ndarray) -> Dict[str, float]:
    """``<name>_sum``, ``<name>_sumsq``, ``<name>_count`` of ``values`` (a :class:`~linksim.metrics.MeanMetric`'s statistics)."""
    values = np.asarray(values, dtype=np.float64)
    return {f"{name}_sum": float(values.sum()), f"{name}_sumsq": float((values ** 2).sum()),
            f"{name}_count": float(values.size)}


def image_statistics(original: np.ndarray, reconstructed: np.ndarray, *, labels: Optional[np.ndarray] = None,
                     predicted: Optional[np.ndarray] = None, symbols: Optional[np.ndarray] = None,
                     payload_bits: Optional[np.ndarray] = None, lost: Optional[np.ndarray] = None,
                     with_ssim: bool = True) -> Dict[str, float]:
    """Additive statistics of one batch of images.

    :param original: ``[N, H, W, C]`` sent images (uint8 or float in [0, 1]).
    :param reconstructed: ``[N, H, W, C]`` receiver outputs (uint8 or float in [0, 1]).
    :param labels: ``[N]`` true classes (accuracy needs them and ``predicted``).
    :param predicted: ``[N]`` classes the downstream model gives the reconstructions.
    :param symbols: ``[N]`` complex channel uses spent per image (``symbols_per_message``).
    :param payload_bits: ``[N]`` source-codec bits per image (``bpp``: divided by H*W).
    :param lost: ``[N]`` bool, images the receiver could not decode (``image_loss``).
    :returns: ``psnr_*``, ``ssim_*``, ``mse_*`` mean statistics; ``correct``/``trials``;
        ``symbols_per_message_*``; ``bpp_*``; ``images_lost``/``images``.
    """
    stats: Dict[str, float] = {}
    stats.update(mean_statistics("psnr", psnr_per_image(original, reconstructed)))
    stats.update(mean_statistics("mse", mse_per_image(original, reconstructed)))
    if with_ssim:
        stats.update(mean_statistics("ssim", ssim_per_image(original, reconstructed)))
    if labels is not None and predicted is not None:
        stats["correct"] = float(np.count_nonzero(np.asarray(labels) == np.asarray(predicted)))
        stats["trials"] = float(len(labels))
    if symbols is not None:
        stats.update(mean_statistics("symbols_per_message", symbols))
    if payload_bits is not None:
        pixels = original.shape[1] * original.shape[2]
        stats.update(mean_statistics("bpp", np.asarray(payload_bits, dtype=np.float64) / pixels))
    if lost is not None:
        stats["images_lost"] = float(np.count_nonzero(lost))
        stats["images"] = float(len(lost))
    return stats
