"""The ``training:`` block of a learned system: a preset and per-stage overrides.

Every learned system validates its ``training:`` block with a subclass of
:class:`TrainingBlock`: it names its stages as optional fields (each a
:class:`StageOverride`), its presets in :attr:`TrainingBlock.PRESETS` (``cpu``,
``paper`` and ``quick``, the last used by ``--quick`` whatever the block says), and adds
its own settings (training SNR, number of training examples, ...). The system reads a
stage with :meth:`TrainingBlock.stage`; the framework validates the block (with the
field path ``systems[i].training``) before anything runs.

.. code-block:: yaml

    training: {preset: paper, whole: {epochs: 10, batch_size: 64, learning_rate: 1.0e-4}}
"""

from __future__ import annotations

from typing import ClassVar, Dict, Literal, Mapping

from pydantic import Field

from ..registry import ParamsModel
from .stages import StageSettings

#: Most epochs of one stage (the papers use at most a few hundred).
MAX_EPOCHS = 10000
#: Largest batch of one stage.
MAX_BATCH_SIZE = 8192


class StageOverride(ParamsModel):
    """One stage given in the ``training:`` block: it replaces the preset's stage."""

    epochs: int = Field(..., ge=0, le=MAX_EPOCHS, description=f"epochs (0..{MAX_EPOCHS})")
    batch_size: int = Field(..., ge=1, le=MAX_BATCH_SIZE, description=f"examples per batch (1..{MAX_BATCH_SIZE})")
    learning_rate: float = Field(..., gt=0, le=10, description="Adam's learning rate")

    def settings(self) -> StageSettings:
        """The :class:`StageSettings` of this stage (constant learning rate)."""
        return StageSettings(epochs=self.epochs, batch_size=self.batch_size, learning_rate=self.learning_rate)


class DecayingStageOverride(StageOverride):
    """A stage with a step decay of its learning rate."""

    decay_every: int = Field(50, ge=1, le=MAX_EPOCHS, description=f"epochs between decays (1..{MAX_EPOCHS})")
    decay_factor: float = Field(0.5, gt=0, le=1, description="learning-rate factor of each decay")

    def settings(self) -> StageSettings:
        return StageSettings(epochs=self.epochs, batch_size=self.batch_size, learning_rate=self.learning_rate,
                             decay_every=self.decay_every, decay_factor=self.decay_factor)


class TrainingBlock(ParamsModel):
    """Base of a system's ``training:`` block (see the module docstring).

    Subclasses declare one optional :class:`StageOverride` field per stage and set
    :attr:`PRESETS`.
    """

    #: ``{"cpu": {stage: settings}, "paper": {...}, "quick": {...}}``.
    PRESETS: ClassVar[Mapping[str, Mapping[str, StageSettings]]] = {}

    preset: Literal["cpu", "paper"] = Field("cpu", description="cpu (scaled down for a few CPU cores) or paper")

    def stage(self, name: str, *, quick: bool = False) -> StageSettings:
        """The settings of stage ``name``: the ``quick`` preset in quick mode, else the block's
        override of the stage, else the preset's."""
        if quick:
            return self.PRESETS["quick"][name]
        given = getattr(self, name, None)
        if given is not None:
            return given.settings()
        return self.PRESETS[self.preset][name]

    @classmethod
    def stages(cls) -> Dict[str, StageSettings]:
        """The stages of the ``cpu`` preset (every stage name, in order)."""
        return dict(cls.PRESETS.get("cpu", {}))
