"""The learned-system kit: what every learned transceiver of linksim is trained with.

:mod:`.loop` holds the training loop (objectives, frozen models, gradient transforms,
callbacks, paired batches, accounting, divergence checks); :mod:`.stages` one stage's
settings (:class:`StageSettings`, for every system); :mod:`.training_block` the
``training:`` block (presets ``cpu``/``paper``/``quick`` and stage overrides); :mod:`.cache` the one path
from a weight key to a model (load the verified weights, or seed, train and save).
"""

from .cache import Trained, load_or_train, weight_key
from .loop import (Batches, ClipGradNorm, GradientTransform, Objective, PairedBatches, PerExampleClipNoise,
                   StepInfo, TrainingLoop, TrainingReport)
from .stages import StageSettings
from .training_block import DecayingStageOverride, StageOverride, TrainingBlock

__all__ = ["Trained", "load_or_train", "weight_key", "Batches", "ClipGradNorm", "GradientTransform", "Objective", "PairedBatches", "PerExampleClipNoise",
           "StageSettings", "StageOverride", "DecayingStageOverride", "TrainingBlock", "StepInfo", "TrainingLoop", "TrainingReport"]
