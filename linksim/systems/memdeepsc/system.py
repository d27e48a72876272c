"""The registered ``memdeepsc`` system: Mem-DeepSC scenario QA over a wireless channel.

Scenario use (Fig. 5 and Fig. 6 of the paper; see :class:`MemDeepSCSystem.Params`)::

    data: {type: babi, source: embedded, tasks: [1], memory_length: 10}
    channel: {type: rician, k_factor: 2, coherence: block}
    systems:
      - label: Mem-DeepSC
        type: memdeepsc
        training: {train_snr_db: [0, 18]}
      - label: without memory
        type: memdeepsc
        params: {memory: false}
      - label: separate Mem-DeepSC
        type: memdeepsc
        params: {variant: separate}
      - label: importance mask
        type: memdeepsc
        params: {mask: importance, mask_l1: eq15}
    metrics: [accuracy, symbols_per_message]

The paper's channels are SISO (AWGN, Rayleigh, Rician r = 2, perfect or imperfect
CSI; detection eq. (3) happens in the channel); a MIMO channel works too when
``symbols`` is a multiple of its ``nt``.

Per batch, :meth:`MemDeepSCSystem.simulate` draws ``batch_size`` test questions with
replacement (``sionna.phy.config.np_rng``), sends each one's context sentences (one
time slot each, empty memory slots are not sent) and its question through the
transmitter, the channel at the sweep point's ``snr_db`` and the receiver, and counts
correct answers (``correct``/``trials``: metric ``accuracy``) and the complex symbols
per transmitted sentence (``symbols_per_message_{sum,sumsq,count}``), position side
information of the importance mask included (:mod:`.dynamic`). The memoryless variant
sends only the question.

Training (Algorithm 1, :mod:`.training`) happens in :meth:`MemDeepSCSystem.setup`
unless the :class:`~linksim.weights.WeightStore` already holds weights for the same
model, training settings, data and training channel; the trained weights are cached.
"""

from __future__ import annotations

import json
import math
import time
from pathlib import Path
from typing import Any, ClassVar, Dict, FrozenSet, List, Literal, Mapping, Optional, Tuple, Union

import numpy as np
import torch
from pydantic import Field, ValidationInfo, field_validator

from ...errors import UserError
from ...metrics import TASK_ACCURACY_METRICS, task_accuracy_stats
from ...registry import ParamsModel, build_component, channels, datasets, systems, \
    validate_model, validate_params
from ...weights import WeightStore, config_hash, file_sha256
from ..base import System, SystemContext
from . import dynamic
from ...learning.training_block import StageOverride, TrainingBlock
from ..training import seed_training
from .training import CPU_DEFAULTS, PAPER_TABLE_I, QUICK_STAGE, StageSettings, log_stderr, torch_threads, \
    train_mask, train_mem_deepsc

#: Bump when the architecture or training code changes in a way that invalidates weights.
MODEL_VERSION = "memdeepsc-1"
WEIGHT_KIND = "memdeepsc"

#: ``--quick`` mode: tiny model, tiny data, one epoch per stage.
QUICK_MODEL = {"width": 32, "heads": 2, "ff_width": 64, "jsc_hidden": 64, "encoder_steps": 2, "decoder_steps": 2}
QUICK_IMPORTANCE_WIDTH = 16
QUICK_MAX_TRAIN = 256  # questions in all, split over the tasks
QUICK_MAX_VALID = 64
QUICK_MAX_TEST = 200


class Eq15Params(ParamsModel):
    """Eq. (15) settings (Sec. IV-A, values of Sec. V-A3); see :mod:`.dynamic`."""

    min_symbols: Optional[int] = Field(None, ge=1, description="L_min (the paper's L in eq. (15)): "
                                       "symbols needed without channel noise; default ceil(symbols / 2)")
    mu_max: float = Field(dynamic.PAPER_MU_MAX, gt=0, allow_inf_nan=False)
    sigma_m2: float = Field(dynamic.PAPER_SIGMA_M2, gt=0, allow_inf_nan=False)
    rounding: Literal["round", "ceil"] = "round"


#: Most training questions (the stage bounds are those of linksim.learning.training_block:
#: Table I uses batches of 100-200 and at most 250 epochs).
MAX_TRAIN_QUESTIONS = 10**7


