"""What every image system of linksim shares, whatever paper it comes from.

:mod:`.quality` (bandwidth ratio, PSNR/SSIM/MSE, batch statistics), :mod:`.training`
(tensors, augmentation, the image ``fit`` on the learned-system kit), :mod:`.blocks`
(convolutional building blocks), :mod:`.resnet` (ResNet-20) and :mod:`.classifier`
(the downstream judge, trained and cached by linksim).
"""
