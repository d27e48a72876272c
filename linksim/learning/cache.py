"""Load-or-train: the one path by which a learned system gets its weights.

:func:`load_or_train` looks a weight key up in the :class:`~linksim.weights.WeightStore`
(the user's cache, then the shipped weights, each verified by its SHA-256). When the
weights are there, it builds the model and loads them; when they are not, it holds the
key's training lock, seeds everything from the key (initial weights, batch order,
noise), builds, trains and saves, with the training report in the weights' record. So a
model is a function of its key, whatever ran before it and in whichever process.

Keys chain: a later stage's key is made from its own settings *and* the key of the
stage it starts from (:func:`weight_key` with ``parent=``), so retraining a first stage
invalidates everything built on it.

Mem-DeepSC keeps its own path (Keras ``fit``, and checkpoints saved between the stages
of one training: the semantic codec after stage 1, the separate model after stage 2);
moving it here would change the numbers of its 20 shipped models.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Dict, Optional, Union

from ..weights import WeightStore, config_hash
from .loop import TrainingReport


def weight_key(model: str, *parts: Dict[str, Any], parent: Optional[str] = None) -> str:
    """The weight key of a model: a hash of its name/version, its settings and its parent's key.

    :param model: Model name and version (``"tiny_autoencoder-1"``); bump the version
        when the code changes what the weights mean.
    :param parts: JSON-able settings that shape the weights (architecture, training,
        data identity, training channel).
    :param parent: Key of the checkpoint this model is trained from (chained keys).
    """
    return config_hash({"model": model}, *parts, {"parent": parent})


@dataclass
class Trained:
    """A model with its weights, and where they came from."""

    model: Any
    key: str
    source: str  # "trained", "cache" or "shipped"
    path: Path
    report: Optional[TrainingReport] = None


def load_or_train(store: WeightStore, key: str, *, build: Callable[[], Any],
                  train: Callable[[Any], Optional[TrainingReport]], seed: Dict[str, Any],
                  info: Union[None, Dict[str, Any], Callable[[Any], Dict[str, Any]]] = None) -> Trained:
    """The model of ``key``: loaded from the cache or the shipped weights, else trained and saved.

    :param build: Builds the model with its weights created (not yet trained).
    :param train: Trains the built model in place; may return its :class:`TrainingReport`.
    :param seed: The JSON-able material the training is seeded from
        (:func:`~linksim.systems.training.seed_training`): the scenario seed and the key,
        ``{"seed": context.seed, "key": key}``, unless models must share a seed (SemCC's
        variants seed from the fine-tuned model's key).
    :param info: Recorded in the weights' ``.json`` (what the model is, its settings), or a
        function of the trained model giving it (e.g. to record a measured accuracy).
    """
    from ..systems.training import seed_training

    with store.claim(key) as path:
        if path is not None:
            model = build()
            store.load_into(model, path)
            return Trained(model, key, "cache" if path.parent == store.cache_dir else "shipped", path)
        seed_training(seed)
        model = build()
        report = train(model)
        record = dict((info(model) if callable(info) else info) or {})
        if report is not None:
            record["training"] = report.as_dict()
        return Trained(model, key, "trained", store.save(model, key, record), report)
