"""ResNet-20 (He et al. 2016, CIFAR variant), the downstream model that judges image links.

3 stages x 3 basic blocks (``blocks`` per stage), widths 16/32/64 for ``width=16``, split
into a ``backbone`` (features ``[N, 4 width]`` after global average pooling) and a
linear ``classifier``. Images ``[N, C, H, W]`` float32 in [0, 1], normalised inside.
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Sequence

import torch

from .._backend import ensure_keras_torch
from .blocks import BasicBlock, batch_norm, conv

ensure_keras_torch()
import keras  # noqa: E402
from keras import layers  # noqa: E402


class ResNet20(keras.Model):
    """ResNet-20 for small images: ``backbone(x) -> [N, 4 w]`` features, ``call(x) -> [N, classes]`` logits.

    Inputs are images ``[N, C, H, W]`` in [0, 1]; they are standardized with the
    per-channel ``mean``/``std`` of the training data (stored in the config).

    :param num_classes: Output logits.
    :param mean: Per-channel mean of the training images (in [0, 1]).
    :param std: Per-channel standard deviation.
    :param width: Width of the first stage (16 in ResNet-20); stages use w, 2w, 4w.
    :param blocks: Basic blocks per stage (3 in ResNet-20: 6*3+2 = 20 layers).
    """

    def __init__(self, num_classes: int, mean: Sequence[float], std: Sequence[float], width: int = 16,
                 blocks: int = 3, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.num_classes, self.width, self.blocks = int(num_classes), int(width), int(blocks)
        self.mean, self.std = [float(m) for m in mean], [float(s) for s in std]
        self.stem = conv(width, 3)
        self.stem_bn = batch_norm()
        self.stages = [BasicBlock(width * 2 ** s, stride=2 if (s > 0 and b == 0) else 1)
                       for s in range(3) for b in range(blocks)]
        self.classifier = layers.Dense(num_classes)

    @property
    def feature_width(self) -> int:
        return 4 * self.width

    def backbone(self, x: Any, training: Optional[bool] = None) -> Any:
        """Features ``[N, 4 width]`` (global average pool of the last stage)."""
        mean = torch.tensor(self.mean, dtype=x.dtype, device=x.device).reshape(1, -1, 1, 1)
        std = torch.tensor(self.std, dtype=x.dtype, device=x.device).reshape(1, -1, 1, 1)
        z = torch.relu(self.stem_bn(self.stem((x - mean) / std), training=training))
        for block in self.stages:
            z = block(z, training=training)
        return torch.mean(z, dim=(2, 3))

    def stage_features(self, x: Any, training: Optional[bool] = None) -> List[Any]:
        """The outputs of the three stages ``[N, w 2^s, H / 2^s, W / 2^s]`` (e.g. for a perceptual loss)."""
        mean = torch.tensor(self.mean, dtype=x.dtype, device=x.device).reshape(1, -1, 1, 1)
        std = torch.tensor(self.std, dtype=x.dtype, device=x.device).reshape(1, -1, 1, 1)
        z = torch.relu(self.stem_bn(self.stem((x - mean) / std), training=training))
        out = []
        for index, block in enumerate(self.stages):
            z = block(z, training=training)
            if (index + 1) % self.blocks == 0:
                out.append(z)
        return out

    def call(self, x: Any, training: Optional[bool] = None) -> Any:
        return self.classifier(self.backbone(x, training=training))

    def get_config(self) -> Dict[str, Any]:
        return {"num_classes": self.num_classes, "mean": self.mean, "std": self.std, "width": self.width,
                "blocks": self.blocks}
