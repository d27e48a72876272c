"""Keras 3 (PyTorch backend) layers and model of Mem-DeepSC (Xie, Qin, Li, JSAC 2023).

Section numbers and equations refer to the paper (Xie, Qin, Li, "Semantic communication with memory", JSAC 2023).
Shapes: ``B`` examples, ``T`` memory slots (eq. (5)), ``W`` words per sentence, ``D``
model width = ``N`` (dimension of a sentence feature ``z``), ``L`` complex channel
symbols per sentence; complex symbols travel as real ``[..., L, 2]`` (re, im) tensors.

Blocks (Fig. 2):

* :class:`TransformerBlock`: one pre-LN Transformer encoder layer (self-attention +
  ReLU feed-forward), the single block class of every codec and the importance model;
* :class:`UniversalTransformer`: one :class:`TransformerBlock` applied ``steps``
  times, adding a sinusoidal *step* code (and optionally a position code) before every
  step, as in Universal Transformers (Dehghani et al. 2019, eq. (2)-(4) there);
* :class:`SemanticEncoder` ``S(.; alpha)``: word embedding, Universal Transformer
  (3 steps), masked **sum** over the words -> one sentence feature ``z`` (Alg. 1 l. 4);
* :class:`JSCEncoder` ``C(.; beta)``: dense layers to ``L`` complex symbols and power
  normalisation (eq. (1)); :class:`JSCDecoder` ``C^-1(.; gamma)``: dense layers back
  to ``N`` (eq. (4));
* memory: :func:`memory_queue` (eqs. (5)-(6)) and :func:`temporal_code` (eq. (7));
* :class:`SemanticDecoder` ``S^-1(.; phi)``: Universal Transformer (6 steps) over
  ``[z_q; M(k)]`` and a linear answer classifier on the question token (eq. (8));
* :class:`ImportanceModel` ``F(.; theta)`` (eq. (17)): one Transformer layer of width 64
  scoring the ``L`` transmitted symbols;
* :class:`MemDeepSC`: the whole transceiver with the channel inside
  (:class:`linksim.layers.ChannelLayer`, detection eq. (3)) and the transmit masks of
  :mod:`.dynamic`.

Implementation note: within a batch the semantic encoder runs once per *distinct*
sentence (``torch.unique`` over token rows, then a gather). It is a deterministic
function of the tokens (up to dropout, whose draw is then shared by repeats), so this
only saves time: bAbI stories repeat the same few hundred sentences.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any, Dict, Mapping, Optional, Sequence, Tuple, Union

import numpy as np
import torch

from ..._backend import ensure_keras_torch

ensure_keras_torch()

import keras  # noqa: E402  (the backend must be chosen first)
from keras import ops  # noqa: E402

from ...layers import ChannelLayer, PowerNormalization  # noqa: E402
from ...layers.transformer import TransformerBlock  # noqa: E402  (shared; imported here for callers)
from . import dynamic  # noqa: E402

PAD = 0  #: token id of padding (and of an empty sentence slot)


# --------------------------------------------------------------------------- codes


def sinusoidal_code(length: int, width: int) -> np.ndarray:
    """Transformer position code (Vaswani et al. 2017), ``[length, width]`` float32.

    ``code[p, 2i] = sin(p w_i)``, ``code[p, 2i+1] = cos(p w_i)``, ``w_i =
    10000**(-2i/width)``. Then ``<code[m], code[n]> = sum_i cos((m - n) w_i)``
    depends on ``m - n`` only, the property eq. (7) asks of the temporal code.

    :param length: Number of positions (0 .. length-1).
    :param width: Code dimension (even).
    """
    if width % 2:
        raise ValueError(f"sinusoidal code width must be even, got {width}")
    pos = np.arange(length, dtype=np.float64)[:, None]
    freq = np.power(10000.0, -np.arange(0, width, 2, dtype=np.float64) / width)[None, :]
    code = np.zeros((length, width), dtype=np.float64)
    code[:, 0::2] = np.sin(pos * freq)
    code[:, 1::2] = np.cos(pos * freq)
    return code.astype(np.float32)


def temporal_code(memory_length: int, width: int) -> np.ndarray:
    """The temporal information matrix ``T = [t_1; ...; t_T]`` of eq. (7), ``[T, N]``.

    Slot ``m`` (1-based, ``t_T`` = newest) gets the sinusoidal code of position ``m``.
    """
    return sinusoidal_code(memory_length + 1, width)[1:]


def memory_queue(items: np.ndarray, counts: np.ndarray, memory_length: int) -> np.ndarray:
    """Shape the memory queue ``Q(k)`` of eqs. (5)-(6) from received sentences.

    Example ``b`` received ``counts[b]`` context sentences, stored in order (oldest
    first) in ``items[b, :counts[b]]``. The queue holds the last ``T`` of them in order,
    **newest last**; when fewer than ``T`` sentences exist the oldest slots are zero
    (``z(k) = 0`` for ``k < 0``).

    :param items: ``[B, K, ...]`` any dtype: per-sentence entries (tokens or features).
    :param counts: ``[B]`` int, number of valid sentences per example (``<= K``).
    :param memory_length: ``T``.
    :returns: ``[B, T, ...]``, same dtype; row ``T-1`` is the newest sentence.
    """
    items = np.asarray(items)
    counts = np.asarray(counts, dtype=np.int64)
    batch, k = items.shape[:2]
    if np.any(counts > k) or np.any(counts < 0):
        raise ValueError("counts must lie in [0, K]")
    out = np.zeros((batch, memory_length, *items.shape[2:]), dtype=items.dtype)
    for b in range(batch):
        n = min(int(counts[b]), memory_length)
        if n:
            out[b, memory_length - n:] = items[b, counts[b] - n: counts[b]]
    return out


def push_memory(queue: np.ndarray, z: np.ndarray) -> np.ndarray:
    """One time-slot update, eq. (6): drop the oldest entry, append ``z`` as newest.

    :param queue: ``[T, N]`` (or ``[B, T, N]``) queue ``Q(k)``.
    :param z: ``[N]`` (or ``[B, N]``) newly received sentence feature.
    :returns: ``Q(k+1)``, same shape as ``queue``.
    """
    queue = np.asarray(queue)
    return np.concatenate([queue[..., 1:, :], np.asarray(z, dtype=queue.dtype)[..., None, :]], axis=-2)


# --------------------------------------------------------------------------- blocks


class UniversalTransformer(keras.layers.Layer):
    """Universal Transformer encoder: one shared :class:`TransformerBlock`, ``steps`` times.

    Before step ``t`` (0-based) the coordinate code ``P_pos + P_step(t)`` is added
    (both sinusoidal, :func:`sinusoidal_code`); with ``position_coding=False`` only the
    step code (the semantic decoder's memory carries its temporal code, eq. (7)).
    No adaptive computation time: the number of steps is fixed (Sec. V-A2). A final
    LayerNorm closes the pre-LN stack.

    :input x: ``[B, S, D]`` float32. :input key_mask: optional ``[B, S]`` bool.
    :output: ``[B, S, D]`` float32.
    """

    MAX_POSITIONS = 512

    def __init__(self, width: int, heads: int, ff_width: int, steps: int, dropout: float = 0.0,
                 position_coding: bool = True, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.steps, self.position_coding = steps, position_coding
        self.block = TransformerBlock(width, heads, ff_width, dropout, name="block")
        self.norm = keras.layers.LayerNormalization(epsilon=1e-6, name="norm")
        self._step_code = torch.from_numpy(sinusoidal_code(steps, width))
        self._pos_code = torch.from_numpy(sinusoidal_code(self.MAX_POSITIONS, width))

    def build(self, input_shape: Tuple[Any, ...]) -> None:
        self.block.build(input_shape)
        self.norm.build(input_shape)

    def call(self, x: Any, key_mask: Any = None, training: Optional[bool] = None) -> Any:
        s = x.shape[1]
        if s > self.MAX_POSITIONS:
            raise ValueError(f"sequence of {s} tokens exceeds {self.MAX_POSITIONS}")
        pos = self._pos_code[:s].to(x.device) if self.position_coding else 0.0
        steps = self._step_code.to(x.device)
        for t in range(self.steps):
            x = self.block(x + pos + steps[t], key_mask=key_mask, training=training)
        return self.norm(x)

    def compute_output_shape(self, input_shape: Tuple[Any, ...]) -> Tuple[Any, ...]:
        return tuple(input_shape)


# --------------------------------------------------------------------------- codecs


class SemanticEncoder(keras.layers.Layer):
    """``S(.; alpha)``: sentence tokens -> sentence feature ``z`` (Alg. 1 lines 3-5).

    Word embedding (scaled by sqrt(D)), Universal Transformer with position coding and
    a padding mask, then the masked sum of the word features. Each distinct sentence of
    the input is encoded once (see module note).

    :input tokens: ``[M, W]`` int (``PAD`` = 0 pads; an all-PAD row gives ``z = 0``).
    :output z: ``[M, D]`` float32.
    """

    def __init__(self, vocab_size: int, width: int, heads: int, ff_width: int, steps: int,
                 dropout: float = 0.0, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.width = width
        self.embed = keras.layers.Embedding(vocab_size, width, name="embed")
        self.ut = UniversalTransformer(width, heads, ff_width, steps, dropout, position_coding=True, name="ut")

    def build(self, input_shape: Tuple[Any, ...]) -> None:
        self.embed.build(input_shape)
        self.ut.build((*input_shape, self.width))

    def call(self, tokens: Any, training: Optional[bool] = None) -> Any:
        tokens = torch.as_tensor(tokens, device=self.embed.embeddings.value.device).long()
        uniq, inverse = torch.unique(tokens, dim=0, return_inverse=True)
        mask = uniq != PAD
        h = self.embed(uniq) * math.sqrt(self.width)
        h = self.ut(h, key_mask=mask, training=training)
        z = ops.sum(h * ops.cast(mask, h.dtype)[..., None], axis=1)
        return ops.take(z, inverse, axis=0)

    def compute_output_shape(self, input_shape: Tuple[Any, ...]) -> Tuple[Any, ...]:
        return (input_shape[0], self.width)


class JSCEncoder(keras.layers.Layer):
    """``C(.; beta)``: sentence feature -> ``L`` unit-power complex symbols (eq. (1)).

    ``Dense(hidden, relu) -> Dense(2L) -> [L, 2] -> PowerNormalization``.

    :input z: ``[M, N]`` float32. :output x: ``[M, L, 2]`` float32, mean |x|^2 = 1.
    """

    def __init__(self, symbols: int, hidden: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.symbols = symbols
        self.d1 = keras.layers.Dense(hidden, activation="relu", name="d1")
        self.d2 = keras.layers.Dense(2 * symbols, name="d2")
        self.norm = PowerNormalization(name="power")

    def call(self, z: Any) -> Any:
        x = ops.reshape(self.d2(self.d1(z)), (-1, self.symbols, 2))
        return self.norm(x)

    def compute_output_shape(self, input_shape: Tuple[Any, ...]) -> Tuple[Any, ...]:
        return (input_shape[0], self.symbols, 2)


class JSCDecoder(keras.layers.Layer):
    """``C^-1(.; gamma)``: detected symbols -> sentence feature (eq. (4)).

    ``[L, 2] -> 2L -> Dense(hidden, relu) -> Dense(hidden, relu) -> Dense(N)``.

    :input x_hat: ``[M, L, 2]`` float32. :output z_hat: ``[M, N]`` float32.
    """

    def __init__(self, width: int, hidden: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.width = width
        self.d1 = keras.layers.Dense(hidden, activation="relu", name="d1")
        self.d2 = keras.layers.Dense(hidden, activation="relu", name="d2")
        self.d3 = keras.layers.Dense(width, name="d3")

    def call(self, x_hat: Any) -> Any:
        h = ops.reshape(x_hat, (x_hat.shape[0], -1))
        return self.d3(self.d2(self.d1(h)))

    def compute_output_shape(self, input_shape: Tuple[Any, ...]) -> Tuple[Any, ...]:
        return (input_shape[0], self.width)


class SemanticDecoder(keras.layers.Layer):
    """``S^-1(.; phi)``: answer logits from ``[z_q; M(k)]`` (eq. (8)).

    Universal Transformer (no position code: the memory carries the temporal code of
    eq. (7); the question is always token 0) and a linear classifier on token 0.

    :input tokens: ``[B, 1 + T, N]`` float32 (``T = 0`` for the memoryless variant).
    :output logits: ``[B, num_answers]`` float32.
    """

    def __init__(self, num_answers: int, width: int, heads: int, ff_width: int, steps: int,
                 dropout: float = 0.0, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.ut = UniversalTransformer(width, heads, ff_width, steps, dropout, position_coding=False, name="ut")
        self.head = keras.layers.Dense(num_answers, name="answer")

    def call(self, tokens: Any, training: Optional[bool] = None) -> Any:
        h = self.ut(tokens, training=training)
        return self.head(h[:, 0])


class ImportanceModel(keras.layers.Layer):
    """``F(.; theta)`` of eq. (17): importance score of each transmitted symbol.

    ``Dense(width)`` on each (re, im) pair plus a sinusoidal position code, one
    :class:`TransformerBlock` (width 64 in the paper), ``Dense(1)``.

    :input x: ``[M, L, 2]`` float32. :output p: ``[M, L]`` float32 (larger = keep).
    """

    def __init__(self, symbols: int, width: int = 64, heads: int = 4, ff_width: int = 128, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.width = width
        self.inp = keras.layers.Dense(width, name="inp")
        self.block = TransformerBlock(width, heads, ff_width, 0.0, name="block")
        self.out = keras.layers.Dense(1, name="score")
        self._pos = torch.from_numpy(sinusoidal_code(symbols, width))

    def build(self, input_shape: Tuple[Any, ...]) -> None:
        self.inp.build(input_shape)
        self.block.build((*input_shape[:-1], self.width))
        self.out.build((*input_shape[:-1], self.width))

    def call(self, x: Any, training: Optional[bool] = None) -> Any:
        h = self.inp(x) + self._pos.to(x.device)
        h = self.block(h, training=training)
        return ops.squeeze(self.out(h), axis=-1)


# --------------------------------------------------------------------------- transceiver


@dataclass(frozen=True)
class ModelConfig:
    """Architecture of one Mem-DeepSC model (hashed for the weight cache).

    :ivar vocab_size: Word vocabulary incl. ``PAD`` = 0.
    :ivar num_answers: Answer classes.
    :ivar memory_length: ``T`` slots of the memory queue (eq. (5)).
    :ivar width: Model width ``D`` = sentence-feature dimension ``N``.
    :ivar symbols: ``L`` complex channel symbols per sentence.
    :ivar memory: False: the semantic decoder sees the question feature only.
    :ivar importance_width: Width of the importance model (0: no importance model).
    """

    vocab_size: int
    num_answers: int
    memory_length: int
    width: int = 128
    heads: int = 8
    ff_width: int = 256
    encoder_steps: int = 3
    decoder_steps: int = 6
    symbols: int = 32
    jsc_hidden: int = 256
    dropout: float = 0.1
    memory: bool = True
    importance_width: int = 0

    def as_dict(self) -> Dict[str, Any]:
        return asdict(self)


@dataclass
class MaskSetting:
    """How the transmitter masks the ``L`` symbols of each sentence (see :mod:`.dynamic`).

    :ivar mode: ``none | importance | consecutive | random``.
    :ivar l1: Symbols kept per sentence: an int, or ``[M]`` int tensor, or None
        (training: drawn uniformly from ``train_range`` per sentence).
    :ivar train_range: ``(lo, hi)`` inclusive range of L1 drawn in training.
    :ivar temperature: Soft top-k temperature (importance training).
    """

    mode: str = "none"
    l1: Union[None, int, torch.Tensor] = None
    train_range: Tuple[int, int] = (1, 1)
    temperature: float = 1.0


class MemDeepSC(keras.Model):
    """The Mem-DeepSC transceiver of Fig. 2 with the channel inside (for ``fit``).

    Inputs are dicts of int arrays: ``context`` ``[B, T, W]`` in memory-queue order
    (:func:`memory_queue`: newest last, all-PAD rows for empty slots, which are not
    transmitted) and ``question`` ``[B, W]``; optional ``snr_db`` ``[B]`` float (every
    sentence of an example at that SNR; without it the channel layer's training rule).
    Output: answer logits ``[B, num_answers]``.

    Runtime switches (not weights): :attr:`use_channel` (False: stage 1, the semantic
    codec alone, ``z_hat = z``) and :attr:`mask` (a :class:`MaskSetting`).

    :param config: The architecture.
    :param channel: Channel spec for :class:`~linksim.layers.ChannelLayer`.
    :param train_snr_db: Training SNR [dB]: a number or a ``(lo, hi)`` range drawn per
        sentence.
    """

    def __init__(self, config: ModelConfig, channel: Mapping[str, Any],
                 train_snr_db: Union[float, Sequence[float]] = (0.0, 18.0), **kwargs: Any) -> None:
        super().__init__(**kwargs)
        c = config
        self.config = c
        self.semantic_encoder = SemanticEncoder(c.vocab_size, c.width, c.heads, c.ff_width, c.encoder_steps,
                                                c.dropout, name="semantic_encoder")
        self.semantic_encoder.build((None, None))  # its weights tell the device (see :attr:`device`)
        self.jsc_encoder = JSCEncoder(c.symbols, c.jsc_hidden, name="jsc_encoder")
        snr = tuple(train_snr_db) if isinstance(train_snr_db, (list, tuple)) else float(train_snr_db)
        self.channel = ChannelLayer(dict(channel), snr, name="channel")
        self.jsc_decoder = JSCDecoder(c.width, c.jsc_hidden, name="jsc_decoder")
        self.semantic_decoder = SemanticDecoder(c.num_answers, c.width, c.heads, c.ff_width, c.decoder_steps,
                                                c.dropout, name="semantic_decoder")
        self.importance = (ImportanceModel(c.symbols, c.importance_width, name="importance")
                           if c.importance_width else None)
        self._temporal = torch.from_numpy(temporal_code(c.memory_length, c.width))
        self.use_channel = True
        self.freeze_base = False
        self.mask = MaskSetting()

    # ---------------------------------------------------------------- pieces

    def build(self, input_shape: Any = None) -> None:
        """Sub-layers build on first use (see :meth:`build_all`)."""

    @property
    def device(self) -> torch.device:
        """Device of the weights (inputs are moved there)."""
        return self.semantic_encoder.embed.embeddings.value.device

    def build_all(self, max_words: int) -> None:
        """Create every weight (a forward pass on a dummy batch, no channel)."""
        use, self.use_channel = self.use_channel, False
        tokens = np.ones((1, self.config.memory_length, max_words), dtype=np.int64)
        self({"context": tokens, "question": tokens[:, 0]}, training=False)
        self.use_channel = use
        x = torch.zeros(1, self.config.symbols, 2, device=self.device)
        self.jsc_decoder(self.jsc_encoder(self.semantic_encoder(np.ones((1, max_words), dtype=np.int64))))
        if self.importance is not None:
            self.importance(x)

    def over_the_air(self, z: Any, snr_db: Any = None, training: Optional[bool] = None) -> Tuple[Any, Any]:
        """Transmit sentence features: JSC encoder, mask, channel, JSC decoder.

        :param z: ``[M, N]`` float32 sentence features.
        :param snr_db: None (channel layer's rule) or ``[M]`` float per sentence.
        :returns: ``(z_hat [M, N], kept [M])`` with ``kept`` the number of symbols sent
            per sentence (float tensor; ``L`` without a mask).
        """
        x = self.jsc_encoder(z)
        m = x.shape[0]
        keep = self._mask_matrix(x, training)  # the mask trains even when the base is frozen
        if keep is not None:
            x = dynamic.apply_mask(x, keep)
        x_hat = self.channel(x, snr_db=snr_db, training=training)
        if keep is not None:
            x_hat = x_hat * keep[..., None]  # the receiver zero-pads what was not sent
            kept = ops.sum(ops.stop_gradient(keep), axis=-1)
        else:
            kept = torch.full((m,), float(self.config.symbols), device=x.device)
        return self.jsc_decoder(x_hat), kept

    def _base(self, training: Optional[bool]) -> Optional[bool]:
        """``training`` flag for the codecs: False while they are frozen (no dropout)."""
        return False if self.freeze_base else training

    def _mask_matrix(self, x: Any, training: Optional[bool]) -> Optional[torch.Tensor]:
        """``[M, L]`` 0/1 float mask of the symbols sent, or None (all sent)."""
        setting, length = self.mask, self.config.symbols
        if setting.mode == "none":
            return None
        m = x.shape[0]
        if setting.l1 is None:
            lo, hi = setting.train_range
            l1 = dynamic.draw_lengths(m, lo, hi, x.device)
        elif isinstance(setting.l1, torch.Tensor):
            l1 = setting.l1.to(x.device).long().reshape(m)
        else:
            l1 = torch.full((m,), int(setting.l1), dtype=torch.long, device=x.device)
        if setting.mode == "consecutive":
            return dynamic.consecutive_mask(length, l1)
        if setting.mode == "random":
            return dynamic.random_mask(length, l1)
        if setting.mode == "importance":
            if self.importance is None:
                raise RuntimeError("importance mask needs a model built with importance_width > 0")
            scores = self.importance(ops.stop_gradient(x), training=training)
            if training:
                return dynamic.soft_topk_mask(scores, l1, setting.temperature)
            return dynamic.topk_mask(scores, l1)
        raise ValueError(f"unknown mask mode {setting.mode!r}")

    def memory(self, z_ctx: Any) -> Any:
        """``M(k) = Q(k) + T`` (eq. (7)): ``[B, T, N]`` queue -> ``[B, T, N]``."""
        return z_ctx + self._temporal.to(z_ctx.device)

    def receive_and_answer(self, z_q: Any, z_ctx: Optional[Any], training: Optional[bool] = None) -> Any:
        """Semantic decoder on ``[z_q; M(k)]`` (eq. (8)); ``z_ctx=None`` without memory."""
        tokens = z_q[:, None, :]
        if z_ctx is not None and self.config.memory:
            tokens = ops.concatenate([tokens, self.memory(z_ctx)], axis=1)
        return self.semantic_decoder(tokens, training=training)

    # ---------------------------------------------------------------- forward

    def transceive(self, inputs: Mapping[str, Any], training: Optional[bool] = None) -> Tuple[Any, Any, Any]:
        """Full chain; returns ``(logits [B, A], kept [B, S], sent [B, S])``.

        ``S = T + 1`` sentences per example (context slots then question; ``S = 1``
        without memory); ``kept`` is the number of symbols sent per sentence and ``sent``
        is 1 for sentences actually transmitted (non-empty slots), else 0.
        """
        device = self.device
        question = torch.as_tensor(inputs["question"], device=device).long()
        b, w = question.shape
        if self.config.memory:
            context = torch.as_tensor(inputs["context"], device=device).long()
            sentences = torch.cat([context.reshape(-1, context.shape[1], w), question[:, None]], dim=1)
        else:
            sentences = question[:, None]
        s = sentences.shape[1]
        flat = sentences.reshape(b * s, w)
        sent = ops.cast(ops.any(flat != PAD, axis=-1), "float32")
        z = self.semantic_encoder(flat, training=self._base(training))
        if self.use_channel:
            snr = inputs.get("snr_db") if isinstance(inputs, Mapping) else None
            if snr is not None:
                snr = torch.as_tensor(snr, dtype=torch.float32, device=device).reshape(b, 1).expand(b, s).reshape(b * s)
            z_hat, kept = self.over_the_air(z, snr, training=training)
            z_hat = z_hat * sent[:, None]  # empty slots are not transmitted: z = 0 (eq. (5))
        else:
            z_hat, kept = z, torch.zeros(b * s, device=z.device)
        z_hat = ops.reshape(z_hat, (b, s, -1))
        z_ctx = z_hat[:, :-1] if self.config.memory else None
        logits = self.receive_and_answer(z_hat[:, -1], z_ctx, training=self._base(training))
        return logits, ops.reshape(kept, (b, s)), ops.reshape(sent, (b, s))

    def call(self, inputs: Mapping[str, Any], training: Optional[bool] = None) -> Any:
        return self.transceive(inputs, training=training)[0]


class JSCTrainer(keras.Model):
    """Stage 2 of Alg. 1 (lines 11-21): the JSC codec alone on frozen features.

    :input z: ``[M, N]`` float32 semantic features. :output z_hat: ``[M, N]``.
    """

    def __init__(self, model: MemDeepSC, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.jsc_encoder = model.jsc_encoder
        self.channel = model.channel
        self.jsc_decoder = model.jsc_decoder

    def call(self, z: Any, training: Optional[bool] = None) -> Any:
        x = self.jsc_encoder(z)
        return self.jsc_decoder(self.channel(x, training=training))


class SemanticCodec(keras.Model):
    """The semantic encoder and decoder of a :class:`MemDeepSC` (stage-1 checkpoints).

    Holds references to the model's layers: loading weights into it loads them into
    the model. Stage 1 does not depend on the channel or on ``L``, so one checkpoint
    serves every channel and symbol count.
    """

    def __init__(self, model: MemDeepSC, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.semantic_encoder = model.semantic_encoder
        self.semantic_decoder = model.semantic_decoder
        self.built = True  # its layers are built (by the model they belong to)
