"""Byte payloads (encoded text, compressed images) over a coded, modulated link.

A classical baseline sends each message (a sentence's UTF-8 bytes, an image's BPG
bitstream) as bits, split into blocks of ``k`` information bits for the channel code;
the last block is zero-padded. The receiver decodes every block and reassembles the
message, errors included; a message whose blocks all decoded correctly is intact.
Under ``coherence: block`` fading a message sees one fade, whatever its number of
blocks, as a learned link's message (one sentence, one image) does: the blocks of a
message share one channel row.
The symbol count is what the message costs on the channel: ``blocks x symbols per
block``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import List, Sequence

import numpy as np
import torch

from ..phy.link import CodedModulationLink


@dataclass
class PayloadReception:
    """What the receiver got for a list of messages.

    :ivar payloads: Received bytes per message (same lengths as sent; bit errors kept).
    :ivar intact: Per message, True if every block decoded without error.
    :ivar symbols: Complex channel uses spent per message.
    :ivar bit_errors: Information-bit errors per message (padding excluded).
    """

    payloads: List[bytes]
    intact: np.ndarray
    symbols: np.ndarray
    bit_errors: np.ndarray


def bytes_to_bits(payload: bytes) -> np.ndarray:
    """``[8 len]`` uint8 bits, most significant bit of each byte first."""
    return np.unpackbits(np.frombuffer(payload, dtype=np.uint8))


def bits_to_bytes(bits: np.ndarray) -> bytes:
    """Inverse of :func:`bytes_to_bits` (length must be a multiple of 8)."""
    return np.packbits(bits.astype(np.uint8)).tobytes()


def blocks_needed(num_bytes: int, k: int) -> int:
    """Code blocks of ``k`` information bits needed for ``num_bytes`` (at least one)."""
    return max(1, -(-8 * num_bytes // k))


def symbols_for_payload(num_bytes: int, link: CodedModulationLink) -> int:
    """Channel uses a message of ``num_bytes`` costs on ``link``."""
    return blocks_needed(num_bytes, link.code.k) * link.symbols_per_block


def send_payloads(link: CodedModulationLink, payloads: Sequence[bytes], snr_db: float) -> PayloadReception:
    """Send every message through ``link`` at ``snr_db`` (all blocks in one batch).

    :param link: Code + modulation + channel chain.
    :param payloads: Messages as bytes.
    :param snr_db: Es/N0 per complex channel use (dB).
    """
    k = link.code.k
    counts = [blocks_needed(len(p), k) for p in payloads]
    total = sum(counts)
    blocks = np.zeros((total, k), dtype=np.float32)
    row = 0
    for payload, n_blocks in zip(payloads, counts):
        bits = bytes_to_bits(payload)
        flat = np.zeros(n_blocks * k, dtype=np.float32)
        flat[: bits.size] = bits
        blocks[row: row + n_blocks] = flat.reshape(n_blocks, k)
        row += n_blocks
    import sionna.phy

    device = sionna.phy.config.device
    u = torch.from_numpy(blocks).to(device)
    if max(counts, default=1) == 1 or not _fades_per_row(link):
        u_hat = link.transmit(u, snr_db).to(torch.uint8).cpu().numpy()
    else:  # one fade per message: the messages of m blocks go out as rows of m blocks
        starts = np.cumsum([0, *counts[:-1]])
        u_hat = np.zeros((total, k), dtype=np.uint8)
        for m in sorted(set(counts)):
            rows = np.concatenate([np.arange(s, s + m) for s, c in zip(starts, counts) if c == m])
            sent = link.transmit(u[torch.from_numpy(rows).to(device)], snr_db, blocks_per_row=m)
            u_hat[rows] = sent.to(torch.uint8).cpu().numpy()
    received, intact, errors = [], np.zeros(len(payloads), bool), np.zeros(len(payloads), np.int64)
    row = 0
    for i, (payload, n_blocks) in enumerate(zip(payloads, counts)):
        nbits = 8 * len(payload)
        got = u_hat[row: row + n_blocks].reshape(-1)[:nbits]
        sent = blocks[row: row + n_blocks].reshape(-1)[:nbits]
        errors[i] = int(np.count_nonzero(got != sent))
        intact[i] = bool(np.array_equal(u_hat[row: row + n_blocks], blocks[row: row + n_blocks]))
        received.append(bits_to_bytes(got))
        row += n_blocks
    symbols = np.array([c * link.symbols_per_block for c in counts], dtype=np.int64)
    return PayloadReception(received, intact, symbols, errors)


def _fades_per_row(link: CodedModulationLink) -> bool:
    """Whether ``link``'s channel draws one fade per row (``coherence: block``)."""
    return getattr(getattr(link.channel, "params", None), "coherence", None) == "block"


def utf8_encode(text: str) -> bytes:
    """UTF-8 bytes of ``text`` (the text source coder of the classical baselines)."""
    return text.encode("utf-8")


def utf8_decode(payload: bytes) -> str:
    """Decode received bytes; invalid sequences (from bit errors) become U+FFFD."""
    return payload.decode("utf-8", errors="replace")
