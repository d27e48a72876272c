"""The training loop of linksim's learned systems, with the hooks the papers need.

One :class:`TrainingLoop` trains Keras models (on the PyTorch backend) through torch
optimizers, one epoch after another over a :class:`Batches` source. What differs between
systems is given to it, not written into it:

* **objectives** (:class:`Objective`): each has its own loss, its own models' trainable
  weights, its own Adam learning rate and step decay, and a number of steps per round.
  Several objectives are stepped in turn on successive batches (an attacker for 5 steps,
  then the defender for 1; a codebook, then an encoder), each with its own optimizer;
* **frozen models**: never in any optimizer, and not trainable while the loop runs
  (their weights are bit-identical afterwards);
* **gradient transforms** (:class:`GradientTransform`) between ``backward`` and the
  optimizer step: :class:`ClipGradNorm` (the norm over the whole update), and
  :class:`PerExampleClipNoise` (DP-SGD: each example's gradient clipped to ``max_norm``,
  Gaussian noise of standard deviation ``noise_multiplier * max_norm`` added to the sum);
* **callbacks** after every optimizer step and every epoch (soft target updates,
  logging, schedules), and inner maximisation (PGD) inside an objective's loss;
* **paired batches** from two datasets (:class:`PairedBatches`);
* **accounting**: per objective the optimizer steps and the examples that contributed
  gradients ("gradient samples"), and the wall time of the stage
  (:class:`TrainingReport`);
* **divergence**: a loss that is NaN or infinite stops the loop with
  :class:`TrainingDiverged`, naming the system, stage, objective, epoch and step.

Randomness: the batch order (and any augmentation) comes from one ``torch.Generator``
seeded with ``seed``, so a stage is a function of its seed and the initial weights.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, Iterator, List, Optional, Sequence, Tuple

import numpy as np
import torch

from ..errors import TrainingDiverged

Batch = Tuple[torch.Tensor, ...]
Logger = Callable[[str], None]


# --------------------------------------------------------------------------- batches


class Batches:
    """Mini-batches of aligned arrays in a seeded random order, one pass per epoch.

    :param arrays: Arrays or tensors with the same first dimension ``N`` (images,
        labels, ...); a batch is the tuple of their rows at the same indices.
    :param batch_size: Rows per batch; the last batch of an epoch may be smaller.
    :param min_batch: Batches with fewer rows are skipped (BatchNorm and contrastive
        losses need 2).
    :param transform: ``(batch, generator) -> batch`` applied to every batch (e.g. data
        augmentation), drawing from the loop's generator.
    """

    def __init__(self, arrays: Sequence[Any], batch_size: int, *, min_batch: int = 2,
                 transform: Optional[Callable[[Batch, torch.Generator], Batch]] = None) -> None:
        self.tensors = [a if isinstance(a, torch.Tensor) else torch.from_numpy(np.asarray(a)) for a in arrays]
        sizes = {t.shape[0] for t in self.tensors}
        if len(sizes) != 1:
            raise ValueError(f"Batches: arrays of different lengths {sorted(sizes)}")
        self.size = sizes.pop()
        self.batch_size = int(batch_size)
        self.min_batch = int(min_batch)
        self.transform = transform

    def epoch(self, generator: torch.Generator) -> Iterator[Batch]:
        """The batches of one epoch (a fresh permutation drawn from ``generator``)."""
        order = torch.randperm(self.size, generator=generator)
        for first in range(0, self.size, self.batch_size):
            idx = order[first: first + self.batch_size]
            if idx.numel() < self.min_batch:
                continue
            batch = tuple(t[idx] for t in self.tensors)
            yield self.transform(batch, generator) if self.transform is not None else batch


class PairedBatches:
    """Batches of two sources side by side: ``a``'s batch followed by ``b``'s, per step.

    An epoch is one pass over ``a``; ``b`` restarts (with a new permutation) whenever it
    runs out, so a small auxiliary set (the data to forget, a poisoned subset) pairs
    with every batch of the main one.
    """

    def __init__(self, a: Batches, b: Batches) -> None:
        self.a, self.b = a, b
        self.size = a.size

    def epoch(self, generator: torch.Generator) -> Iterator[Batch]:
        other = self.b.epoch(generator)
        for first in self.a.epoch(generator):
            try:
                second = next(other)
            except StopIteration:
                other = self.b.epoch(generator)
                second = next(other)
            yield (*first, *second)


# --------------------------------------------------------------------------- objectives and hooks


@dataclass
class Objective:
    """One optimizer of a stage: what it minimises and which weights it moves.

    :ivar name: Shown in logs and messages (``"defender"``, ``"attacker"``).
    :ivar models: Keras models whose trainable weights this optimizer updates.
    :ivar loss: ``batch -> loss``: a scalar, or a ``[B]`` tensor of per-example losses
        when the stage uses a per-example gradient transform (their mean is minimised).
    :ivar learning_rate: Adam's learning rate.
    :ivar decay_every: Multiply the learning rate by ``decay_factor`` every this many
        epochs (0: never).
    :ivar steps: Optimizer steps per round; objectives take turns, one batch per step.
    """

    name: str
    models: Sequence[Any]
    loss: Callable[[Batch], torch.Tensor]
    learning_rate: float
    decay_every: int = 0
    decay_factor: float = 1.0
    steps: int = 1
    #: ``batch -> examples that contribute gradients`` for the accounting (default: the
    #: rows of the batch's first array; paired batches whose both halves train give both).
    gradient_samples: Optional[Callable[[Batch], int]] = None


class GradientTransform:
    """Changes the gradients between ``backward`` and the optimizer step.

    ``per_example`` transforms get the per-example losses ``[B]`` and compute the
    gradients themselves (:meth:`gradients`); the others see the ordinary gradients of
    the mean loss in ``param.grad`` (:meth:`apply`).
    """

    per_example: bool = False

    def apply(self, params: Sequence[torch.nn.Parameter]) -> None:
        """Modify ``p.grad`` of ``params`` in place (non-per-example transforms)."""

    def gradients(self, losses: torch.Tensor, params: Sequence[torch.nn.Parameter],
                  generator: torch.Generator) -> None:  # pragma: no cover - per-example transforms
        """Set ``p.grad`` of ``params`` from the per-example ``losses`` ``[B]``."""
        raise NotImplementedError


@dataclass
class ClipGradNorm(GradientTransform):
    """Scale the whole update so that its L2 norm is at most ``max_norm``."""

    max_norm: float

    def apply(self, params: Sequence[torch.nn.Parameter]) -> None:
        torch.nn.utils.clip_grad_norm_([p for p in params if p.grad is not None], self.max_norm)


@dataclass
class PerExampleClipNoise(GradientTransform):
    """DP-SGD's gradient (Abadi et al., 2016): per-example clipping, then Gaussian noise.

    ``grad = (sum_i clip(g_i, max_norm) + N(0, (noise_multiplier * max_norm)^2 I)) / B``,
    where ``g_i`` is the gradient of example ``i``'s loss and ``clip`` scales a vector to
    norm at most ``max_norm``. Exact (one backward pass per example), which suits the
    small models of the papers; the privacy accounting is the caller's.
    """

    max_norm: float
    noise_multiplier: float = 0.0
    per_example: bool = field(default=True, init=False)
    #: Largest per-example norm (after clipping) of the last batch: for tests and logs.
    last_max_norm: float = field(default=0.0, init=False)

    def gradients(self, losses: torch.Tensor, params: Sequence[torch.nn.Parameter],
                  generator: torch.Generator) -> None:
        if losses.dim() != 1:
            raise ValueError("PerExampleClipNoise needs the per-example losses [B] (reduction='none')")
        total = [torch.zeros_like(p) for p in params]
        self.last_max_norm = 0.0
        for i in range(losses.shape[0]):
            grads = torch.autograd.grad(losses[i], params, retain_graph=i + 1 < losses.shape[0], allow_unused=True)
            grads = [torch.zeros_like(p) if g is None else g for g, p in zip(grads, params)]
            norm = torch.sqrt(sum(torch.sum(g * g) for g in grads))
            scale = min(1.0, self.max_norm / (float(norm) + 1e-12))
            self.last_max_norm = max(self.last_max_norm, float(norm) * scale)
            for acc, g in zip(total, grads):
                acc.add_(g, alpha=scale)
        batch = losses.shape[0]
        for p, acc in zip(params, total):
            if self.noise_multiplier > 0:
                noise = torch.randn(acc.shape, generator=generator, dtype=acc.dtype)
                acc = acc + self.noise_multiplier * self.max_norm * noise.to(acc.device)
            p.grad = acc / batch


Callback = Callable[["StepInfo"], None]


@dataclass(frozen=True)
class StepInfo:
    """What a callback is told: the objective just stepped and where the loop is."""

    objective: str
    step: int  # this objective's optimizer steps so far (1-based)
    epoch: int  # 1-based
    loss: float


@dataclass
class TrainingReport:
    """What a stage did: mean loss per epoch and objective, steps, gradient samples, time."""

    name: str
    history: Dict[str, List[float]]
    steps: Dict[str, int]
    gradient_samples: Dict[str, int]
    wall_s: float

    def as_dict(self) -> Dict[str, Any]:
        return {"name": self.name, "history": self.history, "steps": self.steps,
                "gradient_samples": self.gradient_samples, "wall_s": self.wall_s}


def _parameters(models: Sequence[Any]) -> List[torch.nn.Parameter]:
    """The torch parameters behind the trainable weights of Keras ``models`` (in order, no repeats)."""
    out: List[torch.nn.Parameter] = []
    seen = set()
    for model in models:
        for variable in model.trainable_weights:
            if id(variable.value) not in seen:
                seen.add(id(variable.value))
                out.append(variable.value)
    return out


# --------------------------------------------------------------------------- the loop


class TrainingLoop:
    """Train with one or more objectives over epochs of batches; see the module docstring.

    :param name: What is trained, for logs and messages (``"'SemCC 1/24' stage 1"``).
    :param batches: A :class:`Batches` or :class:`PairedBatches` source.
    :param objectives: The optimizers, stepped in turn (``steps`` each per round).
    :param epochs: Passes over the batch source.
    :param seed: Seed of the batch order and of the loop's generator.
    :param frozen: Models kept fixed: not trainable while the loop runs.
    :param transform: Gradient transform applied to every objective's step.
    :param after_step: Called after every optimizer step.
    :param after_epoch: Called with the 1-based epoch after every epoch.
    :param log: One line per epoch (None: silent).
    """

    def __init__(self, name: str, batches: Any, objectives: Sequence[Objective], *, epochs: int, seed: int,
                 frozen: Sequence[Any] = (), transform: Optional[GradientTransform] = None,
                 after_step: Sequence[Callback] = (), after_epoch: Sequence[Callable[[int], None]] = (),
                 log: Optional[Logger] = None) -> None:
        if not objectives:
            raise ValueError(f"{name}: a training loop needs at least one objective")
        self.name = name
        self.batches = batches
        self.objectives = list(objectives)
        self.epochs = int(epochs)
        self.seed = int(seed)
        self.frozen = list(frozen)
        self.transform = transform
        self.after_step = list(after_step)
        self.after_epoch = list(after_epoch)
        self.log = log
        self.generator = torch.Generator().manual_seed(self.seed)

    def run(self) -> TrainingReport:
        """Train; return the report.

        :raises TrainingDiverged: a loss became NaN or infinite.
        :raises RuntimeError: an objective has no trainable weights (a model not built).
        """
        trainable_before = [(m, m.trainable) for m in self.frozen]
        for model in self.frozen:
            model.trainable = False
        try:
            return self._run()
        finally:
            for model, flag in trainable_before:
                model.trainable = flag

    def _run(self) -> TrainingReport:
        params = []
        for objective in self.objectives:
            own = _parameters(objective.models)
            if not own:
                names = ", ".join(getattr(m, "name", type(m).__name__) for m in objective.models)
                raise RuntimeError(f"{self.name}: objective {objective.name!r} has no trainable weights in "
                                   f"{names} (build the models before training)")
            params.append(own)
        optimizers = [torch.optim.Adam(own, lr=o.learning_rate) for own, o in zip(params, self.objectives)]
        schedules = [torch.optim.lr_scheduler.StepLR(opt, step_size=max(1, o.decay_every), gamma=o.decay_factor)
                     if o.decay_every > 0 else None for opt, o in zip(optimizers, self.objectives)]
        device = params[0][0].device
        rounds = [i for i, o in enumerate(self.objectives) for _ in range(max(1, o.steps))]
        history: Dict[str, List[float]] = {o.name: [] for o in self.objectives}
        steps = {o.name: 0 for o in self.objectives}
        samples = {o.name: 0 for o in self.objectives}
        started = time.time()
        turn = 0
        for epoch in range(1, self.epochs + 1):
            epoch_start = time.time()
            totals = {o.name: [0.0, 0] for o in self.objectives}
            for batch in self.batches.epoch(self.generator):
                index = rounds[turn % len(rounds)]
                turn += 1
                objective, optimizer = self.objectives[index], optimizers[index]
                batch = tuple(t.to(device) for t in batch)
                value = self._step(objective, optimizer, params[index], batch, epoch, steps[objective.name] + 1)
                steps[objective.name] += 1
                samples[objective.name] += int(objective.gradient_samples(batch)) \
                    if objective.gradient_samples is not None else int(batch[0].shape[0])
                totals[objective.name][0] += value
                totals[objective.name][1] += 1
                info = StepInfo(objective.name, steps[objective.name], epoch, value)
                for callback in self.after_step:
                    callback(info)
            for schedule in schedules:
                if schedule is not None:
                    schedule.step()
            for name, (total, count) in totals.items():
                history[name].append(total / max(count, 1))
            for callback in self.after_epoch:
                callback(epoch)
            if self.log is not None:
                losses = ", ".join(f"{n} {h[-1]:.4f}" for n, h in history.items()) if len(history) > 1 \
                    else f"{next(iter(history.values()))[-1]:.4f}"
                self.log(f"  {self.name} epoch {epoch}/{self.epochs}: loss {losses} ({time.time() - epoch_start:.1f} s)")
        return TrainingReport(self.name, history, steps, samples, time.time() - started)

    def _step(self, objective: Objective, optimizer: torch.optim.Optimizer, params: List[torch.nn.Parameter],
              batch: Batch, epoch: int, step: int) -> float:
        loss = objective.loss(batch)
        if not bool(torch.isfinite(loss.detach()).all()):
            bad = loss.detach()
            shown = float(bad) if bad.dim() == 0 else float(bad[~torch.isfinite(bad)][0])
            raise TrainingDiverged(f"{self.name}: objective {objective.name!r}: the loss is {shown} at epoch "
                                   f"{epoch}, step {step}; lower the learning rate or check the data")
        optimizer.zero_grad(set_to_none=True)
        if self.transform is not None and self.transform.per_example:
            self.transform.gradients(loss, params, self.generator)
            value = float(loss.detach().mean())
        else:
            if loss.dim() != 0:
                loss = loss.mean()
            loss.backward()
            if self.transform is not None:
                self.transform.apply(params)
            value = float(loss.detach())
        optimizer.step()
        if not math.isfinite(value):  # pragma: no cover - caught above
            raise TrainingDiverged(f"{self.name}: the loss is {value}")
        return value
