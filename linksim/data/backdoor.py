"""Backdoor triggers and the erased/remaining split of machine-unlearning experiments.

The SCU paper (Wang, Tian, Zhang, Yu; ``../shared/papers/scu-unlearning.md``, Sec. VI-A)
verifies forgetting with a backdoor: a fraction EDR (the erased-data ratio) of the
training set carries a small patch trigger and a target label; a codec and a judge
trained on all of it learn the trigger, and after unlearning the erased samples'
reconstructions should no longer be put in the target class.

* :class:`TriggerSpec`: the patch (size, value, margin from a corner). The authors'
  code uses a 2x2 patch two pixels in from the bottom-right corner, value 255 on every
  channel.
* :func:`add_trigger`: stamp the patch on copies of images; no other pixel changes.
* :func:`patch_level`: how bright the patch is in (reconstructed) images.
* :func:`poison`: choose exactly ``round(EDR * N)`` images of the base class (or of every
  class but the target), seeded; they become the erased set ``D_e`` (triggered,
  relabelled to the target) and replace their clean originals, so the poisoned training
  set ``D = D_r + D_e`` keeps ``N`` images and ``D_r`` is every other clean image.

Shapes: images ``uint8 [N, H, W, C]``, labels ``int64 [N]``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Dict, Literal, Optional, Tuple

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

Corner = Literal["bottom_right", "bottom_left", "top_right", "top_left"]


class TriggerSpec(BaseModel):
    """A square patch trigger ``size x size`` pixels set to ``value`` on every channel,
    ``margin`` pixels in from ``corner`` (the authors' code: 2, 255, 2, bottom_right)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    size: int = Field(2, ge=1, le=4096, description="side of the square patch in pixels")
    value: int = Field(255, ge=0, le=255, description="pixel value of the patch on every channel (0..255)")
    margin: int = Field(2, ge=0, le=4096, description="pixels between the patch and the image border")
    corner: Corner = Field("bottom_right", description="the corner the patch sits in")

    def box(self, height: int, width: int) -> Tuple[slice, slice]:
        """Rows and columns of the patch in an ``height x width`` image.

        :raises ValueError: the patch and its margin do not fit.
        """
        need = self.size + self.margin
        if need > height or need > width:
            raise ValueError(f"a trigger of size {self.size} with margin {self.margin} does not fit in a "
                             f"{height}x{width} image")
        top = self.margin if self.corner.startswith("top") else height - need
        left = self.margin if self.corner.endswith("left") else width - need
        return slice(top, top + self.size), slice(left, left + self.size)


def add_trigger(images: np.ndarray, trigger: TriggerSpec) -> np.ndarray:
    """Copies of ``images`` (``uint8 [N, H, W, C]``) with the patch stamped; nothing else changes."""
    images = np.asarray(images)
    rows, cols = trigger.box(images.shape[1], images.shape[2])
    out = images.copy()
    out[:, rows, cols, :] = trigger.value
    return out


def patch_level(images: np.ndarray, trigger: TriggerSpec) -> np.ndarray:
    """Mean pixel of the trigger's patch in each image (``uint8 [N, H, W, C]``), in units of 255:
    ``float [N]`` in [0, 1]."""
    images = np.asarray(images)
    rows, cols = trigger.box(images.shape[1], images.shape[2])
    return images[:, rows, cols, :].reshape(images.shape[0], -1).astype(np.float64).mean(axis=1) / 255.0


@dataclass(frozen=True)
class PoisonedSplit:
    """A training split with its erased (backdoored) part.

    :ivar remaining_images: ``D_r``: the clean images that stay, ``uint8 [N - m, H, W, C]``.
    :ivar remaining_labels: their labels ``[N - m]``.
    :ivar erased_images: ``D_e``: the triggered images ``[m, H, W, C]``.
    :ivar erased_labels: all ``target_label`` ``[m]``.
    :ivar erased_source: index of each erased image's clean original in the input split ``[m]``.
    :ivar erased_true_labels: the originals' labels ``[m]``.
    :ivar remaining_index: index of each remaining image in the input split ``[N - m]``.
    """

    remaining_images: np.ndarray
    remaining_labels: np.ndarray
    erased_images: np.ndarray
    erased_labels: np.ndarray
    erased_source: np.ndarray
    erased_true_labels: np.ndarray
    remaining_index: np.ndarray

    @property
    def erased_count(self) -> int:
        return int(self.erased_images.shape[0])

    def full(self) -> Tuple[np.ndarray, np.ndarray]:
        """``D = D_r + D_e`` (remaining first, then erased): images and labels of the poisoned set."""
        return (np.concatenate([self.remaining_images, self.erased_images]),
                np.concatenate([self.remaining_labels, self.erased_labels]))


def erased_count(erased_ratio: float, n: int) -> int:
    """``m = round(EDR * N)``, the number of erased samples."""
    return int(round(float(erased_ratio) * int(n)))


def poison(images: np.ndarray, labels: np.ndarray, *, erased_ratio: float, trigger: TriggerSpec,
           target_label: int, base_label: Optional[int], seed: int) -> PoisonedSplit:
    """Split a training set into the backdoored erased set and the clean remaining set.

    :param images: ``uint8 [N, H, W, C]`` clean training images.
    :param labels: ``int64 [N]``.
    :param erased_ratio: EDR in (0, 1): ``m = round(EDR * N)`` images are erased.
    :param trigger: The patch stamped on them.
    :param target_label: The label the erased images get.
    :param base_label: The class the erased images are drawn from (the authors' code: 1);
        None draws from every class but the target (all-to-one backdoor).
    :param seed: Seed of the choice (a seeded sample without replacement, in index order).
    :raises ValueError: ``m < 2``, more erased images than candidates, a base class equal
        to the target, or a trigger that does not fit.
    """
    images, labels = np.asarray(images), np.asarray(labels, dtype=np.int64)
    n = int(images.shape[0])
    if not 0.0 < float(erased_ratio) < 1.0:
        raise ValueError(f"the erased-data ratio must be in (0, 1), got {erased_ratio}")
    if base_label is not None and int(base_label) == int(target_label):
        raise ValueError(f"the base class and the target class are both {target_label}")
    trigger.box(images.shape[1], images.shape[2])  # fits, or ValueError
    m = erased_count(erased_ratio, n)
    candidates = np.flatnonzero(labels == base_label) if base_label is not None \
        else np.flatnonzero(labels != target_label)
    if m < 2:
        raise ValueError(f"EDR {erased_ratio} of {n} images erases {m} (at least 2 are needed)")
    if m > candidates.size:
        where = f"class {base_label}" if base_label is not None else f"the classes other than {target_label}"
        raise ValueError(f"EDR {erased_ratio} of {n} images needs {m} images of {where}, which has {candidates.size}")
    chosen = np.sort(np.random.default_rng(seed).choice(candidates, size=m, replace=False))
    keep = np.ones(n, dtype=bool)
    keep[chosen] = False
    remaining = np.flatnonzero(keep)
    return PoisonedSplit(remaining_images=images[remaining], remaining_labels=labels[remaining],
                         erased_images=add_trigger(images[chosen], trigger),
                         erased_labels=np.full(m, int(target_label), dtype=np.int64), erased_source=chosen,
                         erased_true_labels=labels[chosen], remaining_index=remaining)


def poison_identity(erased_ratio: float, trigger: TriggerSpec, target_label: int, base_label: Optional[int],
                    seed: int) -> Dict[str, Any]:
    """What identifies a poisoning in weight keys and provenance."""
    return {"erased_ratio": float(erased_ratio), "trigger": trigger.model_dump(), "target_label": int(target_label),
            "base_label": None if base_label is None else int(base_label), "seed": int(seed)}
