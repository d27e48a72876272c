"""The SCU paper (Wang, Tian, Zhang, Yu): machine unlearning of semantic codecs.

The backdoor split of the training data is :mod:`linksim.data.backdoor`; here are the
losses of eqs. (1) and (3)-(8) (:mod:`.losses`), the VIB codec (:mod:`.networks`), the
diagonal-Hessian estimate and update of the HBU baseline (:mod:`.hessian`), Origin/Retrain
training and the unlearning methods VBU, VBU w Sparsity, SCU w/o CC, SCU and HBU with
their step accounting (:mod:`.methods`), the probe history of Fig. 5 (:mod:`.probes`),
and the registered ``image_unlearning`` system that the ``scu_*`` scenarios use
(:mod:`.system`).
"""
