"""Mem-DeepSC: semantic communication with memory (Xie, Qin, Li, IEEE JSAC 41(8), 2023).

A scenario question-answering transceiver: context sentences are sent one per time
slot and stored at the receiver in a memory queue; the question is then sent and
answered from the question feature and the memory (Figs. 1-2 of the paper).

Modules:

* :mod:`.model`: Keras 3 layers and the :class:`~.model.MemDeepSC` model (universal
  Transformer semantic codec, dense JSC codec, memory queue with temporal coding,
  importance model), with linksim's differentiable channel inside;
* :mod:`.training`: Algorithm 1 (semantic, JSC, whole-network stages) and the mask
  training stages, one shared ``fit`` loop;
* :mod:`.dynamic`: eq. (15) (symbols needed at an SNR) and the importance /
  consecutive / random transmit masks;
* :mod:`.system`: the registered ``memdeepsc`` system (``accuracy`` and
  ``symbols_per_message`` metrics, weight cache);
* :mod:`.digital`: the registered ``memdeepsc_digital`` benchmark (UTF-8 text + Turbo +
  QAM, fixed or AMC, answered by the noiseless-trained QA model).

Public API::

    from linksim.systems.memdeepsc import MemDeepSCSystem, eq15_length
"""

from .dynamic import eq15_length, eq15_ratio, eq15_table, position_overhead_symbols
from .system import MemDeepSCSystem
from .digital import MemDeepSCDigitalBaseline  # noqa: E402  (registers memdeepsc_digital)

__all__ = ["MemDeepSCSystem", "MemDeepSCDigitalBaseline", "eq15_length", "eq15_ratio", "eq15_table", "position_overhead_symbols"]
