"""The fast BP decoders (linksim.phy.ldpc_decoder) against Sionna's, bit for bit.

Inputs are channel LLRs of real codewords (BPSK over AWGN, from very noisy to clean, as a
leading "SNR" dimension) and raw random LLRs with exact zeros and huge values, in batches
with extra leading dimensions; every CN update; 5G codes with rate matching (k=512 n=1024,
k=100 n=300) and 802.16e codes.
"""

from __future__ import annotations

from typing import Callable, Tuple

import numpy as np
import pytest
import torch
from sionna.phy.fec.ldpc import LDPC5GDecoder, LDPC5GEncoder, LDPCBPDecoder

from linksim.phy.codes import build_code, wimax_pcm
from linksim.phy.ldpc_decoder import FastLDPC5GDecoder, FastLDPCBPDecoder, cn_update_phi_inplace

CN_UPDATES = ["boxplus-phi", "boxplus", "minsum", "offset-minsum"]
#: AWGN noise standard deviations per BPSK symbol: rate-1/2 Eb/N0 of about -3.5, 0.9, 3, 10 dB.
SIGMAS = (1.5, 0.9, 0.7, 0.3)
NUM_ITER = 10


def _llrs(encode: Callable[[torch.Tensor], torch.Tensor], k: int, n: int, seed: int) -> torch.Tensor:
    """``[len(SIGMAS) + 1, 2, 3, n]`` LLRs (Sionna's logits, log P(1)/P(0)): codewords over AWGN
    at each of :data:`SIGMAS`, then random LLRs with exact zeros and values beyond the clip."""
    gen = torch.Generator().manual_seed(seed)
    u = torch.randint(0, 2, (len(SIGMAS), 2, 3, k), generator=gen).float()
    x = 1.0 - 2.0 * encode(u)
    sigma = torch.tensor(SIGMAS).view(-1, 1, 1, 1)
    y = x + sigma * torch.randn(x.shape, generator=gen)
    noisy = -2.0 * y / sigma**2
    raw = 8.0 * torch.randn(1, 2, 3, n, generator=gen)
    raw[torch.rand(raw.shape, generator=gen) < 0.1] = 0.0
    raw[..., :4] = torch.tensor([30.0, -30.0, -0.0, 1e4])
    return torch.cat([noisy, raw])


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    """One intra-op thread: small tensors, and spin-waiting threads crawl on a loaded CI host."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def code_5g_512() -> Tuple[LDPC5GEncoder, torch.Tensor]:
    enc = LDPC5GEncoder(512, 1024)
    return enc, _llrs(enc, 512, 1024, seed=1)


@pytest.fixture(scope="module")
def code_5g_100() -> Tuple[LDPC5GEncoder, torch.Tensor]:
    enc = LDPC5GEncoder(100, 300)
    return enc, _llrs(enc, 100, 300, seed=2)


@pytest.mark.parametrize("cn_update", CN_UPDATES)
@pytest.mark.parametrize("fixture", ["code_5g_512", "code_5g_100"])
def test_5g_decoder_bit_identical(fixture: str, cn_update: str, request: pytest.FixtureRequest) -> None:
    enc, llr = request.getfixturevalue(fixture)
    kwargs = dict(cn_update=cn_update, num_iter=NUM_ITER, hard_out=True, return_infobits=True)
    ref = LDPC5GDecoder(enc, **kwargs)(llr)
    fast = FastLDPC5GDecoder(enc, **kwargs)(llr)
    assert fast.shape == ref.shape == (*llr.shape[:-1], enc.k)
    assert torch.equal(fast, ref)


@pytest.mark.parametrize("cn_update", CN_UPDATES)
@pytest.mark.parametrize("rate, n", [("1/2", 576), ("5/6", 672)])
def test_wimax_decoder_bit_identical_soft_and_hard(rate: str, n: int, cn_update: str) -> None:
    code = build_code({"type": "wimax_ldpc", "rate": rate, "n": n})
    pcm = wimax_pcm(rate, n)
    llr = _llrs(code.encode, code.k, n, seed=3)
    for hard_out in (True, False):
        ref = LDPCBPDecoder(pcm, cn_update=cn_update, hard_out=hard_out, num_iter=NUM_ITER)(llr)
        fast = FastLDPCBPDecoder(pcm, cn_update=cn_update, hard_out=hard_out, num_iter=NUM_ITER)(llr)
        assert fast.shape == ref.shape == llr.shape
        assert torch.equal(fast, ref)


def test_codes_use_the_fast_decoder_and_match_sionna(code_5g_100) -> None:
    enc, llr = code_5g_100
    code = build_code({"type": "ldpc5g", "k": 100, "n": 300, "num_iter": NUM_ITER})
    assert isinstance(code._decoder, FastLDPC5GDecoder)
    assert torch.equal(code.decode(llr), LDPC5GDecoder(code._encoder, num_iter=NUM_ITER)(llr))

    wimax = build_code({"type": "wimax_ldpc", "rate": "3/4B", "n": 576, "num_iter": NUM_ITER})
    assert isinstance(wimax._decoder, FastLDPCBPDecoder)
    llr_w = _llrs(wimax.encode, wimax.k, 576, seed=4).clamp(-20, 20)
    ref = LDPCBPDecoder(wimax.pcm, hard_out=True, num_iter=NUM_ITER)(llr_w)[..., : wimax.k]
    assert torch.equal(wimax.decode(llr_w), ref)


def test_clean_codewords_decode_error_free() -> None:
    code = build_code({"type": "ldpc5g", "k": 512, "n": 1024, "num_iter": NUM_ITER})
    gen = torch.Generator().manual_seed(5)
    u = torch.randint(0, 2, (4, 512), generator=gen).float()
    y = 1.0 - 2.0 * code.encode(u) + 0.5 * torch.randn(4, 1024, generator=gen)
    assert torch.equal(code.decode(-2.0 * y / 0.25), u)


def test_5g_full_codeword_output_iterations_and_double_precision(code_5g_100) -> None:
    enc, llr = code_5g_100
    llr = llr[:, 0]
    for kwargs in (dict(return_infobits=False), dict(precision="double"), dict(hard_out=False),
                   dict(llr_max=None), dict(llr_max=8.0, cn_update="minsum")):
        ref, fast = LDPC5GDecoder(enc, **kwargs), FastLDPC5GDecoder(enc, **kwargs)
        for num_iter in (0, 1, 3):
            assert torch.equal(fast(llr, num_iter=num_iter), ref(llr, num_iter=num_iter)), (kwargs, num_iter)


def test_unsupported_features_fall_back_to_sionna(code_5g_100) -> None:
    enc, llr = code_5g_100
    llr = llr[:, 0]
    x_ref, state_ref = LDPC5GDecoder(enc, num_iter=3, return_state=True)(llr)
    x_fast, state_fast = FastLDPC5GDecoder(enc, num_iter=3, return_state=True)(llr)
    assert torch.equal(x_fast, x_ref) and torch.equal(state_fast, state_ref)
    ref = LDPC5GDecoder(enc, num_iter=3, cn_schedule="layered")(llr)
    assert torch.equal(FastLDPC5GDecoder(enc, num_iter=3, cn_schedule="layered")(llr), ref)


def test_cn_update_phi_inplace_matches_sionna() -> None:
    from sionna.phy.fec.ldpc.decoding import cn_update_phi

    gen = torch.Generator().manual_seed(6)
    mask = (torch.rand(7, 9, generator=gen) < 0.7).float()
    for dtype in (torch.float32, torch.float64):
        msg = (6.0 * torch.randn(5, 7, 9, generator=gen)).to(dtype)
        msg[torch.rand(msg.shape, generator=gen) < 0.1] = 0.0
        msg = msg * mask.to(dtype)  # padded slots +-0, as both decoders feed them
        m = mask.to(dtype)
        assert torch.equal(cn_update_phi_inplace(msg.clone(), m, 20.0), cn_update_phi(msg, m, 20.0))
        assert torch.equal(cn_update_phi_inplace(msg.clone(), m, None), cn_update_phi(msg, m, None))


def test_gather_indices_follow_the_graph() -> None:
    """Every edge of H appears once in each layout, and the two gathers pair them up."""
    pcm = wimax_pcm("2/3B", 576)
    dec = FastLDPCBPDecoder(pcm, num_iter=1)
    dc, dv = dec._max_cn_degree, dec._max_vn_degree
    cn_vn = dec._fast_cn_vn.numpy().reshape(dec._num_cns, dc)
    valid = dec._cn_mask.numpy().astype(bool)
    rows, cols = np.nonzero(valid)
    assert sorted(zip(rows, cn_vn[rows, cols])) == sorted(zip(*pcm.nonzero()))
    assert (cn_vn[~valid] == dec._num_vns).all()
    vn_src = dec._fast_vn_src.numpy().reshape(dec._num_vns, dv)
    vn_valid = dec._vn_mask.numpy().astype(bool)
    v, i = np.nonzero(vn_valid)
    slots = vn_src[v, i]
    assert len(set(slots)) == len(slots) == pcm.nnz
    assert (cn_vn.ravel()[slots] == v).all()
