"""The base of every image system: the scenario's image dataset and the sweep's ratio checks."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, ClassVar, Dict, Optional, Sequence, Tuple

from ..errors import UserError
from ..vision.quality import symbols_for_ratio
from .base import System

if TYPE_CHECKING:
    from ..data.images import ImageDataset
    from .base import SystemContext


def image_dataset(context: "SystemContext") -> "ImageDataset":
    """The scenario's image dataset (``data: {type: images, ...}``; embedded by default),
    one object for all the systems of a run (:meth:`~linksim.resources.Resources.dataset`).

    :raises UserError: when ``data.type`` is not ``images``.
    """
    spec = dict(context.data) if context.data is not None else {"type": "images"}
    if spec.get("type") != "images":
        raise UserError(f"data.type: image systems need data of type 'images', not {spec.get('type')!r}")
    return context.resources.dataset(spec, cache_dir=Path(context.cache_dir) / "images")


class ImageSystem(System):
    """Base of the image systems: the scenario's :class:`~linksim.data.images.ImageDataset`,
    loaded once on first use, and the check of every sweep point's bandwidth ratio."""

    sweep_labels: ClassVar[Dict[str, str]] = {**System.sweep_labels, "bandwidth_ratio": "Bandwidth ratio $k/n$"}
    _dataset: Optional["ImageDataset"] = None

    @property
    def dataset(self) -> "ImageDataset":
        if self._dataset is None:
            self._dataset = image_dataset(self.context)
        return self._dataset

    @property
    def image_shape(self) -> Tuple[int, int, int]:
        """``(H, W, C)`` of the dataset's images."""
        return tuple(self.dataset.image_shape)  # type: ignore[return-value]

    @staticmethod
    def check_points(context: "SystemContext", image_shape: Sequence[int], default_ratio: Optional[float], *,
                     need_snr: bool) -> None:
        """Every sweep point must give a ratio with ``k >= 1`` (and an SNR when ``need_snr``).

        :raises UserError: naming ``params.bandwidth_ratio`` or ``sweep``.
        """
        for point in context.points or [{}]:
            ratio = point.get("bandwidth_ratio", default_ratio)
            if ratio is None:
                raise UserError("params.bandwidth_ratio: required when the sweep does not set bandwidth_ratio")
            if need_snr and "snr_db" not in point and context.points:
                raise UserError("sweep: give snr_db in the sweep (or sweep.fixed)")
            field = "sweep" if "bandwidth_ratio" in point else "params.bandwidth_ratio"
            symbols_for_ratio(float(ratio), image_shape, field=field)
