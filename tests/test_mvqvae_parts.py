"""Parts of the masked VQ-VAE (issue 12): Table I arithmetic, codebook, index link, masking.

Each check can fail: exact counts against the paper's printed numbers, exact round trips,
gradients routed as eq. (12) says, and seeded statistical checks with wide margins.
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
import torch
from scipy import stats

from linksim.phy.channels import build_channel
from linksim.systems.mvqvae import symbols as sym
from linksim.systems.mvqvae.codebook import (VectorQuantizer, coherence, orthogonality_loss, straight_through,
                                             usage_perplexity)
from linksim.systems.mvqvae.index_link import IndexLink
from linksim.systems.mvqvae.masking import kept_positions

REPO = Path(__file__).resolve().parents[1]
SVD1 = {"type": "mimo", "nt": 8, "nr": 4, "precoding": "svd", "streams": 1}


# ------------------------------------------------------------------------------ Table I
def test_table1_vq_rows_are_exact():
    table = sym.paper_table1()
    assert table["mvqvae_patch16"] == 196 and table["mvqvae_patch8"] == 784
    for patch in (16, 8):  # the printed formula agrees at the paper's M_r = 1/2
        assert sym.vq_symbols_as_printed(224, 224, patch, 256, Fraction(1, 2), 4) == \
            sym.vq_symbols(224, 224, patch, 256, Fraction(1, 2), 4)
    # CPU shapes (32x32): patch 4 -> 64 symbols, patch 8 -> 16; J = 16 halves the bits
    assert sym.vq_symbols(32, 32, 4, 256, 0.5, 4) == 64 and sym.vq_symbols(32, 32, 8, 256, 0.5, 4) == 16
    assert sym.vq_symbols(32, 32, 4, 16, 0.5, 4) == 32


def test_table1_reserving_ratio_is_one_minus_masking_ratio():
    # 25 % masked: 48 of 64 patches sent; the printed formula (x M_r) would give a quarter
    assert sym.vq_symbols(32, 32, 4, 256, 0.25, 4) == 96
    assert sym.vq_symbols_as_printed(32, 32, 4, 256, 0.25, 4) == 32
    assert sym.kept_patches(196, Fraction(1, 2)) == 98


def test_table1_jpeg_row_and_its_inconsistency():
    table = sym.paper_table1()
    assert table["jpeg_ldpc_uncompressed"] == 602_112  # the printed expression, no C_r
    assert table["jpeg_ldpc_implied"] == 53_760  # needs the unstated C_r = 11.2
    assert table["jpeg_ldpc_stated_size"] == 20_432  # the stated 5,108 B per image
    assert round(100 * 196 / table["jpeg_ldpc_implied"], 2) == Fraction(36, 100)  # "0.36 %"
    assert sym.symbols_sent(Fraction(4649, 2)) == 2325


@pytest.mark.parametrize("bad", [0, 1, 3, 100])
def test_codebook_size_must_be_a_power_of_two(bad):
    with pytest.raises(ValueError, match="power of two"):
        sym.bits_per_index(bad)


# ------------------------------------------------------------------------------ codebook
def test_quantiser_maps_every_codebook_vector_to_its_index():
    vq = VectorQuantizer(32, 8)
    assert torch.equal(vq.indices(vq.codebook.detach()), torch.arange(32))


def test_straight_through_and_eq12_gradients():
    torch.manual_seed(0)
    vq = VectorQuantizer(16, 4)
    z_e = torch.randn(5, 3, 4, requires_grad=True)
    z_q, idx = vq(z_e)
    assert torch.allclose(z_q, vq.lookup(idx), atol=1e-6)
    upstream = torch.randn_like(z_q)
    (grad,) = torch.autograd.grad((z_q * upstream).sum(), z_e)
    assert torch.equal(grad, upstream)  # dL/dz_e = dL/dz_q
    codebook_term, commitment = vq.loss_terms(z_e, idx)
    g_e, g_z = torch.autograd.grad(codebook_term, [vq.codebook, z_e], allow_unused=True)
    assert g_z is None and g_e.abs().sum() > 0  # the codebook term moves only the codebook
    g_e, g_z = torch.autograd.grad(commitment, [vq.codebook, z_e], allow_unused=True)
    assert g_e is None  # the commitment term moves only the encoder, scaled by beta
    expected = 2 * vq.beta * (z_e - vq.lookup(idx)).detach() / (5 * 3)
    assert torch.allclose(g_z, expected, atol=1e-6)
    assert torch.allclose(straight_through(z_e, z_q).detach(), z_q.detach(), atol=1e-6)


def test_orthogonality_term_is_zero_when_orthogonal_one_when_coherent_and_trainable():
    eye = torch.eye(8)
    assert orthogonality_loss(eye).item() == pytest.approx(0.0, abs=1e-7)
    same = torch.ones(8, 4)
    assert orthogonality_loss(same).item() == pytest.approx(1.0, abs=1e-6)
    torch.manual_seed(1)
    vq = VectorQuantizer(16, 16)
    before = coherence(vq.codebook)[0]
    opt = torch.optim.Adam([vq.codebook], lr=1e-2)
    for _ in range(50):
        opt.zero_grad()
        orthogonality_loss(vq.codebook).backward()
        opt.step()
    assert coherence(vq.codebook)[0] < 0.5 * before


def test_usage_perplexity():
    assert usage_perplexity(torch.arange(16).repeat(4), 16) == pytest.approx(16.0)
    assert usage_perplexity(torch.zeros(10, dtype=torch.long), 16) == pytest.approx(1.0)


# ------------------------------------------------------------------------------ index link
@pytest.mark.parametrize("codebook_size", [2, 8, 16, 256])
def test_index_bits_qam_svd_round_trip_is_exact_without_noise(codebook_size):
    link = IndexLink(codebook_size, build_channel(SVD1))
    indices = torch.randint(0, codebook_size, (20, 32), generator=torch.Generator().manual_seed(2))
    assert torch.equal(link.from_bits(link.to_bits(indices)), indices)
    out = link.transmit(indices, 0.0)
    assert torch.equal(out.indices, indices) and int(out.bit_errors.sum()) == 0
    bits = 32 * sym.bits_per_index(codebook_size)
    assert link.symbols_per_message(32) == -(-bits // 4)  # packed across indices
    assert out.channel.x_hat.shape == (20, link.symbols_per_message(32))


def test_index_link_msb_first():
    link = IndexLink(16, build_channel({"type": "awgn"}))
    assert link.to_bits(torch.tensor([[1, 8]])).tolist() == [[0, 0, 0, 1, 1, 0, 0, 0]]


def test_index_link_high_and_low_snr():
    link = IndexLink(256, build_channel(SVD1))
    indices = torch.randint(0, 256, (40, 32), generator=torch.Generator().manual_seed(3))
    assert torch.equal(link.transmit(indices, 10 ** (-40 / 10)).indices, indices)
    wrong = (link.transmit(indices, 10 ** (20 / 10)).indices != indices).float().mean()
    assert wrong > 0.9


# ------------------------------------------------------------------------------ masking
def test_masking_keeps_exactly_the_count_and_uniform_positions():
    g = torch.Generator().manual_seed(4)
    pos = kept_positions(4000, 64, 0.5, g)
    assert pos.shape == (4000, 32)
    assert all(len(set(row.tolist())) == 32 for row in pos[:200])
    counts = np.bincount(pos.flatten().numpy(), minlength=64)
    assert stats.chisquare(counts).pvalue > 1e-4  # each position kept with probability 1/2
    assert kept_positions(1, 64, 0.25, g).shape == (1, 48)


def test_masking_is_regenerated_from_the_seed_and_noise_map_masks_noisy_positions():
    scores = torch.linspace(0.0, 2.0, 16)
    a = kept_positions(2000, 16, 0.5, torch.Generator().manual_seed(5), scores=scores)
    b = kept_positions(2000, 16, 0.5, torch.Generator().manual_seed(5), scores=scores)
    assert torch.equal(a, b)
    freq = np.bincount(a.flatten().numpy(), minlength=16) / 2000
    assert freq[:4].mean() > freq[-4:].mean() + 0.2  # high-noise positions are masked more
    assert np.all(np.diff(freq[::3]) < 0.05)  # and roughly monotone in the score
    plain = kept_positions(10, 16, 0.5, torch.Generator().manual_seed(6))
    tau0 = kept_positions(10, 16, 0.5, torch.Generator().manual_seed(6), scores=scores, temperature=0.0)
    assert torch.equal(plain, tau0)


@pytest.mark.parametrize("ratio", [-0.1, 1.0])
def test_masking_ratio_outside_range_is_refused(ratio):
    with pytest.raises(ValueError, match="masking ratio"):
        kept_positions(1, 16, ratio, torch.Generator())


# ------------------------------------------------------------------------------ bad input
@pytest.mark.parametrize("replace, field", [
    ("{scheme: mvqvae, patch: 8}", "{scheme: mvqvae, patch: 8, codebook_size: 100}"),
    ("{scheme: mvqvae, patch: 8}", "{scheme: mvqvae, patch: 8, masking_ratio: 1.0}"),
    ("{scheme: mvqvae, patch: 8}", "{scheme: mvqvae, patch: 15}"),
    ("sweep:", "channel: {type: mimo, nt: 8, nr: 4, precoding: svd, streams: 5}\nsweep:"),
], ids=["codebook_size", "masking_ratio", "patch", "streams"])
def test_bad_table1_and_mimo_inputs_exit_2_naming_the_field(replace, field, tmp_path, capsys, request):
    from linksim.cli import main

    name = request.node.callspec.id
    text = (REPO / "scenarios" / "mvqvae_table1_paper.yaml").read_text()
    assert replace in text
    bad = tmp_path / "bad.yaml"
    bad.write_text(text.replace(replace, field, 1))
    assert main(["validate", str(bad)]) == 2
    err = capsys.readouterr().err
    assert name in err and "Traceback" not in err, err
