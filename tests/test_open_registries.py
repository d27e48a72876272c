"""Open extension points: what used to be fixed tables is now asked of the components."""

from __future__ import annotations

import math

import pytest

from linksim.errors import UserError
from linksim.phy import theory
from linksim.phy.channels import build_channel
from linksim.plotting import axis_label
from linksim.registry import builtin_modules, source_codecs
from linksim.scenario import parse_scenario
from linksim.systems.image_digital import capacity_bits
from linksim.systems.semcc.methods import METHODS, TrainingMethod, register_method


def test_channels_state_their_capacity():
    assert build_channel({"type": "awgn"}).capacity(20.0) == pytest.approx(math.log2(101))
    assert build_channel({"type": "rayleigh"}).capacity(5.0) == pytest.approx(float(theory.capacity_rayleigh(5.0)))
    rician = build_channel({"type": "rician", "k_factor": 3.0})
    assert rician.capacity(5.0) == pytest.approx(float(theory.capacity_rician(5.0, 3.0)))
    assert build_channel({"type": "mimo", "nt": 2, "nr": 2}).capacity(5.0) is None
    assert capacity_bits(128, 20.0, {"type": "awgn"}) == math.floor(128 * math.log2(101))
    with pytest.raises(UserError, match="no capacity formula for 'mimo'"):
        capacity_bits(128, 20.0, {"type": "mimo", "nt": 2, "nr": 2})


def test_source_codecs_are_a_registry():
    assert {"bpg", "jpeg"} <= set(source_codecs.names())
    images = {
        "name": "codec", "data": {"type": "images", "num_train": 8, "num_test": 4},
        "sweep": {"parameter": "bpp", "values": [0.5]},
        "systems": [{"label": "x", "type": "image_codec", "params": {"codec": "webp"}}],
        "metrics": ["psnr"],
    }
    with pytest.raises(UserError, match=r"systems\[0\]\.params\.codec: unknown source codec 'webp'; registered: bpg"):
        parse_scenario(images)


def test_training_methods_are_a_registry():
    assert set(METHODS) >= {"deepjscc", "deepsc", "semcc", "semre"}

    @register_method
    class Reconstruct(TrainingMethod):
        """A plugin's method: the registry takes it, the system validates its name."""

        name = "toy_method"
        title = "Toy"
        needs_labels = False
        alpha_sets_alpha1 = None

        def train(self, job):  # pragma: no cover - not trained here
            raise AssertionError

    try:
        data = {"name": "m", "data": {"type": "images", "num_train": 8, "num_test": 4},
                "sweep": {"parameter": "bandwidth_ratio", "values": [1 / 12], "fixed": {"snr_db": 5}},
                "systems": [{"label": "t", "type": "image_jscc", "params": {"method": "toy_method"}}],
                "metrics": ["psnr"]}
        parse_scenario(data)
        with pytest.raises(UserError, match="unknown training method 'nope'"):
            parse_scenario({**data, "systems": [{"label": "t", "type": "image_jscc", "params": {"method": "nope"}}]})
    finally:
        del METHODS["toy_method"]


def test_axis_labels_come_from_metrics_and_systems():
    scenario = {"systems": [{"type": "bit_link"}, {"type": "image_jscc"}]}
    assert axis_label("ber", scenario) == "BER"
    assert axis_label("psnr", scenario) == "PSNR (dB)"
    assert axis_label("ebno_db", scenario) == "$E_b/N_0$ (dB)"
    assert axis_label("bandwidth_ratio", scenario) == "Bandwidth ratio $k/n$"
    assert axis_label("unknown_param", scenario) == "unknown_param"


def test_builtin_components_are_discovered_not_listed():
    names = builtin_modules()
    assert "linksim.systems.semcc.jscc" in names and "linksim.phy.link" in names
    assert "linksim.source.image_codec" in names
