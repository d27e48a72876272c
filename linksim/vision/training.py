"""Training and inference helpers shared by the image systems: tensors, augmentation, ``fit``.

Images enter as ``uint8 [N, H, W, C]`` and are fed to the networks as
``float32 [N, C, H, W]`` in [0, 1]. :func:`fit` trains Keras models on one loss with
one objective of the kit's :class:`~linksim.learning.TrainingLoop` (Adam, a step
learning-rate decay of ``decay_factor`` every ``decay_every`` epochs, a seeded batch
order, one progress line per epoch, and a stop naming the stage if the loss turns NaN).
"""

from __future__ import annotations

from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch

from ..learning.stages import StageSettings
from ..systems.training import log_stderr

Logger = Callable[[str], None]


def to_tensor(images: np.ndarray, device: Any = "cpu") -> torch.Tensor:
    """``uint8 [N, H, W, C]`` -> ``float32 [N, C, H, W]`` in [0, 1] on ``device``."""
    t = torch.from_numpy(np.ascontiguousarray(images)).to(device)
    return t.permute(0, 3, 1, 2).float().div_(255.0)

def to_images(x: torch.Tensor) -> np.ndarray:
    """``float [N, C, H, W]`` in [0, 1] -> ``float32 [N, H, W, C]`` numpy."""
    return x.detach().permute(0, 2, 3, 1).float().cpu().numpy()

def model_device(model: Any) -> torch.device:
    """The torch device holding ``model``'s weights (Keras picks CUDA when present)."""
    weights = model.weights
    return weights[0].value.device if weights else torch.device("cpu")

def augment(x: torch.Tensor, generator: torch.Generator, pad: int = 4) -> torch.Tensor:
    """Random crop after zero padding by ``pad`` and random horizontal flip (per image)."""
    n, _, h, w = x.shape
    padded = torch.nn.functional.pad(x, (pad, pad, pad, pad))
    dy = torch.randint(0, 2 * pad + 1, (n,), generator=generator)
    dx = torch.randint(0, 2 * pad + 1, (n,), generator=generator)
    flip = torch.rand(n, generator=generator) < 0.5
    out = torch.empty_like(x)
    for i in range(n):
        crop = padded[i, :, dy[i]: dy[i] + h, dx[i]: dx[i] + w]
        out[i] = torch.flip(crop, dims=[2]) if flip[i] else crop
    return out

def fit(models: Sequence[Any], loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
        images: np.ndarray, labels: np.ndarray, settings: StageSettings, *, seed: int, name: str,
        log: Optional[Logger] = log_stderr, after_epoch: Optional[Callable[[int], None]] = None,
        after_step: Optional[Callable[[int], None]] = None, augment_data: bool = False) -> List[float]:
    """Train the trainable weights of ``models`` on ``loss_fn(x, y)``; return the mean loss per epoch.

    One objective of linksim's :class:`~linksim.learning.TrainingLoop` (Adam, step decay,
    seeded batch order, divergence check).

    :param models: Keras models whose trainable weights Adam updates.
    :param loss_fn: ``(x [B, C, H, W] float in [0, 1], y [B] int64) -> scalar loss``.
    :param images: ``uint8 [N, H, W, C]`` training images.
    :param labels: ``int64 [N]`` labels (passed through to ``loss_fn``).
    :param settings: Epochs, batch size, learning rate and decay.
    :param seed: Seed of the batch order (and augmentation).
    :param name: What is trained (logs, and the message if the loss diverges).
    :param after_epoch: Called with the 1-based epoch number after each epoch.
    :param after_step: Called with the 1-based optimizer step count after each step.
    :raises RuntimeError: if a model has no trainable weights (e.g. not built yet).
    :raises ~linksim.errors.TrainingDiverged: the loss became NaN or infinite.
    """
    from ..learning import Batches, Objective, TrainingLoop

    def augmented(batch: Tuple[torch.Tensor, ...], generator: torch.Generator) -> Tuple[torch.Tensor, ...]:
        return (augment(batch[0], generator), *batch[1:])

    batches = Batches([to_tensor(images), torch.from_numpy(np.asarray(labels, dtype=np.int64))], settings.batch_size,
                      transform=augmented if augment_data else None)
    objective = Objective(name, models, lambda batch: loss_fn(batch[0], batch[1]), settings.learning_rate,
                          decay_every=max(1, settings.decay_every), decay_factor=settings.decay_factor)
    loop = TrainingLoop(name, batches, [objective], epochs=settings.epochs, seed=seed, log=log,
                        after_step=[lambda info: after_step(info.step)] if after_step is not None else [],
                        after_epoch=[after_epoch] if after_epoch is not None else [])
    return loop.run().history[name]

@torch.no_grad()
def predict_batches(fn: Callable[[torch.Tensor], torch.Tensor], images: np.ndarray, *,
                    device: Any = "cpu", batch: int = 500) -> np.ndarray:
    """Apply ``fn`` to ``uint8 [N, H, W, C]`` images (sent to ``device``) in batches; concatenate the numpy outputs."""
    out = [fn(to_tensor(images[i: i + batch], device)).detach().cpu().numpy() for i in range(0, len(images), batch)]
    return np.concatenate(out, axis=0)

def mean_and_std(images: np.ndarray) -> Tuple[List[float], List[float]]:
    """Per-channel mean and standard deviation of ``uint8 [N, H, W, C]`` images in [0, 1] units."""
    x = images.reshape(-1, images.shape[-1]).astype(np.float64) / 255.0
    return x.mean(axis=0).tolist(), np.maximum(x.std(axis=0), 1e-3).tolist()

def stage_dict(settings: StageSettings) -> Dict[str, Any]:
    """JSON-able form of ``settings`` (for weight hashes): :meth:`StageSettings.key_dict`."""
    return settings.key_dict()
