"""Modulation: unit energy, noiseless round trips, LLR sign and scale, padding helpers."""

from __future__ import annotations

import math

import pytest
import sionna
import torch

from linksim.phy.modulation import MODULATION_ORDERS, Modulation


@pytest.fixture(autouse=True)
def _seed() -> None:
    sionna.phy.config.seed = 1234


def _bits(*shape: int) -> torch.Tensor:
    return torch.randint(0, 2, shape, generator=sionna.phy.config.torch_rng("cpu")).float()


@pytest.mark.parametrize("order", MODULATION_ORDERS)
def test_unit_energy_and_noiseless_round_trip(order: int) -> None:
    mod = Modulation(order)
    m = mod.bits_per_symbol
    assert m == int(math.log2(order)) and mod.points.shape == (order,)
    assert mod.points.abs().square().mean().item() == pytest.approx(1.0, abs=1e-5)
    assert len(set(mod.points.tolist())) == order
    bits = _bits(2, 3, 50 * m)
    x = mod.map(bits)
    assert x.shape == (2, 3, 50) and x.dtype == torch.complex64
    llr = mod.demap(x, 1e-3)
    assert llr.shape == bits.shape
    # Sionna's convention: LLR = log(P(b=1)/P(b=0)) > 0 means "bit 1".
    assert torch.equal((llr > 0).float(), bits)


def test_bpsk_mapping_and_llr_value() -> None:
    mod = Modulation(2)
    x = mod.map(torch.tensor([0.0, 1.0]))
    assert torch.equal(x, torch.tensor([1 + 0j, -1 + 0j], dtype=torch.complex64))
    y = torch.tensor([0.3 + 0.7j, -1.2 - 0.1j], dtype=torch.complex64)
    no = 0.5
    # Complex noise of variance no: llr = -4 Re(y) / no (imaginary part carries nothing).
    assert torch.allclose(mod.demap(y, no), -4 * y.real / no, atol=1e-5)


def test_qpsk_llr_closed_form() -> None:
    mod = Modulation(4)
    y = torch.randn(100, dtype=torch.complex64, generator=sionna.phy.config.torch_rng("cpu"))
    no = 0.3
    llr = mod.demap(y, no).reshape(100, 2)
    scale = -2 * math.sqrt(2) / no
    assert torch.allclose(llr[:, 0], scale * y.real, atol=1e-4)
    assert torch.allclose(llr[:, 1], scale * y.imag, atol=1e-4)


def test_per_symbol_noise_variance() -> None:
    mod = Modulation(2)
    y = torch.ones(2, 4, dtype=torch.complex64)
    no_eff = torch.tensor([[0.5, 1.0, 2.0, 4.0], [1.0, 1.0, 1.0, 1.0]])
    llr = mod.demap(y, no_eff)
    assert torch.allclose(llr, -4 / no_eff)
    per_block = mod.demap(y, torch.tensor([[1.0], [2.0]]))
    assert torch.allclose(per_block, torch.tensor([[-4.0] * 4, [-2.0] * 4]))


def test_llr_magnitude_grows_with_snr_and_maxlog_agrees_in_sign() -> None:
    mod, maxlog = Modulation(16), Modulation(16, demapping_method="maxlog")
    bits = _bits(400)
    x = mod.map(bits)
    low, high = mod.demap(x, 0.1).abs().mean(), mod.demap(x, 0.01).abs().mean()
    assert high > 5 * low
    assert torch.equal((maxlog.demap(x, 0.01) > 0).float(), bits)


@pytest.mark.parametrize("order, num_bits, symbols, pad", [(2, 7, 7, 0), (4, 7, 4, 1), (16, 10, 3, 2), (64, 12, 2, 0), (256, 1, 1, 7)])
def test_padding_helpers(order: int, num_bits: int, symbols: int, pad: int) -> None:
    mod = Modulation(order)
    assert mod.num_symbols(num_bits) == symbols
    assert mod.num_pad_bits(num_bits) == pad
    bits = torch.ones(3, num_bits)
    padded = mod.pad_bits(bits)
    assert padded.shape == (3, num_bits + pad)
    assert torch.equal(padded[:, :num_bits], bits) and not padded[:, num_bits:].any()
    assert mod.map(padded).shape == (3, symbols)


def test_invalid_order_and_length() -> None:
    for order in (0, 3, 8, 32, 128, True):
        with pytest.raises(ValueError, match="not supported"):
            Modulation(order)
    with pytest.raises(ValueError, match="multiple"):
        Modulation(16).map(torch.zeros(6))
    with pytest.raises(ValueError):
        Modulation(4, demapping_method="exact")
    assert Modulation(64).name == "64-QAM" and Modulation(4).name == "QPSK" and Modulation(2).name == "BPSK"