class TrainingParams(TrainingBlock):
    """The system's ``training:`` block.

    ``preset: cpu`` (default) takes :data:`~.training.CPU_DEFAULTS`, ``preset: paper``
    Table I (:data:`~.training.PAPER_TABLE_I`); a stage given here overrides it.
    """

    PRESETS: ClassVar[Mapping[str, Mapping[str, StageSettings]]] = {
        "cpu": CPU_DEFAULTS, "paper": PAPER_TABLE_I, "quick": {name: QUICK_STAGE for name in CPU_DEFAULTS}}

    semantic: Optional[StageOverride] = None
    channel: Optional[StageOverride] = None
    whole: Optional[StageOverride] = None
    importance: Optional[StageOverride] = None
    consecutive: Optional[StageOverride] = None
    train_snr_db: Union[float, Tuple[float, float]] = Field(
        (0.0, 18.0), description="training SNR [dB]: a number, or [lo, hi] drawn uniformly per sentence")
    max_train: Optional[int] = Field(None, ge=1, le=MAX_TRAIN_QUESTIONS,
                                     description="train on this many questions only (<= 10**7), "
                                                 "spread evenly over the train split (all tasks)")
    mask_l1_range: Optional[Tuple[int, int]] = Field(
        None, description="[lo, hi] symbols kept, drawn per sentence when training a mask, "
                          "1 <= lo <= hi <= params.symbols "
                          "(default: the smallest L1 the evaluation can ask for, up to symbols)")

    @field_validator("train_snr_db")
    @classmethod
    def _snr_range(cls, value: Any) -> Any:
        if isinstance(value, tuple):
            if not all(math.isfinite(v) for v in value) or value[0] > value[1]:
                raise ValueError("must be a number or [lo, hi] with lo <= hi (finite, dB)")
        elif not math.isfinite(value):
            raise ValueError("must be finite")
        return value

    @field_validator("mask_l1_range")
    @classmethod
    def _l1_range(cls, value: Optional[Tuple[int, int]]) -> Optional[Tuple[int, int]]:
        if value is not None and not 1 <= value[0] <= value[1] <= 1024:
            raise ValueError("must be [lo, hi] with 1 <= lo <= hi <= 1024 (the largest params.symbols)")
        return value


