"""Image links: learned JSCC transceivers (DeepJSCC, DeepSC, SemCC, SemRE) and classical
BPG/JPEG + LDPC + QAM baselines, judged by PSNR, SSIM and a downstream classifier.

Modules: :mod:`.common` (bandwidth ratio, quality measures, batch statistics),
:mod:`.networks` (Keras encoder/decoder, ResNet-20, projection head),
:mod:`.training` (loop and losses), :mod:`.methods` (the four training methods),
:mod:`.classifier` (the shared downstream model), :mod:`.jscc` (system
``image_jscc``), :mod:`.digital` (systems ``image_digital`` and ``image_codec``).
"""

from . import digital, jscc  # noqa: F401  (register image_digital, image_codec and image_jscc)
