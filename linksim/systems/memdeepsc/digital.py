"""The classical benchmark of Mem-DeepSC: UTF-8 text + Turbo + QAM, then the QA model.

Every context sentence and the question travel as UTF-8 bytes through the digital
link of :mod:`linksim.source.payload` (Turbo r=1/3, k=256, terminated; 16-QAM; the
scenario's channel with its CSI), one sentence per time slot. The receiver decodes the
bytes it got (bit errors and all: invalid UTF-8 becomes U+FFFD, unknown words become
UNK), and the *noiseless-trained* question-answering model, i.e. the Mem-DeepSC
semantic codec after stage 1 of Algorithm 1 (no channel), answers from the decoded
text. This is the "UTF-8-Turbo" curve of Figs. 5-6; with ``amc`` it is the
"UTF-8-Turbo with AMC" benchmark whose symbol counts Table II reports.

Symbols per sentence = code blocks x channel uses per block; a typical bAbI sentence
(about 25 bytes, 200 bits) fills one 256-bit Turbo block: 780 code bits = 195 16-QAM
symbols (the paper's "about 190").
"""

from __future__ import annotations

import time
from typing import Any, ClassVar, Dict, FrozenSet, List, Mapping, Optional

import numpy as np
import torch
from pydantic import Field, field_validator

from ...data.babi import answer_token, encode_stories
from ...data.babi_format import Story
from ...metrics import TASK_ACCURACY_METRICS, task_accuracy_stats
from ...phy.amc import AmcParams, AmcTable
from ...phy.channels import build_channel
from ...registry import ParamsModel, systems
from ...source.payload import send_payloads, utf8_decode, utf8_encode
from ..base import SystemContext
from ...phy.link import CodedModulationLink, build_link
from .system import MemDeepSCSystem
from .training import log_stderr, train_mem_deepsc