@systems.register("memdeepsc")
class MemDeepSCSystem(System):
    """Mem-DeepSC: bAbI question answering with a receiver memory queue (Xie, Qin, Li 2023)."""

    class Params(ParamsModel):
        """``params:`` of a ``memdeepsc`` system.

        Architecture (Sec. V-A2): ``width`` (= N = 128), ``encoder_steps`` (3),
        ``decoder_steps`` (6), ``symbols`` (L = 32 complex symbols per sentence,
        Fig. 5), ``importance_width`` (64). Not given in the paper (linksim's choices):
        ``heads`` (8), ``ff_width`` (256), ``jsc_hidden`` (256), ``dropout`` (0.1).

        Variants: ``memory: false`` is the memoryless benchmark of Fig. 5 (only the
        question is sent and decoded); ``variant: separate`` stops Alg. 1 after the JSC
        stage (separate Mem-DeepSC). ``mask`` selects the dynamic transmission of
        Fig. 6 (``importance``, ``consecutive`` or the ``random`` benchmark), keeping
        ``mask_l1`` symbols (``eq15``, the default: eq. (15) at the evaluated SNR with
        ``eq15``'s settings; or a fixed int) or ``keep_ratio`` x ``symbols`` (rounded).
        ``position_overhead`` is how the importance mask's positions are counted.
        ``train_channel`` trains on another channel than the evaluated one; ``threads``
        is a run-time setting. Training settings live in the system's ``training:``
        block (:class:`TrainingParams`).

        Fig. 5 (one system per curve, same ``channel:``)::

            - {label: Mem-DeepSC, type: memdeepsc}
            - {label: Mem-DeepSC without memory, type: memdeepsc, params: {memory: false}}
            - {label: separate Mem-DeepSC, type: memdeepsc, params: {variant: separate}}

        Fig. 6::

            - {label: no mask 32 symbols, type: memdeepsc}
            - {label: no mask 16 symbols, type: memdeepsc, params: {symbols: 16}}
            - {label: importance mask, type: memdeepsc, params: {mask: importance}}
            - {label: consecutive mask, type: memdeepsc, params: {mask: consecutive}}
            - {label: random mask, type: memdeepsc, params: {mask: random}}
        """

        variant: Literal["joint", "separate"] = "joint"
        memory: bool = True
        width: int = Field(128, ge=8, le=1024)
        heads: int = Field(8, ge=1, le=64)
        ff_width: int = Field(256, ge=8, le=8192)
        encoder_steps: int = Field(3, ge=1, le=24)
        decoder_steps: int = Field(6, ge=1, le=24)
        jsc_hidden: int = Field(256, ge=8, le=8192)
        dropout: float = Field(0.1, ge=0.0, lt=1.0)
        symbols: int = Field(32, ge=1, le=1024)
        mask: Literal["none", "importance", "consecutive", "random"] = "none"
        mask_l1: Union[Literal["eq15"], int, None] = Field(
            None, description="symbols kept per sentence: 'eq15' (default for a mask) or an int in [1, symbols]")
        keep_ratio: Optional[float] = Field(None, gt=0.0, le=1.0, description="fraction of symbols kept, (0, 1]")
        eq15: Eq15Params = Field(default_factory=Eq15Params)
        position_overhead: Literal["enumerative", "bitmap", "none"] = "enumerative"
        importance_width: int = Field(64, ge=4, le=1024)
        train_channel: Optional[Dict[str, Any]] = Field(
            None, description="channel used in training (default: the evaluated channel)")
        threads: Optional[int] = Field(
            1, ge=1, le=1024, description="torch CPU threads while this system trains and simulates "
                                          "(null: leave torch's setting); not part of the weight key")

        @field_validator("width")
        @classmethod
        def _even(cls, value: int) -> int:
            if value % 2:
                raise ValueError("must be even (sinusoidal codes)")
            return value

        @field_validator("heads")
        @classmethod
        def _divides(cls, value: int, info: ValidationInfo) -> int:
            width = info.data.get("width")
            if width is not None and width % value:
                raise ValueError(f"must divide width ({width})")
            return value

        @field_validator("mask_l1")
        @classmethod
        def _l1(cls, value: Any, info: ValidationInfo) -> Any:
            if value is None:
                return value
            _require_mask(info)
            if isinstance(value, int) and not isinstance(value, bool):
                symbols = info.data.get("symbols")
                if value < 1 or (symbols is not None and value > symbols):
                    raise ValueError(f"must lie in [1, symbols] = [1, {symbols}], or be 'eq15'")
            return value

        @field_validator("keep_ratio")
        @classmethod
        def _ratio(cls, value: Optional[float], info: ValidationInfo) -> Optional[float]:
            if value is None:
                return value
            _require_mask(info)
            if info.data.get("mask_l1") is not None:
                raise ValueError("give either mask_l1 or keep_ratio, not both")
            return value

        @field_validator("eq15")
        @classmethod
        def _eq15(cls, value: Eq15Params, info: ValidationInfo) -> Eq15Params:
            symbols = info.data.get("symbols")
            if value.min_symbols is not None and symbols is not None and value.min_symbols > symbols:
                raise ValueError(f"min_symbols must be <= symbols ({symbols})")
            return value

    Training = TrainingParams
    sweep_parameters: ClassVar[FrozenSet[str]] = frozenset({"snr_db"})
    metrics_provided: ClassVar[FrozenSet[str]] = frozenset({"accuracy", "symbols_per_message"}) | TASK_ACCURACY_METRICS
    accepts_training: ClassVar[bool] = True

    params: "MemDeepSCSystem.Params"

    def __init__(self, params: ParamsModel, context: SystemContext) -> None:
        super().__init__(params, context)
        self.model: Any = None
        self.data: Any = None
        self._entries: List[Dict[str, Any]] = []
        self._train_report: Dict[str, Any] = {}

    # ------------------------------------------------------------------ checks

    @classmethod
    def validate_context(cls, params: ParamsModel, context: SystemContext) -> None:
        training = cls._training_params(context)
        cls._data_spec(context)
        if training.mask_l1_range is not None and training.mask_l1_range[1] > params.symbols:
            raise UserError(f"training.mask_l1_range: {list(training.mask_l1_range)} keeps more than the "
                            f"{params.symbols} symbols per sentence (params.symbols)")
        for field, spec in (("channel", context.channel), ("params.train_channel", params.train_channel)):
            if spec is None:
                continue
            channel = build_component(channels, spec, field=field)
            if params.symbols % channel.symbols_multiple:
                raise UserError(f"params.symbols: {params.symbols} symbols per sentence do not fill whole "
                                f"channel uses of {field} ({spec.get('type')!r} takes multiples of "
                                f"{channel.symbols_multiple})")

    @staticmethod
    def _training_params(context: SystemContext) -> TrainingParams:
        return validate_model(TrainingParams, context.training or {}, field="training")

    @staticmethod
    def _data_spec(context: SystemContext) -> Dict[str, Any]:
        spec = dict(context.data) if context.data is not None else {"type": "babi"}
        if spec.get("type") != "babi":
            raise UserError(f"data.type: memdeepsc answers bAbI questions; use data: {{type: babi}} "
                            f"(got {spec.get('type')!r})")
        return spec

    # ------------------------------------------------------------------ configuration

    def _dataset(self) -> Any:
        """The scenario's bAbI data; in quick mode a few questions per task of it."""
        spec = {k: v for k, v in self._data_spec(self.context).items() if k != "type"}
        cls = datasets.get("babi", field="data.type")
        params = validate_params(cls, spec, field="data")
        if self.context.quick:
            tasks = len(params.tasks)
            params = params.model_copy(update={
                "num_train": min(params.num_train, max(1, QUICK_MAX_TRAIN // tasks)),
                "num_valid": min(params.num_valid, max(1, QUICK_MAX_VALID // tasks)),
                "num_test": min(params.num_test, max(1, QUICK_MAX_TEST // tasks))})
        cache_dir = Path(self.context.cache_dir) / "babi"
        key = ("babi", params.model_dump_json(), str(cache_dir))  # one object for the systems of a run
        return self.context.resources.shared(key, lambda: cls(params, cache_dir=cache_dir))

    def _model_config(self, importance: bool) -> Any:
        from .model import ModelConfig

        p, d = self.params, self.data
        arch = {"width": p.width, "heads": p.heads, "ff_width": p.ff_width, "encoder_steps": p.encoder_steps,
                "decoder_steps": p.decoder_steps, "jsc_hidden": p.jsc_hidden}
        if self.context.quick:
            arch.update(QUICK_MODEL)
        iw = (QUICK_IMPORTANCE_WIDTH if self.context.quick else p.importance_width) if importance else 0
        return ModelConfig(vocab_size=len(d.vocab), num_answers=d.num_answers, memory_length=d.memory_length,
                           symbols=p.symbols, dropout=p.dropout, memory=p.memory, importance_width=iw, **arch)

    def _stage(self, training: TrainingParams, name: str) -> StageSettings:
        return training.stage(name, quick=self.context.quick)

    def _data_identity(self) -> Dict[str, Any]:
        d = self.data
        return {"provenance": d.provenance(), "params": d.params.model_dump(mode="json"),
                "vocab": len(d.vocab), "max_words": d.max_words}

    def l_min(self) -> int:
        """``L_min`` of eq. (15) (default ``ceil(symbols / 2)``)."""
        return self.params.eq15.min_symbols or -(-self.params.symbols // 2)

    def symbols_kept(self, snr_db: float) -> int:
        """``L1``: symbols sent per sentence at ``snr_db`` (``symbols`` without a mask)."""
        p = self.params
        if p.mask == "none":
            return p.symbols
        if p.keep_ratio is not None:
            return int(min(max(math.floor(p.keep_ratio * p.symbols + 0.5), 1), p.symbols))
        if isinstance(p.mask_l1, int):
            return p.mask_l1
        e = p.eq15
        return dynamic.eq15_length(snr_db, self.l_min(), p.symbols, mu_max=e.mu_max, sigma_m2=e.sigma_m2,
                                   rounding=e.rounding)

    def overhead_symbols(self, l1: int) -> int:
        """Position side information per sentence (importance mask only), in symbols."""
        if self.params.mask != "importance":
            return 0
        return dynamic.position_overhead_symbols(l1, self.params.symbols, self.params.position_overhead)

    def transmission(self, snr_db: float) -> Tuple[str, int, int]:
        """``(mask mode, symbols sent, side-information symbols)`` per sentence at ``snr_db``.

        The mask is applied whenever ``L1 < symbols``, even if ``L1`` plus the position
        side information exceeds ``symbols`` (at L = 32 the importance mask's
        enumerative side information takes 15 symbols for L1 = 16-17): the reported
        ``symbols_per_message`` then shows the cost honestly.
        """
        length = self.params.symbols
        l1 = self.symbols_kept(snr_db)
        if self.params.mask == "none" or l1 >= length:
            return "none", length, 0
        return self.params.mask, l1, self.overhead_symbols(l1)

    def _mask_train_range(self, training: TrainingParams) -> Tuple[int, int]:
        if training.mask_l1_range is not None:
            lo, hi = training.mask_l1_range
            return min(lo, self.params.symbols), min(hi, self.params.symbols)
        p = self.params
        if p.keep_ratio is not None or isinstance(p.mask_l1, int):
            lo = self.symbols_kept(0.0)
        else:
            lo = self.l_min()
        return lo, p.symbols

    # ------------------------------------------------------------------ setup

    def setup(self) -> None:
        """Load the cached (or shipped) weights matching this configuration, else train."""
        training = self._training_params(self.context)
        with torch_threads(self.params.threads):
            self._setup(training)

    def _setup(self, training: TrainingParams) -> None:
        self.data = self._dataset()
        self._store = WeightStore(self.context.cache_dir, WEIGHT_KIND)
        self._training = training
        mode = self.params.mask
        if mode in ("none", "random"):
            self.model = self._base_model()
        else:
            self.model = self._mask_model(mode)
        self.model.use_channel = True
        self.model.freeze_base = False
        self._use_evaluation_channel()
        test = self.data.split("test")
        self._test = {"context": np.asarray(test.context, dtype=np.int64),
                      "question": np.asarray(test.question, dtype=np.int64),
                      "answer": np.asarray(test.answer, dtype=np.int64),
                      "task": np.asarray(test.task, dtype=np.int64)}

    def _use_evaluation_channel(self) -> None:
        """Evaluate over the scenario's channel, whatever channel the model trained on.

        The channel layer has no weights, so swapping it changes nothing learned.
        """
        from ...phy.channels import build_channel

        if dict(self.context.channel) != self._train_channel():
            self.model.channel.channel = build_channel(dict(self.context.channel))

    def _train_channel(self) -> Dict[str, Any]:
        p = self.params
        return dict(p.train_channel) if p.train_channel is not None else dict(self.context.channel)

    def _max_train(self) -> Optional[int]:
        return None if self.context.quick else self._training.max_train

    def _base_spec(self, variant: str) -> Tuple[str, Dict[str, Any]]:
        """Weight key and recorded settings of the Alg. 1 model of ``variant``."""
        snr = self._training.train_snr_db
        stages = ("semantic", "channel") if variant == "separate" else ("semantic", "channel", "whole")
        spec = {"config": self._model_config(importance=False).as_dict(),
                "training": {"stages": {s: self._stage(self._training, s).key_dict() for s in stages},
                             "variant": variant, "train_snr_db": list(snr) if isinstance(snr, tuple) else snr,
                             "max_train": self._max_train(), "quick": self.context.quick,
                             "seed": self.context.seed},
                "data": self._data_identity(), "channel": self._train_channel()}
        key = config_hash({"version": MODEL_VERSION}, {"model": spec["config"]}, {"training": spec["training"]},
                          {"data": spec["data"]}, {"channel": spec["channel"]})
        return key, spec

    def _semantic_spec(self) -> Tuple[str, Dict[str, Any]]:
        """Weight key and settings of the stage-1 checkpoint (semantic codec only).

        Stage 1 runs without a channel and does not touch the JSC codec, so the key
        leaves out the channel, the training SNR and ``symbols``.
        """
        config = self._model_config(importance=False).as_dict()
        for name in ("symbols", "jsc_hidden", "importance_width"):
            config.pop(name)
        spec = {"config": config,
                "training": {"semantic": self._stage(self._training, "semantic").key_dict(),
                             "max_train": self._max_train(), "quick": self.context.quick, "seed": self.context.seed},
                "data": self._data_identity()}
        return config_hash({"version": MODEL_VERSION}, {"semantic_codec": spec}), spec

    def _new_model(self, importance: bool) -> Any:
        from .model import MemDeepSC

        self._seed_training("importance" if importance else "base")  # initial weights, dropout
        model = MemDeepSC(self._model_config(importance), self._train_channel(), self._training.train_snr_db)
        model.build_all(self.data.max_words)
        return model

    def _base_model(self) -> Any:
        """Alg. 1 model of ``params.variant``: loaded, or trained and saved.

        Checkpoints saved on the way, so that related systems train less: the semantic
        codec after stage 1 (shared by every channel, SNR and ``symbols``), and, when
        training the joint model, its state after stage 2, which *is* the separate
        Mem-DeepSC of the same settings (Sec. V-A3).
        """
        from .model import SemanticCodec

        variant = self.params.variant
        key, spec = self._base_spec(variant)
        with self._store.claim(key):  # a parallel `linksim train --jobs` process may be training it
            model = self._new_model(importance=False)
            if self._load(model, key, "base"):
                return model
            sem_key, sem_spec = self._semantic_spec()
            sep_key, sep_spec = self._base_spec("separate")
            stages = ["semantic", "channel"] if variant == "separate" else ["semantic", "channel", "whole"]
            if self._load(SemanticCodec(model), sem_key, "semantic"):
                stages.remove("semantic")

            def after_stage(stage: str) -> None:
                if stage == "semantic":
                    self._store.save(SemanticCodec(model), sem_key, {**sem_spec, "role": "semantic"})
                elif stage == "channel" and variant == "joint" and self._store.find(sep_key) is None:
                    self._store.save(model, sep_key, {**sep_spec, "role": "base"})

            t0 = time.perf_counter()
            report = train_mem_deepsc(model, self.data, {s: self._stage(self._training, s) for s in stages},
                                      stages=stages, max_train=self._max_train(),
                                      verbose=0 if self.context.quick else 2, log=log_stderr,
                                      before_stage=lambda stage: self._seed_training(f"base/{stage}"),
                                      after_stage=after_stage)
            self._train_report["base"] = {"seconds": time.perf_counter() - t0, "stages": report}
            self._save(model, key, "base", spec)
            return model

    def _mask_model(self, mode: str) -> Any:
        """Mem-DeepSC with a trained ``importance`` or ``consecutive`` mask."""
        base_key, _ = self._base_spec(self.params.variant)
        l1_range = self._mask_train_range(self._training)
        stage = self._stage(self._training, mode)
        importance = mode == "importance"
        config = self._model_config(importance=importance)
        spec = {"config": config.as_dict(),
                "training": {"base": base_key, "mode": mode, "stage": stage.key_dict(), "l1_range": list(l1_range),
                             "max_train": self._max_train(), "seed": self.context.seed}}
        key = config_hash({"version": MODEL_VERSION}, {"model": spec["config"]}, {"mask": spec["training"]})
        with self._store.claim(key):
            model = self._new_model(importance=importance)
            if self._load(model, key, mode):
                return model
            _copy_codecs(self._base_model(), model)
            self._seed_training(f"{mode}/training")
            t0 = time.perf_counter()
            report = train_mask(model, self.data, mode, stage, l1_range, max_train=self._max_train(),
                                verbose=0 if self.context.quick else 2, log=log_stderr)
            self._train_report[mode] = {"seconds": time.perf_counter() - t0, "stage": report}
            self._save(model, key, mode, spec)
            return model

    def _seed_training(self, role: str) -> None:
        """Seed Keras, torch, numpy and Sionna from the scenario seed and ``role``."""
        seed_training({"seed": self.context.seed, "role": role})

    def _load(self, model: Any, key: str, role: str) -> bool:
        store = self._store
        path = store.find(key)
        if path is None:
            return False
        store.load_into(model, path)
        meta = _read_meta(path)
        self._entries.append({"role": role, "key": key, "path": str(path), "sha256": file_sha256(path),
                              "source": "shipped" if store.is_shipped(path) else "cache",
                              "command": meta.get("command"), "created": meta.get("created")})
        return True

    def _save(self, model: Any, key: str, role: str, info: Dict[str, Any]) -> None:
        store = self._store
        path = store.save(model, key, {**info, "role": role, "train_report": self._train_report.get(role)})
        meta = _read_meta(path)
        self._entries.append({"role": role, "key": key, "path": str(path), "sha256": file_sha256(path),
                              "source": "trained", "command": meta.get("command"), "created": meta.get("created")})

    # ------------------------------------------------------------------ evaluation

    def simulate(self, batch_size: int, point: Mapping[str, float]) -> Dict[str, float]:
        """One batch of ``batch_size`` test questions at ``point["snr_db"]``; additive stats."""
        with torch_threads(self.params.threads):
            return self._simulate(batch_size, point)

    def _simulate(self, batch_size: int, point: Mapping[str, float]) -> Dict[str, float]:
        import sionna.phy

        from .model import MaskSetting

        if self.model is None:
            raise RuntimeError("setup() must run before simulate()")
        snr_db = float(point["snr_db"])
        n = len(self._test["answer"])
        idx = sionna.phy.config.np_rng.integers(0, n, size=batch_size)
        mode, l1, overhead = self.transmission(snr_db)
        self.model.mask = MaskSetting(mode=mode, l1=l1)
        inputs = {"context": self._test["context"][idx], "question": self._test["question"][idx],
                  "snr_db": np.full(batch_size, snr_db, dtype=np.float32)}
        logits, kept, sent = self.model.transceive(inputs, training=False)
        pred = torch.as_tensor(logits).argmax(dim=-1).cpu().numpy()
        hits = pred == self._test["answer"][idx]
        correct = int(hits.sum())
        per_sentence = (torch.as_tensor(kept) + overhead).double()
        sent_t = torch.as_tensor(sent).double()
        count = float(sent_t.sum())
        total = float((per_sentence * sent_t).sum())
        total_sq = float((per_sentence.square() * sent_t).sum())
        return {"correct": correct, "trials": batch_size, "symbols_per_message_sum": total,
                "symbols_per_message_sumsq": total_sq, "symbols_per_message_count": count,
                **task_accuracy_stats(hits, self._test["task"][idx])}

    # ------------------------------------------------------------------ records

    def provenance(self) -> Dict[str, Any]:
        p = self.params
        out: Dict[str, Any] = {
            "system": "memdeepsc", "model_version": MODEL_VERSION, "weights": list(self._entries),
            "data": self.data.provenance() if self.data is not None else None,
            "quick": self.context.quick, "trained_now": bool(self._train_report),
            "train_report": _summary(self._train_report),
        }
        if p.mask != "none":
            out["dynamic"] = {"mask": p.mask, "mask_l1": p.mask_l1 if p.keep_ratio is None else None,
                              "keep_ratio": p.keep_ratio, "eq15": {**p.eq15.model_dump(), "min_symbols": self.l_min()},
                              "position_overhead": p.position_overhead if p.mask == "importance" else "none"}
        return out

    def trained_weights(self) -> List[Tuple[str, str]]:
        roles = {"none": "base", "random": "base"}
        wanted = roles.get(self.params.mask, self.params.mask)
        return [(WEIGHT_KIND, e["key"]) for e in self._entries if e["role"] == wanted]


def _require_mask(info: ValidationInfo) -> None:
    """Validator helper: the field being checked only makes sense with a mask."""
    if info.data.get("mask") == "none":
        raise ValueError("only used with a mask (mask: importance | consecutive | random)")


def _copy_codecs(src: Any, dst: Any) -> None:
    """Copy the four codecs' weights of a trained Mem-DeepSC into another one."""
    for name in ("semantic_encoder", "jsc_encoder", "jsc_decoder", "semantic_decoder"):
        getattr(dst, name).set_weights(getattr(src, name).get_weights())


def _read_meta(path: Path) -> Dict[str, Any]:
    meta = Path(path).with_suffix("").with_suffix(".json")
    try:
        return json.loads(meta.read_text())
    except (OSError, ValueError):
        return {}


def _summary(report: Dict[str, Any]) -> Dict[str, Any]:
    """Seconds and final metrics per trained part (history trimmed to the last epoch)."""
    out: Dict[str, Any] = {}
    for role, rep in report.items():
        stages = rep.get("stages") or {"mask": rep.get("stage", {})}
        out[role] = {"seconds": round(rep.get("seconds", 0.0), 2),
                     "stages": {name: {"seconds": round(s.get("seconds", 0.0), 2), "epochs": s.get("epochs"),
                                       **{k: v[-1] for k, v in s.get("history", {}).items() if v}}
                                for name, s in stages.items()}}
    return out
