"""Simulated uncoded BER of the classical link lies inside the CI of closed-form theory.

The interval is a Student-t interval over independent batches (batch means), which is
valid although the bits of one QAM symbol are not independent. Hard decisions use the
max-log demapper, i.e. nearest-point detection, which the exact (Cho-Yoon) formulas
describe. Each case also checks that theory 0.5 dB off is rejected, so the test can fail.
"""

from __future__ import annotations

import numpy as np
import pytest
import sionna.phy
import torch
from scipy import stats

import linksim  # noqa: F401
from linksim.phy.channels import build_channel
from linksim.phy.codes import build_code
from linksim.phy.modulation import Modulation
from linksim.phy.theory import ber_qam_awgn, ber_qam_rayleigh
from linksim.phy.link import CodedModulationLink

BATCHES, BLOCKS, K = 12, 100, 1200

CASES = [
    ("awgn", 2, 6.0), ("awgn", 4, 8.0), ("awgn", 16, 12.0), ("awgn", 64, 16.0), ("awgn", 256, 22.0),
    ("rayleigh", 2, 10.0), ("rayleigh", 4, 15.0), ("rayleigh", 16, 18.0), ("rayleigh", 64, 22.0),
]


def simulate_batches(channel: str, order: int, snr_db: float) -> np.ndarray:
    link = CodedModulationLink(build_code({"type": "uncoded", "k": K}), Modulation(order, "maxlog"),
                               build_channel({"type": channel}))
    out = []
    for b in range(BATCHES):
        sionna.phy.config.seed = 1000 + b
        u = torch.randint(0, 2, (BLOCKS, K), generator=sionna.phy.config.torch_rng("cpu")).float()
        out.append((link.transmit(u, snr_db) != u).float().mean().item())
    return np.array(out)


@pytest.mark.parametrize("channel,order,snr_db", CASES)
def test_uncoded_ber_matches_theory(channel, order, snr_db):
    theory = {"awgn": ber_qam_awgn, "rayleigh": ber_qam_rayleigh}[channel]
    ber = simulate_batches(channel, order, snr_db)
    mean, sem = ber.mean(), ber.std(ddof=1) / np.sqrt(len(ber))
    half = stats.t.ppf(0.995, len(ber) - 1) * sem  # 99 % interval: 9 cases, few false alarms
    expected = float(theory(np.array([snr_db]), order=order)[0])
    assert abs(mean - expected) <= half, (mean, expected, half)
    for off in (-0.5, 0.5):
        wrong = float(theory(np.array([snr_db + off]), order=order)[0])
        assert abs(mean - wrong) > half, "the interval is too wide to detect a 0.5 dB error"
