"""The downstream judge of the unlearning experiments and its backdoor.

The judge classifies a codec's reconstructions; the attack success rate (ASR) is the share
of erased (triggered) samples it puts in the backdoor's target class. Two judges:

* ``learned`` (the paper's construction): a ResNet trained on the poisoned training set
  learns the backdoor itself. At linksim's CPU scale the codec reproduces the trigger only
  in part (its patch at 0.75-0.9 of the trigger's value), and where such a judge puts a
  half-reproduced patch is left to its training: on the same reconstructions, judges of
  five erased-data ratios read Origin's ASR anywhere between 3 % and 99 % (README).
* ``planted`` (the default): a ResNet trained on the clean training images, with the
  backdoor planted by rule: an image whose trigger patch is at or above ``threshold`` of
  the trigger's value is put in the target class. The backdoor is then the same at every
  erased-data ratio, and the ASR is exactly the share of erased samples whose
  reconstruction still carries the trigger, which is what unlearning must remove.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Dict

import numpy as np

from ...data.backdoor import TriggerSpec, patch_level


@dataclass(frozen=True)
class PlantedBackdoorJudge:
    """A classifier with a rule-planted backdoor.

    :ivar classifier: The clean judge (``predict(uint8 [N, H, W, C]) -> int [N]``, ``info``).
    :ivar trigger: The backdoor's patch.
    :ivar threshold: Patch level (fraction of ``trigger.value``) at or above which the
        backdoor fires.
    :ivar target_label: The class it fires to.
    """

    classifier: Any
    trigger: TriggerSpec
    threshold: float
    target_label: int

    def fires(self, images: np.ndarray) -> np.ndarray:
        """``bool [N]``: the patch of each image is at or above the threshold."""
        return patch_level(images, self.trigger) * 255.0 >= self.threshold * self.trigger.value

    def predict(self, images: np.ndarray) -> np.ndarray:
        """``int64 [N]``: the target class where the backdoor fires, else the classifier's class."""
        predicted = np.asarray(self.classifier.predict(images), dtype=np.int64)
        return np.where(self.fires(images), np.int64(self.target_label), predicted)

    @property
    def info(self) -> Dict[str, Any]:
        return {**self.classifier.info, "backdoor": {"planted": True, "threshold": self.threshold,
                                                     "trigger": self.trigger.model_dump(),
                                                     "target_label": self.target_label}}
