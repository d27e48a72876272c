"""Transmit power normalisation for learned transmitters (Keras 3 layer)."""

from __future__ import annotations

import math
from typing import Any, Dict, Tuple

from .._backend import ensure_keras_torch

ensure_keras_torch()

import keras  # noqa: E402  (the backend must be chosen first)
from keras import ops  # noqa: E402


class PowerNormalization(keras.layers.Layer):
    """Scale each example to average energy ``power`` per complex symbol.

    Implements eq. (2) of the SemCC paper, ``x = sqrt(k P) z / sqrt(z^H z)``: ``z``
    holds ``k`` complex symbols as (real, imaginary) pairs along the last axis, and
    the energy is summed over every axis but the batch axis.

    :param power: average energy ``P`` per complex symbol (default 1).
    :input z: ``[batch, ..., L, 2]`` real (float32): last axis (re, im).
    :output x: same shape and dtype; ``sum(x**2) / (numel/2) = power`` per example
        (an all-zero example stays zero).
    """

    def __init__(self, power: float = 1.0, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if not power > 0.0:
            raise ValueError(f"power must be > 0, got {power}")
        self.power = float(power)

    def call(self, z: Any) -> Any:
        if z.shape[-1] != 2:
            raise ValueError(
                f"PowerNormalization expects a last axis (re, im) of size 2, got shape {tuple(z.shape)}"
            )
        axes = tuple(range(1, len(z.shape)))
        symbols = math.prod(z.shape[1:]) // 2
        energy = ops.sum(ops.square(z), axis=axes, keepdims=True)
        tiny = 1e-30  # keeps an all-zero example finite (it stays zero)
        return z * ops.sqrt(symbols * self.power / ops.maximum(energy, tiny))

    def compute_output_shape(self, input_shape: Tuple[Any, ...]) -> Tuple[Any, ...]:
        return tuple(input_shape)

    def get_config(self) -> Dict[str, Any]:
        return {**super().get_config(), "power": self.power}
