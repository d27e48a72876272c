"""The privacy-ToSC paper (Guo, Zhang, Wang, Feng, Quek): privacy-preserving task-oriented links.

The shared networks (:mod:`.networks`: the SemCC encoder, a task head, the inversion
network), the schemes' transmit / listen / classify path (:mod:`.schemes`: DeepJSCC, DP,
encryption, VFE, IBAL, LBVQ), their training and the eavesdropper's model inversion
(:mod:`.training`), and the registered ``privacy_tosc`` system (:mod:`.system`). The
mechanisms and leakage measures themselves are system-independent: :mod:`linksim.privacy`.
"""
