"""The SCU paper (Wang, Tian, Zhang, Yu): machine unlearning of semantic codecs.

Built so far (issue 11, in progress): the backdoor split of the training data
(:mod:`linksim.data.backdoor`), the losses of eqs. (1) and (3)-(8) (:mod:`.losses`),
the VIB codec (:mod:`.networks`), and the diagonal-Hessian estimate and update of the
HBU baseline (:mod:`.hessian`). The unlearning methods, the ``image_unlearning`` system
and the ``scu_*`` scenarios are still to come.
"""
