"""The downstream classifier that judges every image link: ResNet-20, trained by linksim.

The SemCC paper uses a pre-trained CIFAR-10 ResNet-20 as the receiver's downstream
model (its backbone also guides SemCC and DeepSC). linksim trains it on the scenario's
training split (random crop + flip, Adam, cross-entropy), caches it in the
:class:`~linksim.weights.WeightStore` under a hash of (architecture, training
settings, data identity) and ships it for the embedded image set. All image systems of
a scenario share one instance per configuration (:func:`downstream_classifier`).
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Tuple

import numpy as np
import torch
from pydantic import Field

from ..learning.cache import load_or_train
from ..learning.stages import StageSettings
from ..registry import ParamsModel
from ..systems.base import SystemContext
from ..systems.training import log_stderr, torch_threads
from ..weights import WeightStore, config_hash, file_sha256, meta_path
from .quality import to_uint8
from .training import fit, mean_and_std, model_device, predict_batches, stage_dict

WEIGHT_KIND = "images"
MODEL_VERSION = "resnet20-2"

#: ``--quick``: a ResNet-8 of width 8, one epoch on the first images of the train split.
QUICK_ARCH = {"width": 8, "blocks": 1}
QUICK_TRAIN_IMAGES = 256

#: Bounds of every image training stage (classifier and transceivers): generous (the
#: paper trains 300 + 50 epochs with batches of 128) and finite.
MAX_EPOCHS = 10000
MAX_BATCH_SIZE = 4096


class ClassifierParams(ParamsModel):
    """The downstream classifier: ResNet-(6 blocks + 2) and its training."""

    width: int = Field(16, ge=4, le=512, description="first-stage width (16 in ResNet-20; 4..512)")
    blocks: int = Field(3, ge=1, le=64, description="basic blocks per stage (3: ResNet-20; 1..64, ResNet-386)")
    epochs: int = Field(10, ge=1, le=MAX_EPOCHS, description=f"training epochs (1..{MAX_EPOCHS})")
    batch_size: int = Field(128, ge=2, le=MAX_BATCH_SIZE, description=f"images per batch (2..{MAX_BATCH_SIZE})")
    learning_rate: float = Field(2e-3, gt=0, allow_inf_nan=False)
    decay_every: int = Field(4, ge=1, le=MAX_EPOCHS,
                             description=f"epochs between learning-rate halvings (1..{MAX_EPOCHS})")
    augment: bool = Field(True, description="random crop (4 px padding) and horizontal flip")
    threads: Optional[int] = Field(None, ge=1, le=1024, description="torch threads while training (1..1024)")

    def stage(self, quick: bool) -> StageSettings:
        if quick:
            return StageSettings(1, 64, 2e-3, 1, 0.5)
        return StageSettings(self.epochs, self.batch_size, self.learning_rate, self.decay_every, 0.5)


class DownstreamClassifier:
    """A trained ResNet and how it was made.

    :ivar model: The :class:`~.networks.ResNet20` (``backbone``, ``classifier``).
    :ivar key: Its weight-store key.
    :ivar info: Provenance (architecture, weight sha256, test accuracy on clean images).
    """

    def __init__(self, model: Any, key: str, info: Dict[str, Any]) -> None:
        self.model, self.key, self.info = model, key, info

    def logits(self, x: torch.Tensor) -> torch.Tensor:
        """``[N, classes]`` logits of images ``[N, C, H, W]`` in [0, 1] (inference mode)."""
        return self.model(x, training=False)

    def predict(self, images: np.ndarray) -> np.ndarray:
        """Class indices ``int64 [N]`` of images ``uint8 [N, H, W, C]`` or float in [0, 1]."""
        if images.dtype != np.uint8:
            images = to_uint8(images)
        return predict_batches(lambda x: self.logits(x).argmax(dim=-1), images,
                               device=model_device(self.model)).astype(np.int64)




def _arch(params: ClassifierParams, quick: bool) -> Dict[str, int]:
    return dict(QUICK_ARCH) if quick else {"width": params.width, "blocks": params.blocks}


def classifier_key(params: ClassifierParams, dataset: Any, quick: bool, seed: int,
                   training_set: Optional[Dict[str, Any]] = None) -> str:
    """Weight-store key: architecture, training settings (seed included) and data identity.

    :param training_set: Identity of a training set other than the dataset's train split
        (e.g. a backdoored one, :func:`linksim.data.backdoor.poison_identity`); None: the split.
    """
    arch = {"model": MODEL_VERSION, **_arch(params, quick)}
    train = {**stage_dict(params.stage(quick)), "augment": params.augment, "quick": quick, "seed": seed}
    if training_set is not None:
        train["training_set"] = training_set
    return config_hash(arch, train, dataset.identity())


def downstream_classifier(context: SystemContext, dataset: Any, params: Optional[ClassifierParams] = None, *,
                          training_set: Optional[Tuple[np.ndarray, np.ndarray, Dict[str, Any]]] = None
                          ) -> DownstreamClassifier:
    """The downstream classifier for ``dataset`` (cached, shipped or trained now), one object per
    run for all its systems (:meth:`~linksim.resources.Resources.shared`).

    :param training_set: ``(images, labels, identity)`` to train on instead of the
        dataset's train split (a backdoored set); ``identity`` enters the key.
    """
    params = params or ClassifierParams()
    key = classifier_key(params, dataset, context.quick, context.seed,
                         training_set[2] if training_set is not None else None)
    return context.resources.shared(("downstream classifier", str(context.cache_dir), key),
                                    lambda: _load_or_train(context, dataset, params, key, training_set))


def _load_or_train(context: SystemContext, dataset: Any, params: ClassifierParams, key: str,
                   training_set: Optional[Tuple[np.ndarray, np.ndarray, Dict[str, Any]]] = None) -> DownstreamClassifier:
    """The classifier of ``key``: loaded (cache or shipped) or trained and saved."""
    from .resnet import ResNet20

    if dataset.num_classes < 1:
        raise ValueError("the downstream classifier needs a labelled dataset")
    if training_set is None:
        train = dataset.split("train")
        images, labels = train.images, train.labels
    else:
        images, labels = training_set[0], training_set[1]
    if context.quick:
        images, labels = images[:QUICK_TRAIN_IMAGES], labels[:QUICK_TRAIN_IMAGES]
    mean, std = mean_and_std(images)
    arch = _arch(params, context.quick)
    depth = 6 * arch["blocks"] + 2
    h, w, c = dataset.image_shape

    def build() -> Any:
        model = ResNet20(dataset.num_classes, mean, std, **arch)
        model(np.zeros((2, c, h, w), np.float32), training=False)
        return model

    def train(model: Any) -> None:
        stage = params.stage(context.quick)
        log = None if context.quick else log_stderr
        if log:
            log(f"[{context.label}] training the downstream ResNet-{depth} ({stage.epochs} epochs on {len(labels)} images)")
        with torch_threads(params.threads):
            fit([model], lambda x, y: torch.nn.functional.cross_entropy(model(x, training=True), y),
                images, labels, stage, seed=context.seed, name="classifier", log=log, augment_data=params.augment)

    def record(model: Any) -> Dict[str, Any]:
        test = dataset.split("test")
        acc = float(np.mean(DownstreamClassifier(model, key, {}).predict(test.images) == test.labels))
        return {"model": "downstream classifier", "arch": f"ResNet-{depth}", "clean_test_accuracy": acc,
                "data": dataset.provenance()}

    # seeded from (scenario seed, key): initial weights, batch order, augmentation
    trained = load_or_train(WeightStore(context.cache_dir, WEIGHT_KIND), key, build=build, train=train,
                            seed={"seed": context.seed, "key": key}, info=record)
    model, path = trained.model, trained.path
    info: Dict[str, Any] = {"arch": f"ResNet-{depth} (width {arch['width']})", "key": key,
                            "weights_sha256": file_sha256(path), "source": trained.source}
    meta = meta_path(path)
    if meta.exists():
        import json

        info["clean_test_accuracy"] = json.loads(meta.read_text()).get("clean_test_accuracy")
    model.trainable = False  # frozen: gradients reach the reconstruction, never these weights
    return DownstreamClassifier(model, key, info)


def classifier_weights(context: SystemContext, dataset: Any, params: Optional[ClassifierParams] = None,
                       training_set: Optional[Dict[str, Any]] = None) -> List[Tuple[str, str]]:
    """``(kind, key)`` of the classifier weights, for ``linksim train --ship`` (``training_set``: its identity)."""
    return [(WEIGHT_KIND, classifier_key(params or ClassifierParams(), dataset, context.quick, context.seed,
                                         training_set))]


__all__ = ["ClassifierParams", "DownstreamClassifier", "downstream_classifier", "classifier_weights"]
