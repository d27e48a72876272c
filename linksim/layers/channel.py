"""A linksim channel as a Keras 3 layer (PyTorch backend), for end-to-end training."""

from __future__ import annotations

from typing import Any, Dict, Optional, Sequence, Tuple, Union

import torch
from sionna.phy.utils import uniform

from .._backend import ensure_keras_torch
from ..phy.base import Channel, snr_db_to_no
from ..phy.channels import build_channel, channel_spec

ensure_keras_torch()

import keras  # noqa: E402  (the backend must be chosen first)

SnrSpec = Union[float, Tuple[float, float]]


def _parse_snr(snr_db: Any, name: str) -> Union[float, Tuple[float, float]]:
    """A fixed SNR (float) or a range ``(lo, hi)`` with ``lo <= hi``, in dB."""
    if isinstance(snr_db, (int, float)) and not isinstance(snr_db, bool):
        return float(snr_db)
    if isinstance(snr_db, Sequence) and not isinstance(snr_db, str) and len(snr_db) == 2:
        lo, hi = float(snr_db[0]), float(snr_db[1])
        if lo <= hi:
            return (lo, hi)
    raise ValueError(f"{name} must be a number or a (lo, hi) range in dB with lo <= hi, got {snr_db!r}")


class ChannelLayer(keras.layers.Layer):
    """Pass real-valued symbol pairs through a linksim :class:`~linksim.phy.base.Channel`.

    The input's last axis holds (real, imaginary) parts; the symbols along the axis
    before it form the channel block (its length must be a multiple of the channel's
    ``symbols_multiple``, e.g. Nt for MIMO). The layer returns the receiver's
    detected symbols ``x_hat`` (eq. (3) of Mem-DeepSC for SISO fading, ZF/LMMSE for
    MIMO, ``y`` for AWGN). It has no weights and is differentiable with respect to
    its input, so gradients reach the transmitter.

    Noise is drawn per example at ``no = 10**(-snr_db/10)`` (unit symbol energy: put
    a :class:`~linksim.layers.PowerNormalization` before this layer).

    :param channel: a ``{type: name, **params}`` mapping (see
        :mod:`linksim.phy.channels`) or a :class:`~linksim.phy.base.Channel`.
    :param snr_db: Es/N0 in dB: a number, or a range ``(lo, hi)`` from which each
        example's SNR is drawn uniformly (Sionna's generator).
    :param eval_snr_db: optional fixed SNR [dB] used when ``training`` is false and
        no ``snr_db`` is passed to :meth:`call`; without it the ``snr_db`` rule
        applies in inference too.

    :input x: ``[batch, ..., L, 2]``, float32 (or float64).
    :input snr_db: optional override for this call: a number, or a per-example
        tensor/array of shape ``[batch]``.
    :output x_hat: ``[batch, ..., L, 2]``, same dtype as ``x``.
    """

    def __init__(
        self,
        channel: Union[Dict[str, Any], Channel],
        snr_db: SnrSpec,
        eval_snr_db: Optional[float] = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.channel = build_channel(channel)
        self.snr_db = _parse_snr(snr_db, "snr_db")
        self.eval_snr_db = None if eval_snr_db is None else _parse_snr(eval_snr_db, "eval_snr_db")
        if isinstance(self.eval_snr_db, tuple):
            raise ValueError("eval_snr_db must be a single number in dB")

    def _example_snr_db(
        self, snr_db: Any, training: Optional[bool], batch: int, device: torch.device
    ) -> torch.Tensor:
        """SNR in dB per example, ``[batch]`` float32 on ``device``."""
        if snr_db is None:
            snr_db = self.eval_snr_db if (not training and self.eval_snr_db is not None) else self.snr_db
        if isinstance(snr_db, tuple):
            lo, hi = snr_db
            return uniform([batch], low=lo, high=hi, dtype=torch.float32, device=device)
        snr = torch.as_tensor(snr_db, dtype=torch.float32, device=device)
        return snr.expand(batch) if snr.dim() == 0 else snr.reshape(batch)

    def call(self, x: torch.Tensor, snr_db: Any = None, training: Optional[bool] = None) -> torch.Tensor:
        if x.shape[-1] != 2:
            raise ValueError(
                f"ChannelLayer expects a last axis (re, im) of size 2, got shape {tuple(x.shape)}"
            )
        real = x if x.dtype in (torch.float32, torch.float64) else x.float()
        symbols = torch.complex(real[..., 0], real[..., 1])
        batch = symbols.shape[0]
        snr = self._example_snr_db(snr_db, training, batch, x.device)
        no = snr_db_to_no(snr).to(real.dtype).reshape(batch, *([1] * (symbols.dim() - 1)))
        x_hat = self.channel(symbols, no).x_hat
        return torch.stack([x_hat.real, x_hat.imag], dim=-1).to(x.dtype)

    def compute_output_shape(self, input_shape: Tuple[Any, ...]) -> Tuple[Any, ...]:
        return tuple(input_shape)

    def get_config(self) -> Dict[str, Any]:
        spec = channel_spec(self.channel)
        if spec is None:
            raise NotImplementedError("ChannelLayer.get_config needs a registered channel")
        snr = list(self.snr_db) if isinstance(self.snr_db, tuple) else self.snr_db
        return {**super().get_config(), "channel": spec, "snr_db": snr, "eval_snr_db": self.eval_snr_db}
