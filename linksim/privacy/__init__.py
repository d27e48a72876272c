"""Privacy for any learned link: DP mechanisms, keyed encryption of features, leakage measures.

The privacy-ToSC paper (``../shared/papers/privacy-tosc.md``) compares ways to keep an
eavesdropper from recovering the source image from intercepted task-oriented symbols.
The pieces here know nothing about a particular system:

* :mod:`.mechanisms`: Laplace and Gaussian mechanisms with honest calibration
  (``strict``, ``clipped``) and the paper's noise index (``scale``, no guarantee);
* :mod:`.encryption`: keyed permutation / sign flip / rotation of real feature vectors,
  a fresh key per message (nonce) or a static one;
* :mod:`.leakage`: the mutual-information leakage between an image and an attacker's
  reconstruction (plug-in estimate on 16 intensity bins, Miller-Madow corrected).
"""

from .encryption import KeyedTransform
from .leakage import entropy_bits, mi_from_joint, mi_per_image, pixel_joint_histograms
from .mechanisms import DPMechanism

__all__ = ["DPMechanism", "KeyedTransform", "entropy_bits", "mi_from_joint", "mi_per_image",
           "pixel_joint_histograms"]
