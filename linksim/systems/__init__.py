"""Simulated systems: classical links and learned transceivers, one module per family."""

from .base import System, SystemContext

__all__ = ["System", "SystemContext"]
