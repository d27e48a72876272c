"""The unlearning history of the SCU paper's Fig. 5: a fixed probe set, measured during unlearning.

Every few optimizer steps the codec being unlearned sends a fixed :class:`ProbeSet` (clean
test images and erased images) through the channel; :func:`probe_statistics` returns the
additive statistics of the probe metrics (``probe_mse``, ``probe_mse_erased``,
``probe_accuracy``, ``probe_backdoor_accuracy``: see :mod:`linksim.metrics`). A record is
``{"step": s, **statistics}``; a history is the list of records, kept with the weights.

A probe neither depends on nor moves the caller's random generators: it runs under
:func:`~linksim.systems.training.preserved_random_state` and seeds its own draws, so every
record of a history sees the same noise (step 0 equals the codec before unlearning) and
the unlearned weights are those of a run without probes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Dict, List, Mapping, Optional

import numpy as np
import torch

from ...vision import quality
from ...weights import config_hash
from ..training import preserved_random_state, seed_training

#: The probe metrics (their statistics are what a record holds).
PROBE_METRICS = frozenset({"probe_mse", "probe_mse_erased", "probe_accuracy", "probe_backdoor_accuracy"})


@dataclass(frozen=True)
class ProbeSet:
    """``clean`` uint8 ``[P, H, W, C]`` test images with ``labels`` ``[P]``; ``erased`` ``[<= P, H, W, C]``."""

    clean: np.ndarray
    labels: np.ndarray
    erased: np.ndarray

    @classmethod
    def draw(cls, test_images: np.ndarray, test_labels: np.ndarray, erased: np.ndarray, size: int,
             seed: int) -> "ProbeSet":
        """``size`` test images drawn without replacement (fixed by ``seed``) and the first ``size`` erased ones."""
        rng = np.random.default_rng(int(config_hash({"probe": seed}), 16) % 2**32)
        index = np.sort(rng.choice(len(test_images), size=min(size, len(test_images)), replace=False))
        return cls(test_images[index], test_labels[index], erased[:size])


def received_images(codec: Any, images: np.ndarray, channel: Any, snr_db: float) -> np.ndarray:
    """``images`` (uint8 ``[N, H, W, C]``) through a VIB ``codec`` (sampled latent) and ``channel``
    at ``snr_db`` (Es/N0 in dB), in inference mode: uint8 reconstructions ``[N, H, W, C]``."""
    from ...vision.training import model_device, to_images, to_tensor

    x = to_tensor(images, model_device(codec))
    mu, logvar = codec.encoder(x, training=False)
    y = channel(codec.encoder.symbols(codec.sample(mu, logvar)), snr_db=snr_db, training=False)
    return quality.to_uint8(to_images(codec.decoder(y, training=False)))


def probe_statistics(codec: Any, probe: ProbeSet, classify: Callable[[np.ndarray], np.ndarray], channel: Any,
                     snr_db: float, target_label: int, *, seed: Mapping[str, Any], device: str = "cpu"
                     ) -> Dict[str, float]:
    """The probe metrics' statistics of ``codec`` now (its noise seeded by ``seed``, no generator moved).

    :param classify: The judge: uint8 images ``[N, H, W, C]`` to predicted classes ``[N]``.
    :param target_label: The backdoor's target class (``probe_backdoor_accuracy`` counts it).
    """
    with torch.no_grad(), preserved_random_state(device):
        seed_training(dict(seed))
        clean_hat = received_images(codec, probe.clean, channel, snr_db)
        erased_hat = received_images(codec, probe.erased, channel, snr_db)
        correct = classify(clean_hat) == probe.labels
        hits = classify(erased_hat) == target_label
    return {**quality.mean_statistics("probe_mse", quality.mse_per_image(probe.clean, clean_hat)),
            **quality.mean_statistics("probe_mse_erased", quality.mse_per_image(probe.erased, erased_hat)),
            "probe_accuracy_hits": float(np.count_nonzero(correct)), "probe_accuracy_trials": float(len(probe.clean)),
            "probe_backdoor_hits": float(np.count_nonzero(hits)), "probe_backdoor_trials": float(len(probe.erased))}


def record_at(history: List[Dict[str, float]], step: Optional[float]) -> Dict[str, float]:
    """The statistics of the last record at or before ``step`` (None: the final record)."""
    if not history:
        raise ValueError("an empty unlearning history")
    chosen = history[-1] if step is None else [r for r in history if r["step"] <= step][-1]
    return {name: value for name, value in chosen.items() if name != "step"}
