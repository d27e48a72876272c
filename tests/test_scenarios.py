"""Every shipped scenario runs end to end in --quick mode and draws its figures."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from linksim.cli import main

REPO = Path(__file__).resolve().parents[1]
SCENARIOS = sorted((REPO / "scenarios").glob("*.yaml"))


def test_there_are_shipped_scenarios():
    names = {p.name for p in SCENARIOS}
    assert {"ber_qam_awgn.yaml", "ldpc_awgn.yaml", "turbo_rician.yaml", "mimo_8x4.yaml"} <= names


@pytest.mark.parametrize("path", SCENARIOS, ids=lambda p: p.stem)
def test_scenario_runs_in_quick_mode(path, tmp_path, capsys, fetched_data):
    fetched_data(path)
    out, plots = tmp_path / "run", tmp_path / "plots"
    code = main(["run", str(path), "--quick", "--out", str(out), "--plots", str(plots), "--no-progress"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    rows = list(csv.DictReader(open(out / "results.csv")))
    assert rows, "no results"
    pdfs = sorted(plots.glob("*.pdf"))
    assert pdfs and all(p.read_bytes()[:4] == b"%PDF" for p in pdfs)
