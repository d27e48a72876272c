"""Keras backend selection: linksim's learned transceivers run on Keras 3 + PyTorch."""

from __future__ import annotations

import os
import sys

from .errors import UserError


def ensure_keras_torch() -> None:
    """Make sure Keras (if used) runs on the PyTorch backend.

    Sets ``KERAS_BACKEND=torch`` unless keras is already imported; if keras was
    imported earlier with another backend, raise a clear error instead of mixing
    frameworks.
    """
    if "keras" in sys.modules:
        import keras

        backend = keras.backend.backend()
        if backend != "torch":
            raise UserError(
                f"keras was imported with the {backend!r} backend before linksim; "
                "linksim needs KERAS_BACKEND=torch (set it before importing keras)"
            )
        return
    os.environ["KERAS_BACKEND"] = "torch"
