"""Mem-DeepSC scenarios: validation of bad input and the digital benchmark's symbol count."""

from __future__ import annotations

import pytest
import yaml

from linksim.cli import main

BASE = {
    "name": "md",
    "data": {"type": "babi", "source": "embedded", "tasks": [1], "num_train": 50, "num_valid": 10, "num_test": 20},
    "channel": {"type": "awgn"},
    "sweep": {"values": [0, 10]},
    "systems": [{"label": "a", "type": "memdeepsc"}],
    "metrics": ["accuracy"],
}


@pytest.mark.parametrize("patch,expected", [
    ({"data": {**BASE["data"], "tasks": [21]}}, "data.tasks"),
    ({"systems": [{"label": "a", "type": "memdeepsc", "params": {"mask": "random", "keep_ratio": 1.5}}]},
     "systems[0].params.keep_ratio"),
    ({"systems": [{"label": "a", "type": "memdeepsc", "params": {"mask": "random", "keep_ratio": 0.0}}]},
     "systems[0].params.keep_ratio"),
    ({"systems": [{"label": "a", "type": "memdeepsc_digital", "params": {"mask": "importance"}}]},
     "systems[0].params.mask"),
    ({"channel": {"type": "mimo", "nt": 3, "nr": 4}}, "systems[0].params.symbols"),
])
def test_bad_memdeepsc_scenarios_exit_2(tmp_path, capsys, patch, expected):
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump({**BASE, **patch}))
    assert main(["validate", str(path)]) == 2
    err = capsys.readouterr().err
    assert expected in err and "Traceback" not in err, err


def test_typical_sentence_costs_195_symbols_with_turbo_16qam():
    """UTF-8 'mary moved to the bathroom.' = 216 bits -> one k=256 Turbo block ->
    780 code bits -> 195 16-QAM symbols (the paper's "about 190")."""
    from linksim.phy.channels import build_channel
    from linksim.phy.codes import build_code
    from linksim.phy.modulation import Modulation
    from linksim.source.payload import symbols_for_payload, utf8_encode
    from linksim.phy.link import CodedModulationLink

    link = CodedModulationLink(build_code({"type": "turbo", "k": 256}), Modulation(16), build_channel({"type": "awgn"}))
    assert symbols_for_payload(len(utf8_encode("mary moved to the bathroom.")), link) == 195
    assert symbols_for_payload(33, link) == 2 * 195  # 264 bits need two blocks


def test_payload_round_trip_at_high_snr():
    import sionna.phy

    from linksim.phy.channels import build_channel
    from linksim.phy.codes import build_code
    from linksim.phy.modulation import Modulation
    from linksim.source.payload import send_payloads, utf8_decode, utf8_encode
    from linksim.phy.link import CodedModulationLink

    sionna.phy.config.seed = 3
    link = CodedModulationLink(build_code({"type": "turbo", "k": 256}), Modulation(16), build_channel({"type": "awgn"}))
    texts = ["where is mary?", "john went back to the hallway and picked up the football there."]
    for snr_db in (10.0, 30.0):
        got = send_payloads(link, [utf8_encode(t) for t in texts], snr_db)
        assert [utf8_decode(p) for p in got.payloads] == texts and got.intact.all()
    garbled = send_payloads(link, [utf8_encode(t) for t in texts], -5.0)
    assert not garbled.intact.any() and garbled.bit_errors.sum() > 0


def test_evaluation_uses_the_scenario_channel_not_the_training_channel(tmp_path):
    """``train_channel`` changes what the model trains on, never what it is tested on."""
    from linksim.assembly import Runtime, build_system
    from linksim.phy.channels import RicianChannel
    from linksim.scenario import parse_scenario

    data = {**BASE, "channel": {"type": "rician", "k_factor": 2, "csi": {"type": "imperfect", "error_variance": 0.1}},
            "systems": [{"label": "a", "type": "memdeepsc", "params": {"train_channel": {"type": "awgn"}}}]}
    scenario = parse_scenario(data).with_quick()
    system = build_system(scenario, 0, Runtime(cache_dir=tmp_path, quick=True))
    system.setup()
    used = system.model.channel.channel
    assert isinstance(used, RicianChannel) and used.params.csi.type == "imperfect"
