"""linksim's exact-MAP Turbo decoder against Sionna's ``TurboDecoder``: identical outputs."""

from __future__ import annotations

import pytest
import torch
from sionna.phy.fec.turbo import TurboDecoder, TurboEncoder

from linksim.phy.codes import Turbo, build_code
from linksim.phy.turbo_decoder import TurboMapDecoder


def _encoder() -> TurboEncoder:
    return TurboEncoder(constraint_length=4, rate=1 / 3, terminate=True, interleaver_type="3GPP")


def _llrs(encoder: TurboEncoder, k: int, batch: int, kind: str, gen: torch.Generator) -> torch.Tensor:
    """``[batch, 3k + 12]`` LLRs: pure noise, or noisy codewords at a few reliabilities."""
    n = 3 * k + 12
    if kind == "random":
        return 6.0 * torch.randn(batch, n, generator=gen)
    u = torch.randint(0, 2, (batch, k), generator=gen).float()
    x = 2.0 * encoder(u) - 1.0
    scale = torch.tensor([0.5, 1.5, 3.0, 8.0, 30.0]).repeat_interleave(-(-batch // 5))[:batch, None]
    return (scale * (x + 0.9 * torch.randn(batch, n, generator=gen))).clamp(-30.0, 30.0)


@pytest.mark.parametrize("k, batch, num_iter, kind", [
    (40, 64, 6, "random"),
    (40, 64, 6, "noisy"),
    (256, 30, 2, "random"),
    (256, 40, 6, "noisy"),
    (1024, 3, 2, "noisy"),
])
def test_same_llrs_as_sionna(k: int, batch: int, num_iter: int, kind: str) -> None:
    """Bit-identical LLRs (infinities included), hence identical decisions."""
    gen = torch.Generator().manual_seed(1000 * k + batch)
    encoder = _encoder()
    llr = _llrs(encoder, k, batch, kind, gen)
    fast = TurboMapDecoder(encoder, k, num_iter)
    soft = TurboDecoder(encoder, num_iter=num_iter, hard_out=False, algorithm="map")(llr)
    assert torch.equal(fast.llr(llr), soft)
    assert torch.equal(fast(llr), (soft > 0.0).float())


@pytest.mark.parametrize("kind", ["random", "noisy"])
def test_same_hard_decisions_as_sionna(kind: str) -> None:
    gen = torch.Generator().manual_seed(11)
    encoder = _encoder()
    llr = _llrs(encoder, 40, 100, kind, gen)
    hard = TurboDecoder(encoder, num_iter=6, hard_out=True, algorithm="map")(llr)
    assert torch.equal(TurboMapDecoder(encoder, 40, 6)(llr), hard)


def test_batch_composition_does_not_change_a_block() -> None:
    """A block decodes the same alone, in a batch, and with leading dimensions."""
    gen = torch.Generator().manual_seed(7)
    encoder = _encoder()
    llr = _llrs(encoder, 40, 12, "noisy", gen)
    fast = TurboMapDecoder(encoder, 40, 4)
    whole = fast.llr(llr)
    assert torch.equal(fast.llr(llr[3:4]), whole[3:4])
    assert torch.equal(fast.llr(llr.reshape(3, 4, -1)), whole.reshape(3, 4, -1))
    assert fast(llr.reshape(3, 4, -1)).shape == (3, 4, 40)


def test_turbo_code_uses_it_for_map_only() -> None:
    assert isinstance(build_code({"type": "turbo", "k": 40})._decoder, TurboMapDecoder)
    assert isinstance(build_code({"type": "turbo", "k": 40, "algorithm": "log"})._decoder, TurboDecoder)


def test_turbo_code_round_trip_and_bad_length() -> None:
    code: Turbo = build_code({"type": "turbo", "k": 104, "num_iter": 4})
    u = torch.randint(0, 2, (8, 104), generator=torch.Generator().manual_seed(3)).float()
    llr = 10.0 * (2.0 * code.encode(u) - 1.0)
    assert torch.equal(code.decode(llr), u)
    with pytest.raises(ValueError, match="n=324"):
        code._decoder(llr[:, :-1])
