"""A system that reports a known matrix (tests of ``kind: heatmap`` figures, tests/test_plotting_heatmap.py)."""

from typing import Any, ClassVar, FrozenSet, Mapping

import numpy as np

from linksim.matrices import Matrix
from linksim.registry import systems
from toy_plugin import ToyCoin


def known_matrix(snr_db: float) -> np.ndarray:
    """``[3, 4]``: ``10 r + c + snr_db`` at row ``r``, column ``c``."""
    return 10.0 * np.arange(3)[:, None] + np.arange(4)[None, :] + snr_db


@systems.register("toy_matrix")
class MatrixCoin(ToyCoin):
    """:class:`ToyCoin` that also reports the matrix ``known`` (:func:`known_matrix` at the point's SNR)."""

    matrices_provided: ClassVar[FrozenSet[str]] = frozenset({"known"})

    def matrix(self, name: str, point: Mapping[str, float]) -> Any:
        return Matrix(known_matrix(point["snr_db"]), rows=["a", "b", "c"], row_label="row", col_label="column",
                      value_label="value", note="a known matrix")
