"""The System contract: what the runner needs from a transceiver.

A system is everything between the source and the metric: a classical link (source
codec, channel code, QAM, channel, demapper, decoder) or a learned transceiver. The
runner calls, in order::

    system = SystemClass(params, context)   # cheap: store settings
    system.setup()                          # build, train or load weights
    stats = system.simulate(batch_size, point)   # many times, one call per batch

``simulate`` returns *additive* sufficient statistics of one batch as a ``dict`` of
floats (``{"bit_errors": 12, "bits": 51200, ...}``); the runner sums them per sweep
point and :mod:`linksim.metrics` turns totals into estimates with confidence intervals.
``simulate`` must draw all randomness from Sionna's generators
(``sionna.phy.config.torch_rng(device)`` / ``.np_rng``), which the runner seeds per
batch: then a batch is a pure function of its seed and runs are resumable.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Dict, FrozenSet, List, Mapping, Optional, Tuple, Type

from ..paths import cache_root
from ..resources import Resources
from ..registry import ParamsModel


@dataclass
class SystemContext:
    """What a system may know about the scenario it runs in.

    :ivar label: The system's label in the scenario (unique).
    :ivar channel: Channel spec (``{"type": ..., ...}``) for this system: the
        scenario's channel unless the system overrides it.
    :ivar data: Dataset spec of the scenario, or None.
    :ivar device: ``"cpu"`` or ``"cuda"`` (resolved).
    :ivar seed: The scenario seed (for training and data generation).
    :ivar cache_dir: Where trained weights and datasets are cached.
    :ivar quick: True in ``--quick`` mode (tiny training, few batches).
    :ivar training: The system's ``training:`` block, or None.
    :ivar sweep_parameter: Name of the swept parameter (e.g. ``"snr_db"``).
    :ivar points: Every sweep point of the scenario (swept value plus fixed
        parameters), so that ``setup`` can train what the points need (e.g. one model
        per bandwidth ratio) before the first ``simulate``.
    :ivar resources: What the systems of this run share (datasets, judges), built once;
        see :class:`~linksim.resources.Resources`.
    :ivar metrics: The metrics the scenario reports, or None (unknown: serve them all); a
        system may skip models that serve none of them (e.g. an attacker).
    """

    label: str
    channel: Dict[str, Any]
    data: Optional[Dict[str, Any]] = None
    device: str = "cpu"
    seed: int = 0
    cache_dir: Path = field(default_factory=cache_root)
    quick: bool = False
    training: Optional[Dict[str, Any]] = None
    sweep_parameter: str = "snr_db"
    points: List[Dict[str, float]] = field(default_factory=list)
    resources: Resources = field(default_factory=Resources)
    metrics: Optional[List[str]] = None


class System:
    """Base class of every simulated system (see module docstring).

    Subclasses set:

    * ``Params``: a :class:`~linksim.registry.ParamsModel` of the ``params:`` block;
    * ``sweep_parameters``: names of the parameters this system understands in a sweep
      point (the scenario validator rejects a sweep over anything else);
    * ``metrics_provided``: names of the metrics whose statistics ``simulate`` returns;
    * ``accepts_training``: True if the system reads a ``training:`` block (validated in
      :meth:`validate_context`); a scenario giving one to any other system is an error.
    """

    Params: ClassVar[Type[ParamsModel]] = ParamsModel
    sweep_parameters: ClassVar[FrozenSet[str]] = frozenset({"snr_db"})
    #: Axis labels of the sweep parameters in figures (a parameter without one is shown by name).
    sweep_labels: ClassVar[Dict[str, str]] = {"snr_db": "SNR $E_s/N_0$ (dB)"}
    metrics_provided: ClassVar[FrozenSet[str]] = frozenset()
    accepts_training: ClassVar[bool] = False
    #: True if ``simulate`` differentiates (e.g. an adversarial attack on the model): the
    #: runner then calls it outside ``torch.inference_mode`` (gradients stay off by default
    #: in the system's own code: use ``torch.no_grad`` where none are needed).
    simulate_needs_gradients: ClassVar[bool] = False
    #: Names of the matrices :meth:`matrix` reports (``kind: heatmap`` figures, :mod:`linksim.matrices`).
    matrices_provided: ClassVar[FrozenSet[str]] = frozenset()

    def __init__(self, params: ParamsModel, context: SystemContext) -> None:
        self.params = params
        self.context = context

    @classmethod
    def validate_context(cls, params: ParamsModel, context: SystemContext) -> None:
        """Check settings that depend on more than ``params`` (e.g. the channel).

        Called by ``linksim validate`` without building anything heavy; raise
        :class:`~linksim.errors.UserError` naming the field at fault.
        """

    @classmethod
    def batch_memory_bytes(cls, params: ParamsModel, context: SystemContext, batch_size: int) -> Optional[float]:
        """Estimated peak memory (bytes) of one ``simulate(batch_size, ...)`` call, or None if unknown.

        ``linksim validate`` refuses a ``monte_carlo.batch_size`` whose estimate exceeds
        the machine's memory, before anything runs. Must be cheap; an estimate within a
        factor of a few is enough.
        """
        return None

    def setup(self) -> None:
        """Build the system: train, load cached or shipped weights. Default: nothing."""

    def simulate(self, batch_size: int, point: Mapping[str, float]) -> Dict[str, float]:  # pragma: no cover
        """Run one batch at sweep ``point``; return additive statistics."""
        raise NotImplementedError

    def provenance(self) -> Dict[str, Any]:
        """What produced this system's numbers (weight hashes, data source, ...)."""
        return {}

    @classmethod
    def provided_matrices(cls, params: ParamsModel) -> FrozenSet[str]:
        """The matrices a system with ``params`` reports (default: ``matrices_provided``); the
        validator refuses a heatmap figure asking for another, naming ``figures[i].matrix``."""
        return cls.matrices_provided

    def matrix(self, name: str, point: Mapping[str, float]) -> Any:
        """Matrix ``name`` (one of :meth:`provided_matrices`) at sweep ``point``, called after
        :meth:`setup`: a :class:`~linksim.matrices.Matrix` (values ``[R, C]``, axis and colour-bar
        labels). Randomness from Sionna's generators, seeded by the caller."""
        raise NotImplementedError

    def sample_images(self, point: Mapping[str, float], count: int) -> Dict[str, Any]:
        """Sample images for a scenario's ``samples`` grid (optional; called after :meth:`setup`).

        :param point: The sweep point.
        :param count: Images wanted (the first ``count`` test images).
        :returns: ``{"original": uint8 [count, H, W, C], "output": uint8 [count, H, W, C],
            "notes": [count] str}`` (a note is printed under each output image).
        """
        raise NotImplementedError

    @classmethod
    def samples_refused(cls, params: ParamsModel) -> Optional[str]:
        """Why a system with ``params`` draws no sample images although its class has
        :meth:`sample_images` (e.g. a scheme without a decoder), or None (the default). The
        validator names ``samples[i].systems[j]`` with it."""
        return None

    def training_groups(self) -> List[List[int]]:
        """Indices of ``context.points`` whose models ``setup`` can train independently.

        Called before ``setup`` (nothing trained or loaded yet), so it must be cheap.

        ``linksim train --jobs N`` trains each group in its own process (a system set
        up with only those points). Default: one group, every point (one model, or
        models that must be trained together). A system with one model per point
        (e.g. per bandwidth ratio) returns one group per distinct model.
        """
        return [list(range(len(self.context.points)))]

    def trained_weights(self) -> List[Tuple[str, str]]:
        """``(kind, key)`` of each :class:`~linksim.weights.WeightStore` entry this system uses.

        ``linksim train --ship`` copies these into the package's shipped weights.
        """
        return []
