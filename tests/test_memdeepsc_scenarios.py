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


def test_a_multi_block_sentence_sees_one_fade_under_block_coherence():
    """Under ``coherence: block`` the blocks of one message share a channel row (one fade),
    as a learned link's sentence does; under AWGN the blocks go out one per row as before."""
    import sionna.phy

    from linksim.phy.channels import build_channel
    from linksim.phy.codes import build_code
    from linksim.phy.link import CodedModulationLink
    from linksim.phy.modulation import Modulation
    from linksim.source.payload import send_payloads, utf8_decode, utf8_encode

    texts = ["where is mary?", "john went back to the hallway and picked up the football there.", "yes"]
    for channel_spec, expected_rows in (({"type": "rayleigh", "coherence": "block"}, [(2, 195), (1, 390)]),
                                        ({"type": "awgn"}, [(4, 195)])):
        channel = build_channel(channel_spec)
        seen = []

        def spy(x, no, _channel=channel, _seen=seen):
            _seen.append(tuple(x.shape))
            return _channel(x, no)

        link = CodedModulationLink(build_code({"type": "turbo", "k": 256}), Modulation(16), channel)
        link.channel = spy
        link.channel.params = getattr(channel, "params", None)
        sionna.phy.config.seed = 5
        got = send_payloads(link, [utf8_encode(t) for t in texts], 40.0)
        assert seen == expected_rows, channel_spec
        assert [utf8_decode(p) for p in got.payloads] == texts
        assert got.symbols.tolist() == [195, 390, 195]


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


def test_official_format_files_of_several_tasks_run_end_to_end(tmp_path):
    """``source: official`` on files in the en-10k layout (four task types, written by the
    generator) through the runner: both Mem-DeepSC systems, per-task accuracy, its table."""
    import csv

    from linksim.data.babi_generator import write_generated_dataset
    from linksim.runner import run_scenario
    from linksim.scenario import parse_scenario

    tasks = [1, 2, 8, 15]
    write_generated_dataset(tmp_path / "babi", tasks, num_train=40, num_test=10, seed=3)
    per_task = [f"accuracy_task{t}" for t in tasks]
    scenario = parse_scenario({
        "name": "md-official", "seed": 1,
        "data": {"type": "babi", "source": "official", "path": str(tmp_path / "babi"), "tasks": tasks,
                 "num_train": 30, "num_valid": 10, "num_test": 10},
        "channel": {"type": "rician", "k_factor": 2, "coherence": "block"},
        "sweep": {"parameter": "snr_db", "values": [0, 15]},
        "systems": [{"label": "mem", "type": "memdeepsc"}, {"label": "utf8", "type": "memdeepsc_digital"}],
        "metrics": ["accuracy", *per_task],
        "monte_carlo": {"batch_size": 40, "max_batches": 1, "quick": {"batch_size": 40, "max_batches": 1}},
        "tables": [{"file": "per_task.csv", "metrics": per_task, "interval": True}],
    })
    result = run_scenario(scenario, out=tmp_path / "run", quick=True, cache_dir=tmp_path / "cache", progress=False)
    assert "official" in result.store.provenance["systems"]["mem"]["data"]["source"]
    for rec in result.store:
        assert sum(rec.totals[f"trials_task{t}"] for t in tasks if f"trials_task{t}" in rec.totals) == 40
    rows = list(csv.DictReader(open(result.tables[0])))
    assert [(r["metric"], r["system"]) for r in rows] == [(m, s) for m in per_task for s in ("mem", "utf8")]
    for row in rows:
        if row["snr_db=15"]:
            assert float(row["snr_db=15 ci_low"]) <= float(row["snr_db=15"]) <= float(row["snr_db=15 ci_high"])