@systems.register("memdeepsc_digital")
class MemDeepSCDigitalBaseline(MemDeepSCSystem):
    """UTF-8 text + Turbo + QAM over the channel, answered by the noiseless-trained QA model."""

    class Params(MemDeepSCSystem.Params):
        """Architecture fields as ``memdeepsc`` (the QA model), plus the digital link.

        ``code`` and ``modulation`` fix the link (default Turbo k=256 + 16-QAM); ``amc``
        (``{}`` for the default table of :mod:`linksim.phy.amc`, or ``{entries: [...]}``)
        picks code and modulation per SNR instead.
        """

        code: Dict[str, Any] = Field(default_factory=lambda: {"type": "turbo", "k": 256, "num_iter": 6})
        modulation: int = 16
        amc: Optional[AmcParams] = None

        @field_validator("mask")
        @classmethod
        def _no_mask(cls, value: str) -> str:
            if value != "none":
                raise ValueError("the digital baseline sends whole sentences; masks apply to memdeepsc only")
            return value

        @field_validator("variant")
        @classmethod
        def _joint_only(cls, value: str) -> str:
            if value != "joint":
                raise ValueError("the digital baseline uses the stage-1 (noiseless) QA model; no variant")
            return value

    metrics_provided: ClassVar[FrozenSet[str]] = frozenset({"accuracy", "symbols_per_message"}) | TASK_ACCURACY_METRICS
    accepts_training: ClassVar[bool] = True

    @classmethod
    def validate_context(cls, params: ParamsModel, context: SystemContext) -> None:
        cls._training_params(context)
        cls._data_spec(context)
        if params.train_channel is not None:  # the QA model's channel layer is built from it
            build_channel(params.train_channel, field="params.train_channel")
        cls._links(params, context)

    @staticmethod
    def _links(params: Any, context: SystemContext) -> Any:
        """A fixed :class:`CodedModulationLink`, or an AMC table plus the channel."""
        channel = build_channel(context.channel, field="channel")
        if params.amc is not None:
            return params.amc.build(field="params.amc"), channel
        return build_link(params.code, params.modulation, channel), channel

    def _setup(self, training: Any) -> None:
        from ...weights import WeightStore
        from .model import SemanticCodec
        from .system import WEIGHT_KIND

        self.data = self._dataset()
        self._training = training
        self._store = WeightStore(self.context.cache_dir, WEIGHT_KIND)
        model = self._new_model(importance=False)
        key, spec = self._semantic_spec()
        if not self._load(SemanticCodec(model), key, "semantic"):
            t0 = time.perf_counter()
            report = train_mem_deepsc(model, self.data, {"semantic": self._stage(training, "semantic")},
                                      stages=["semantic"], max_train=self._max_train(),
                                      verbose=0 if self.context.quick else 2, log=log_stderr,
                                      before_stage=lambda stage: self._seed_training(f"base/{stage}"))
            self._train_report["semantic"] = {"seconds": time.perf_counter() - t0, "stages": report}
            self._save(SemanticCodec(model), key, "semantic", spec)
        model.use_channel = False  # the QA model reads the decoded text directly
        self.model = model
        self._link, self._channel = self._links(self.params, self.context)
        self._amc_links: Dict[int, CodedModulationLink] = {}
        self._stories = self.data.stories("test")

    def link_at(self, snr_db: float) -> CodedModulationLink:
        """The digital link used at ``snr_db`` (the AMC choice, or the fixed link)."""
        if not isinstance(self._link, AmcTable):
            return self._link
        index = int(self._link.select_index(snr_db))
        if index not in self._amc_links:
            scheme = list(self._link)[index]
            self._amc_links[index] = CodedModulationLink(scheme.code, scheme.modulation, self._channel)
        return self._amc_links[index]

    def _simulate(self, batch_size: int, point: Mapping[str, float]) -> Dict[str, float]:
        import sionna.phy

        snr_db = float(point["snr_db"])
        memory_length = self.data.memory_length
        idx = sionna.phy.config.np_rng.integers(0, len(self._stories), size=batch_size)
        stories = [self._stories[i] for i in idx]
        sentences: List[str] = []
        for story in stories:
            sentences.extend(story.context[-memory_length:] if self.params.memory else [])
            sentences.append(story.question)
        reception = send_payloads(self.link_at(snr_db), [utf8_encode(s) for s in sentences], snr_db)
        decoded = [utf8_decode(p) for p in reception.payloads]
        received: List[Story] = []
        row = 0
        for story in stories:
            n_ctx = min(len(story.context), memory_length) if self.params.memory else 0
            received.append(Story(context=decoded[row: row + n_ctx], question=decoded[row + n_ctx],
                                  answer=story.answer, supporting=(), task=story.task))
            row += n_ctx + 1
        enc = encode_stories(received, self.data.vocab, memory_length, self.data.max_words)
        logits = self.model({"context": enc.context.astype(np.int64), "question": enc.question.astype(np.int64)},
                            training=False)
        pred = torch.as_tensor(logits).argmax(dim=-1).cpu().numpy()
        truth = np.array([self.data.vocab.id(_answer(s)) for s in stories])
        symbols = reception.symbols.astype(np.float64)
        hits = pred == truth
        return {"correct": int(hits.sum()), "trials": batch_size,
                "symbols_per_message_sum": float(symbols.sum()),
                "symbols_per_message_sumsq": float((symbols ** 2).sum()),
                "symbols_per_message_count": float(symbols.size),
                **task_accuracy_stats(hits, np.array([s.task for s in stories]))}

    def provenance(self) -> Dict[str, Any]:
        out = super().provenance()
        out["system"] = "memdeepsc_digital"
        link = self._link
        out["link"] = ({"amc": [repr(s) for s in link]} if isinstance(link, AmcTable) else
                       {"code": dict(self.params.code), "modulation": self.params.modulation,
                        "symbols_per_block": link.symbols_per_block, "code_rate": link.code.rate})
        return out

    def trained_weights(self) -> List[tuple]:
        from .system import WEIGHT_KIND

        return [(WEIGHT_KIND, e["key"]) for e in self._entries if e["role"] == "semantic"]


def _answer(story: Story) -> str:
    return answer_token(story.answer)

