"""Keras 3 layers (PyTorch backend) for learned transceivers: power normalisation and channels."""

from .channel import ChannelLayer
from .power import PowerNormalization

__all__ = ["ChannelLayer", "PowerNormalization"]
