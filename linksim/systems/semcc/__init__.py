"""The SemCC paper (contrastive-learning semantic communications): image JSCC transceivers.

System ``image_jscc`` (:mod:`.jscc`) trained by one of four methods (:mod:`.methods`:
DeepJSCC, DeepSC, SemCC, SemRE) with the losses of :mod:`.losses`, on the networks of
Fig. 1 (:mod:`.networks`). The classical baselines it is compared with are the image
systems of :mod:`linksim.systems.image_digital`; the downstream judge is
:mod:`linksim.vision.classifier`.
"""
