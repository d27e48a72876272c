"""A membership-inference check on the erased samples (an extra metric of forgetting).

The attacker knows the codec's reconstruction error and calls an image a *member* of the
training set when its error is below a threshold. The threshold is the median per-image
MSE of a *reference set* of non-members that look like the erased samples: the test
images of the backdoor's base class (every class but the target when there is none) with
the trigger stamped. So for images the codec never trained on the membership rate is 0.5
by construction; a codec that memorised the erased samples reconstructs them better
(rate above 0.5); one that was pushed away from them reconstructs them worse than unseen
data (rate below 0.5, an over-unlearning that is itself visible). Retraining is the
reference.

The threshold is computed once per codec and point under its own seed, without moving any
random generator (:func:`~linksim.systems.training.preserved_random_state`), so the other
metrics' draws do not depend on whether this one is asked for.
"""

from __future__ import annotations

from typing import Any, Mapping, Optional

import numpy as np
import torch

from ...data.backdoor import TriggerSpec, add_trigger
from ...vision import quality
from ..training import preserved_random_state, seed_training
from .probes import received_images


def reference_images(test_images: np.ndarray, test_labels: np.ndarray, trigger: TriggerSpec, *,
                     target_label: int, base_label: Optional[int]) -> np.ndarray:
    """Non-members like the erased samples: the test images of the base class (or of every
    class but the target), triggered. ``uint8 [R, H, W, C]``."""
    labels = np.asarray(test_labels)
    chosen = labels == base_label if base_label is not None else labels != target_label
    if not np.any(chosen):
        raise ValueError(f"the test split has no image of class {base_label} for the membership reference")
    return add_trigger(np.asarray(test_images)[chosen], trigger)


def membership_threshold(codec: Any, reference: np.ndarray, channel: Any, snr_db: float, *,
                         seed: Mapping[str, Any], device: str = "cpu") -> float:
    """The median per-image MSE (pixel values in [0, 1]) of ``reference`` through ``codec`` and
    ``channel`` at ``snr_db`` (noise seeded by ``seed``; no generator moved)."""
    with torch.no_grad(), preserved_random_state(device):
        seed_training(dict(seed))
        reconstructed = received_images(codec, reference, channel, snr_db)
    return float(np.median(quality.mse_per_image(reference, reconstructed)))


def membership_statistics(erased_mse: np.ndarray, threshold: float) -> dict:
    """``membership_hits`` (erased images with an MSE below ``threshold``) and ``membership_trials``."""
    erased_mse = np.asarray(erased_mse, dtype=np.float64)
    return {"membership_hits": float(np.count_nonzero(erased_mse < threshold)),
            "membership_trials": float(erased_mse.size)}
