"""Training of Mem-DeepSC: the stages of Algorithm 1 and the mask stages of Sec. IV.

Every stage goes through one loop, :func:`fit_stage` (Keras ``compile`` + ``fit``
with Adam, one progress line per epoch):

1. ``semantic`` (Alg. 1 lines 1-10): semantic encoder + decoder with cross-entropy
   (eq. (9)), no channel (``z_hat = z``);
2. ``channel`` (lines 11-21): the JSC codec alone through the channel with MSE
   (eq. (10)) on the frozen semantic features ``z`` of every transmitted training
   sentence (context and questions);
3. ``whole`` (lines 22-25): every part jointly through the channel with cross-entropy.

"Separate Mem-DeepSC" (Sec. V-A3) stops after stage 2. The dynamic-transmission
stages start from a trained Mem-DeepSC:

* ``consecutive`` (Sec. IV-C): the whole network fine-tuned with CE while the last
  ``L - L1`` symbols are masked and zero-padded, ``L1`` drawn per sentence;
* ``importance`` (Sec. IV-B2, Alg. 2): only the importance model is trained, with CE
  through the frozen Mem-DeepSC and the straight-through soft top-k mask, ``L1``
  drawn per sentence.

The channel's training SNR (a number or a per-sentence uniform range) is separate
from the evaluation SNR of the sweep.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any, Callable, Dict, Optional, Sequence, Tuple

import numpy as np
import torch

from ...learning.stages import StageSettings
from ..training import log_stderr, torch_threads  # noqa: F401  (re-exported for the system)

if TYPE_CHECKING:  # keras is imported when training starts, so that importing the system stays light
    import keras

    from .model import MemDeepSC

STAGES = ("semantic", "channel", "whole", "importance", "consecutive")


#: Table I of the paper. The importance-mask epoch count is missing from the table;
#: 30 (as "Train Whole Network") is linksim's assumption.
PAPER_TABLE_I: Dict[str, StageSettings] = {
    "semantic": StageSettings(batch_size=200, learning_rate=5e-4, epochs=250),
    "channel": StageSettings(batch_size=100, learning_rate=1e-4, epochs=50),
    "whole": StageSettings(batch_size=200, learning_rate=5e-4, epochs=30),
    "importance": StageSettings(batch_size=200, learning_rate=5e-4, epochs=30),
    "consecutive": StageSettings(batch_size=200, learning_rate=1e-4, epochs=50),
}

#: Scaled-down defaults for the embedded data on a few CPU cores: smaller batches (more
#: updates per epoch on a few thousand questions), fewer epochs, Table I's learning
#: rates except a larger one for the small JSC stage. Calibrated on task 1 with 2000
#: training questions (the semantic stage converges after about 1000 updates).
CPU_DEFAULTS: Dict[str, StageSettings] = {
    "semantic": StageSettings(batch_size=64, learning_rate=5e-4, epochs=40),
    "channel": StageSettings(batch_size=100, learning_rate=1e-3, epochs=10),
    "whole": StageSettings(batch_size=64, learning_rate=1e-4, epochs=5),
    "importance": StageSettings(batch_size=64, learning_rate=5e-4, epochs=5),
    "consecutive": StageSettings(batch_size=64, learning_rate=1e-4, epochs=5),
}

#: ``--quick``: one epoch per stage on a tiny model and a tiny training set.
QUICK_STAGE = StageSettings(batch_size=64, learning_rate=1e-3, epochs=1)


def inputs_of(split: Any, index: Optional[np.ndarray] = None) -> Dict[str, np.ndarray]:
    """Model inputs (``context`` ``[N, T, W]``, ``question`` ``[N, W]``, int64) of a split."""
    context, question = split.context, split.question
    if index is not None:
        context, question = context[index], question[index]
    return {"context": np.asarray(context, dtype=np.int64), "question": np.asarray(question, dtype=np.int64)}


def fit_stage(model: "keras.Model", x: Any, y: np.ndarray, loss: str, settings: StageSettings, *, name: str,
              validation: Optional[Tuple[Any, np.ndarray]] = None, verbose: int = 2,
              log: Callable[[str], None] = print) -> Dict[str, Any]:
    """The training loop shared by every stage: Adam + ``fit``; returns the history.

    :param loss: ``"ce"`` (sparse categorical cross-entropy on logits, eq. (9)) or
        ``"mse"`` (eq. (10)).
    :returns: ``{"epochs", "seconds", "history": {metric: [per epoch]}}``.
    """
    import keras

    if settings.epochs <= 0:
        return {"epochs": 0, "seconds": 0.0, "history": {}}
    if loss == "ce":
        loss_fn: Any = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
        metrics = ["accuracy"]
    elif loss == "mse":
        loss_fn, metrics = keras.losses.MeanSquaredError(), []
    else:
        raise ValueError(f"unknown loss {loss!r}")
    model.compile(optimizer=keras.optimizers.Adam(settings.learning_rate), loss=loss_fn, metrics=metrics,
                  jit_compile=False)
    log(f"[memdeepsc] stage {name}: {settings.epochs} epochs, batch {settings.batch_size}, "
        f"lr {settings.learning_rate:g}, {len(y)} samples")
    t0 = time.perf_counter()
    hist = model.fit(x, y, batch_size=settings.batch_size, epochs=settings.epochs, shuffle=True,
                     validation_data=validation, verbose=verbose)
    seconds = time.perf_counter() - t0
    return {"epochs": settings.epochs, "seconds": seconds,
            "history": {k: [float(v) for v in vals] for k, vals in hist.history.items()}}


def _set_trainable(model: "MemDeepSC", *, semantic: bool, jsc: bool, importance: bool) -> None:
    """Freeze or unfreeze the parts of ``model`` (recompile afterwards)."""
    for layer in (model.semantic_encoder, model.semantic_decoder):
        layer.trainable = semantic
    for layer in (model.jsc_encoder, model.jsc_decoder):
        layer.trainable = jsc
    if model.importance is not None:
        model.importance.trainable = importance


@torch.no_grad()
def semantic_features(model: "MemDeepSC", split: Any, batch: int = 4096) -> np.ndarray:
    """``z`` of every transmitted sentence of ``split`` (non-empty context rows and
    questions; the memoryless variant sends questions only): ``[M, N]`` float32."""
    from .model import PAD

    if model.config.memory:
        rows = np.concatenate([split.context.reshape(-1, split.context.shape[-1]), split.question])
    else:
        rows = np.asarray(split.question)
    rows = rows[np.any(rows != PAD, axis=-1)].astype(np.int64)
    out = [model.semantic_encoder(rows[i:i + batch], training=False) for i in range(0, len(rows), batch)]
    return torch.cat([torch.as_tensor(o) for o in out]).cpu().numpy()


def train_mem_deepsc(model: "MemDeepSC", data: Any, settings: Dict[str, StageSettings], *,
                     stages: Sequence[str] = ("semantic", "channel", "whole"), max_train: Optional[int] = None,
                     max_valid: Optional[int] = None, verbose: int = 2, log: Callable[[str], None] = print,
                     before_stage: Optional[Callable[[str], None]] = None,
                     after_stage: Optional[Callable[[str], None]] = None) -> Dict[str, Any]:
    """Algorithm 1: run ``stages`` (in Alg. 1 order) on ``model``.

    ``("semantic", "channel")`` is the separate Mem-DeepSC; leaving ``"semantic"`` out
    starts from an already trained semantic codec (e.g. a cached stage-1 checkpoint).

    :param data: A dataset with ``split("train")``/``split("valid")``
        (:class:`linksim.data.babi.BabiDataset`).
    :param settings: :class:`StageSettings` of each stage run.
    :param max_train: Use only ``max_train`` evenly spaced training questions (every
        task keeps its share: the split holds the tasks one after the other).
    :param max_valid: Validate on ``max_valid`` evenly spaced validation questions only.
    :param before_stage: Called with the stage name before each stage (e.g. seeding, so
        that a stage's result does not depend on whether earlier stages ran or were loaded).
    :param after_stage: Called with the stage name after each stage (checkpoints).
    :returns: Per-stage reports of :func:`fit_stage`.
    """
    from .model import JSCTrainer, MaskSetting

    unknown = set(stages) - {"semantic", "channel", "whole"}
    if unknown:
        raise ValueError(f"unknown stages {sorted(unknown)}")
    x, y, val, index = _training_arrays(data, max_train, max_valid)
    report: Dict[str, Any] = {}
    model.mask = MaskSetting()

    def before(stage: str) -> None:
        if before_stage is not None:
            before_stage(stage)

    def after(stage: str) -> None:
        if after_stage is not None:
            after_stage(stage)

    try:
        if "semantic" in stages:  # Alg. 1 lines 1-10: CE, no channel
            before("semantic")
            _set_trainable(model, semantic=True, jsc=False, importance=False)
            model.use_channel = False
            report["semantic"] = fit_stage(model, x, y, "ce", settings["semantic"], name="1/semantic codec",
                                           validation=val, verbose=verbose, log=log)
            after("semantic")
        if "channel" in stages:  # lines 11-21: MSE on frozen features through the channel
            before("channel")
            train = data.split("train")
            z = semantic_features(model, train if index is None else _Subset(train, index))
            _set_trainable(model, semantic=False, jsc=True, importance=False)
            report["channel"] = fit_stage(JSCTrainer(model), z, z, "mse", settings["channel"], name="2/JSC codec",
                                          verbose=verbose, log=log)
            after("channel")
        if "whole" in stages:  # lines 22-25: CE through the channel, everything trained
            before("whole")
            _set_trainable(model, semantic=True, jsc=True, importance=False)
            model.use_channel = True
            report["whole"] = fit_stage(model, x, y, "ce", settings["whole"], name="3/whole network",
                                        validation=val, verbose=verbose, log=log)
            after("whole")
    finally:
        model.use_channel = True
        _set_trainable(model, semantic=True, jsc=True, importance=True)
    return report


def train_mask(model: "MemDeepSC", data: Any, mode: str, settings: StageSettings, l1_range: Tuple[int, int], *,
               max_train: Optional[int] = None, max_valid: Optional[int] = None, verbose: int = 2,
               log: Callable[[str], None] = print) -> Dict[str, Any]:
    """Train a dynamic-transmission mask on a trained Mem-DeepSC (Sec. IV-B/C).

    :param mode: ``"consecutive"`` (fine-tune everything but the importance model) or
        ``"importance"`` (train the importance model only, the rest frozen).
    :param l1_range: ``(lo, hi)``: ``L1`` drawn uniformly per sentence in training.
    """
    from .model import MaskSetting

    x, y, val, _ = _training_arrays(data, max_train, max_valid)
    model.use_channel = True
    model.mask = MaskSetting(mode=mode, l1=None, train_range=l1_range)
    if mode == "importance":
        _set_trainable(model, semantic=False, jsc=False, importance=True)
        model.freeze_base = True
    elif mode == "consecutive":
        _set_trainable(model, semantic=True, jsc=True, importance=False)
    else:
        raise ValueError(f"mode {mode!r} is not trained")
    try:
        return fit_stage(model, x, y, "ce", settings, name=f"{mode} mask", validation=val, verbose=verbose,
                         log=log)
    finally:
        model.freeze_base = False
        _set_trainable(model, semantic=True, jsc=True, importance=True)
        model.mask = MaskSetting()


def _training_arrays(data: Any, max_train: Optional[int], max_valid: Optional[int]) -> Tuple[Any, ...]:
    """``(x, y, validation or None, train index or None)`` for ``fit``."""
    train, valid = data.split("train"), data.split("valid")
    index = None if max_train is None or max_train >= len(train) else _spread(max_train, len(train))
    x, y = inputs_of(train, index), np.asarray(train.answer if index is None else train.answer[index])
    val = None
    if len(valid) and max_valid != 0:
        vindex = None if max_valid is None or max_valid >= len(valid) else _spread(max_valid, len(valid))
        val = (inputs_of(valid, vindex), np.asarray(valid.answer if vindex is None else valid.answer[vindex]))
    return x, y, val, index


def _spread(count: int, total: int) -> np.ndarray:
    """``count`` distinct indices spread evenly over ``range(total)`` (``count < total``)."""
    return np.floor(np.arange(count) * (total / count)).astype(np.int64)


class _Subset:
    """Some rows of a split (the attributes :func:`semantic_features` reads)."""

    def __init__(self, split: Any, index: np.ndarray) -> None:
        self.context = split.context[index]
        self.question = split.question[index]
