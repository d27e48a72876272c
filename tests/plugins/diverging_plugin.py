"""The README's autoencoder with a loss that turns NaN at a chosen step (tests/test_learning_loop.py)."""

from typing import Any

import torch
from pydantic import Field

from kit_plugin import TinyAutoencoder
from linksim.registry import systems


@systems.register("diverging_autoencoder")
class DivergingAutoencoder(TinyAutoencoder):
    """:class:`kit_plugin.TinyAutoencoder` whose training loss is NaN from step ``inject_nan_at_step``."""

    class Training(TinyAutoencoder.Training):
        inject_nan_at_step: int = Field(3, ge=1)

    def loss(self, model: Any, batch: Any) -> torch.Tensor:
        self._steps = getattr(self, "_steps", 0) + 1
        value = super().loss(model, batch)
        return value * float("nan") if self._steps >= self.training_settings(self.context).inject_nan_at_step else value
