"""The SCU paper (Wang, Tian, Zhang, Yu): machine unlearning of semantic codecs.

Built so far (issue 11, in progress): the backdoor split of the training data
(:mod:`linksim.data.backdoor`), the losses of eqs. (1) and (3)-(8) (:mod:`.losses`),
the VIB codec (:mod:`.networks`), the diagonal-Hessian estimate and update of the
HBU baseline (:mod:`.hessian`), and Origin/Retrain training and the unlearning methods
VBU, VBU w Sparsity, SCU w/o CC, SCU and HBU with their step accounting
(:mod:`.methods`). The ``image_unlearning`` system, its metrics and the ``scu_*``
scenarios are still to come.
"""
