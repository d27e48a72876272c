"""One training stage's settings, shared by every learned system."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Dict


@dataclass(frozen=True)
class StageSettings:
    """Epochs, batch size and Adam learning rate of one training stage, and its step decay.

    :ivar epochs: Passes over the training data.
    :ivar batch_size: Examples per optimizer step.
    :ivar learning_rate: Adam's initial learning rate.
    :ivar decay_every: Multiply the learning rate by ``decay_factor`` every this many
        epochs; 0 means a constant learning rate.
    :ivar decay_factor: The factor of each decay.
    """

    epochs: int
    batch_size: int
    learning_rate: float
    decay_every: int = 0
    decay_factor: float = 1.0

    def key_dict(self) -> Dict[str, Any]:
        """JSON-able settings for weight keys: the decay only when there is one.

        So a stage without decay hashes as ``{epochs, batch_size, learning_rate}``, the
        form weight keys had before the decay fields existed for every system.
        """
        out: Dict[str, Any] = {"epochs": self.epochs, "batch_size": self.batch_size,
                               "learning_rate": self.learning_rate}
        if self.decay_every > 0:
            out.update(decay_every=self.decay_every, decay_factor=self.decay_factor)
        return out
