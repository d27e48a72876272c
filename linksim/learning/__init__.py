"""The learned-system kit: what every learned transceiver of linksim is trained with.

:mod:`.loop` holds the training loop (objectives, frozen models, gradient transforms,
callbacks, paired batches, accounting, divergence checks); :mod:`.cache` the one path
from a weight key to a model (load the verified weights, or seed, train and save).
"""

from .cache import Trained, load_or_train, weight_key
from .loop import (Batches, ClipGradNorm, GradientTransform, Objective, PairedBatches, PerExampleClipNoise,
                   StepInfo, TrainingLoop, TrainingReport)

__all__ = ["Trained", "load_or_train", "weight_key", "Batches", "ClipGradNorm", "GradientTransform", "Objective", "PairedBatches", "PerExampleClipNoise",
           "StepInfo", "TrainingLoop", "TrainingReport"]
