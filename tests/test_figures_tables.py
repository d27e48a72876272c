"""Fraction sweep values, figure x-axis options, parametric figures and tables."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
import yaml

import toy_plugin  # noqa: F401  (registers "toy_coin")
from linksim.cli import main
from linksim.errors import UserError
from linksim.plotting import draw_outputs, render_figure
from linksim.results import ResultStore, build_table, fraction_label, load_results, table_markdown
from linksim.runner import run_scenario
from linksim.scenario import FigureSpec, SweepSpec, TableSpec, parse_scenario

TOY = {
    "name": "toy",
    "seed": 7,
    "sweep": {"parameter": "snr_db", "values": ["1/24", "1/2.5", 10]},
    "systems": [{"label": "coin", "type": "toy_coin", "params": {"scale": 10}}],
    "metrics": ["ber", "accuracy"],
    "monte_carlo": {"batch_size": 100, "max_batches": 3, "target_errors": 10_000},
    "figures": [
        {"file": "ber.pdf", "y": "ber", "xticks": "fractions", "xscale": "log"},
        {"file": "tradeoff.pdf", "x": "ber", "y": "accuracy"},
    ],
    "tables": [{"file": "table.csv", "metrics": ["accuracy", "ber"], "format": "{:.3f}",
                "scale": {"accuracy": 100}, "labels": "fractions"}],
}


def write_yaml(path: Path, data) -> Path:
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


@pytest.fixture
def captured(monkeypatch):
    """Figures drawn by render_figure, kept open for inspection."""
    import matplotlib.pyplot as plt

    figs = []
    real_close = plt.close
    monkeypatch.setattr(plt, "close", lambda fig=None: figs.append(fig))
    yield figs
    real_close("all")


# ------------------------------------------------------------------ fraction sweep values


def test_fraction_values_parse_exactly(tmp_path):
    path = tmp_path / "s.yaml"
    path.write_text("sweep: {parameter: bandwidth_ratio, values: [1/24, 1/12, 1/6, 1/4, \"1/2.5\", 0.5, 2]}\n")
    raw = yaml.safe_load(path.read_text())
    assert raw["sweep"]["values"][0] == "1/24"  # what YAML makes of an unquoted fraction
    grid = SweepSpec.model_validate(raw["sweep"]).grid()
    assert grid == [1 / 24, 1 / 12, 1 / 6, 1 / 4, 0.4, 0.5, 2.0]
    assert grid[0] == 1 / 24 and all(isinstance(v, float) for v in grid)
    spec = SweepSpec(parameter="snr_db", values=[5], fixed={"bandwidth_ratio": "1/24", "alpha": " 3 / 4 "})
    assert spec.fixed == {"bandwidth_ratio": 1 / 24, "alpha": 0.75}
    assert spec.points() == [{"bandwidth_ratio": 1 / 24, "alpha": 0.75, "snr_db": 5.0}]


@pytest.mark.parametrize("bad", ["1/x", "1/0", "1/2/3", "", "inf"])
def test_bad_fraction_is_located(tmp_path, capsys, bad):
    path = tmp_path / "bad.yaml"
    path.write_text(
        "name: t\n"
        "sweep:\n"
        "  parameter: snr_db\n"
        "  values:\n"
        "    - 1/24\n"
        "    - 0.5\n"
        f"    - {json.dumps(bad)}\n"
        "systems: [{label: a, type: toy_coin}]\n"
        "metrics: [ber]\n"
    )
    assert main(["validate", str(path)]) == 2
    err = capsys.readouterr().err
    assert f"bad.yaml:7: sweep.values[2]: {bad!r} is not" in err, err
    assert err.count("\n") == 1


def test_bad_fixed_fraction_is_located():
    data = dict(TOY, sweep={"parameter": "snr_db", "values": [1], "fixed": {"k": "a/3"}})
    with pytest.raises(UserError, match=r"sweep\.fixed\.k: 'a/3' is not a number or a fraction"):
        parse_scenario(data)


def test_results_and_csv_keep_float_values(tmp_path):
    result = run_scenario(parse_scenario(TOY), out=tmp_path / "run", plots_dir=tmp_path / "plots", progress=False)
    stored = load_results(result.results_path)
    assert stored.scenario["sweep"]["values"] == [1 / 24, 0.4, 10.0]
    assert sorted(r.point["snr_db"] for r in stored) == [1 / 24, 0.4, 10.0]
    rows = list(csv.DictReader(open(result.csv_path)))
    assert sorted({r["snr_db"] for r in rows}) == sorted({repr(1 / 24), "0.4", "10.0"})
    # the scenario hash does not depend on how a value was written
    same = dict(TOY, sweep={"parameter": "snr_db", "values": [1 / 24, 0.4, 10]})
    assert parse_scenario(same).content_hash() == parse_scenario(TOY).content_hash()


# ------------------------------------------------------------------ x-axis options


def test_fraction_labels():
    assert [fraction_label(v) for v in [1 / 24, 1 / 12, 1 / 6, 1 / 4, 0.4]] == ["1/24", "1/12", "1/6", "1/4", "1/2.5"]
    assert [fraction_label(v) for v in [1 / 48, 0.5, 0.75, 2 / 3, 0.3, 3.0, 2.5, 0.0, -0.25]] == [
        "1/48", "1/2", "3/4", "2/3", "3/10", "3", "5/2", "0", "-1/4"]
    assert fraction_label(0.123456789) == "0.1235"  # no short form: 4 significant digits


def _store(tmp_path: Path, scenario: dict, totals: dict) -> ResultStore:
    """A store of synthetic records: ``totals[(system, point_index)] = {...}``."""
    store = ResultStore(tmp_path / "run", scenario, "synthetic")
    grid = SweepSpec.model_validate(scenario["sweep"]).grid()
    param = scenario["sweep"]["parameter"]
    for (system, i), tot in totals.items():
        rec = store.record(system, i, {param: grid[i]})
        rec.totals, rec.batches, rec.done, rec.stop_reason = dict(tot), 1, True, "max_batches"
    return store


def _acc_psnr(correct: float, psnr: float, n: float = 1000.0, spread: float = 1.0) -> dict:
    return {"correct": correct, "trials": n, "psnr_sum": psnr * n, "psnr_sumsq": (psnr**2 + spread**2) * n,
            "psnr_count": n}


RATIOS = {"parameter": "bandwidth_ratio", "values": [1 / 24, 1 / 12, 1 / 6, 1 / 4, 0.4], "fixed": {"snr_db": 5.0}}


def test_xticks_fractions_and_log_scale(tmp_path, captured):
    scenario = {"name": "r", "sweep": RATIOS, "systems": [{"label": "A", "type": "x"}], "metrics": ["psnr"]}
    store = _store(tmp_path, scenario, {("A", i): _acc_psnr(900, 15 + i) for i in range(5)})
    spec = FigureSpec(file="p.pdf", y="psnr", xscale="log", xticks="fractions")
    assert render_figure(store, spec)[:4] == b"%PDF"
    ax = captured[-1].axes[0]
    assert ax.get_xscale() == "log"
    assert list(ax.get_xticks()) == pytest.approx(RATIOS["values"])
    assert [t.get_text() for t in ax.get_xticklabels()] == ["1/24", "1/12", "1/6", "1/4", "1/2.5"]
    assert not [t.get_text() for t in ax.get_xticklabels(minor=True) if t.get_text()]
    render_figure(store, FigureSpec(file="p.pdf", y="psnr", xticks="values"))
    ax = captured[-1].axes[0]
    assert ax.get_xscale() == "linear"
    assert [t.get_text() for t in ax.get_xticklabels()] == ["0.0416667", "0.0833333", "0.166667", "0.25", "0.4"]


# ------------------------------------------------------------------ parametric figures


ALPHA = {
    "name": "tradeoff",
    "sweep": {"parameter": "alpha", "values": [0.1, 0.5, 0.9]},
    "systems": [{"label": "SemCC", "type": "x"}, {"label": "DeepSC", "type": "x"}],
    "metrics": ["accuracy", "psnr"],
    "figures": [{"file": "fig12.pdf", "x": "psnr", "y": "accuracy"}],
}


def test_parametric_figure_from_results(tmp_path, captured):
    totals = {("SemCC", 0): _acc_psnr(880, 14.0), ("SemCC", 1): _acc_psnr(870, 15.9), ("SemCC", 2): _acc_psnr(860, 16.4),
              ("DeepSC", 0): _acc_psnr(870, 12.0), ("DeepSC", 1): _acc_psnr(800, 14.0)}
    store = _store(tmp_path, ALPHA, totals)
    figures, tables = draw_outputs(store, tmp_path / "plots")
    assert figures == [tmp_path / "plots" / "fig12.pdf"] and tables == []
    assert figures[0].read_bytes()[:4] == b"%PDF"
    ax = captured[-1].axes[0]
    assert ax.get_xlabel() == "PSNR (dB)" and ax.get_ylabel() == "Accuracy"
    curves = {c.get_label(): c for c in ax.containers}
    assert set(curves) == {"SemCC", "DeepSC"}
    semcc = curves["SemCC"].lines[0]
    assert list(semcc.get_xdata()) == pytest.approx([14.0, 15.9, 16.4])
    assert list(semcc.get_ydata()) == pytest.approx([0.88, 0.87, 0.86])
    assert list(curves["DeepSC"].lines[0].get_xdata()) == pytest.approx([12.0, 14.0])
    assert sorted(t.get_text() for t in ax.texts) == ["0.1", "0.1", "0.5", "0.5", "0.9"]
    # error bars in both directions, from the confidence intervals of both metrics
    assert curves["SemCC"].has_xerr and curves["SemCC"].has_yerr
    xbars, ybars = curves["SemCC"].lines[2]
    xseg, yseg = xbars.get_segments()[1], ybars.get_segments()[1]
    assert xseg[0][0] < 15.9 < xseg[1][0] and xseg[0][1] == xseg[1][1] == pytest.approx(0.87)
    assert yseg[0][1] < 0.87 < yseg[1][1] and yseg[0][0] == yseg[1][0] == pytest.approx(15.9)


def test_parametric_figure_without_ci(tmp_path, captured):
    scenario = dict(ALPHA, figures=[{"file": "f.pdf", "x": "psnr", "y": "accuracy", "ci": False}])
    store = _store(tmp_path, scenario, {("SemCC", i): _acc_psnr(880 - i, 14.0 + i) for i in range(3)})
    draw_outputs(store, tmp_path / "plots")
    ax = captured[-1].axes[0]
    assert not ax.containers and len(ax.texts) == 3


def test_bar_figure_groups_systems_per_sweep_value(tmp_path, captured):
    scenario = dict(ALPHA, figures=[{"file": "bars.pdf", "y": "psnr", "kind": "bar"}])
    totals = {("SemCC", 0): _acc_psnr(880, 14.0), ("SemCC", 1): _acc_psnr(870, 15.9), ("SemCC", 2): _acc_psnr(860, 16.4),
              ("DeepSC", 0): _acc_psnr(870, 12.0), ("DeepSC", 2): _acc_psnr(800, 14.0)}
    figures, _ = draw_outputs(_store(tmp_path, scenario, totals), tmp_path / "plots")
    assert figures[0].read_bytes()[:4] == b"%PDF"
    ax = captured[-1].axes[0]
    bars = {c.get_label(): c for c in ax.containers if hasattr(c, "patches")}
    assert [p.get_height() for p in bars["SemCC"].patches] == pytest.approx([14.0, 15.9, 16.4])
    assert [p.get_height() for p in bars["DeepSC"].patches] == pytest.approx([12.0, 14.0])
    # DeepSC has no bar at the middle value; each group is centred on its tick
    centres = [p.get_x() + p.get_width() / 2 for p in bars["DeepSC"].patches]
    assert centres == pytest.approx([0.2, 2.2])  # the second of two systems: right of each tick
    assert [t.get_text() for t in ax.get_xticklabels()] == ["0.1", "0.5", "0.9"]


# ------------------------------------------------------------------ tables


TABLE_SCENARIO = {
    "name": "ablation",
    "sweep": {"parameter": "bandwidth_ratio", "values": [1 / 24, 1 / 12, 1 / 6], "fixed": {"snr_db": 5.0}},
    "systems": [{"label": "Baseline", "type": "x"}, {"label": "w/o. FT", "type": "x"}, {"label": "w/o. CL", "type": "x"}],
    "metrics": ["accuracy", "psnr"],
    "tables": [{"file": "table1.csv", "metrics": ["accuracy", "psnr"], "format": "{:.2f}",
                "scale": {"accuracy": 100}, "labels": "fractions"}],
}
TABLE_TOTALS = {
    ("Baseline", 0): _acc_psnr(8713, 15.87, n=10000), ("Baseline", 1): _acc_psnr(8868, 18.99, n=10000),
    ("Baseline", 2): _acc_psnr(8932, 23.60, n=10000),
    ("w/o. FT", 0): _acc_psnr(8348, 16.00, n=10000), ("w/o. FT", 1): _acc_psnr(8816, 18.97, n=10000),
    ("w/o. CL", 0): _acc_psnr(8678, 11.86, n=10000), ("w/o. CL", 2): _acc_psnr(8885, 21.28, n=10000),
}


def test_table_csv_and_markdown_cell_by_cell(tmp_path):
    store = _store(tmp_path, TABLE_SCENARIO, TABLE_TOTALS)
    figures, tables = draw_outputs(store, tmp_path / "plots")
    assert figures == [] and tables == [tmp_path / "plots" / "table1.csv", tmp_path / "plots" / "table1.md"]
    rows = list(csv.reader(open(tables[0])))
    assert rows == [
        ["metric", "system", "bandwidth_ratio=1/24", "bandwidth_ratio=1/12", "bandwidth_ratio=1/6"],
        ["accuracy", "Baseline", "87.13", "88.68", "89.32"],
        ["accuracy", "w/o. FT", "83.48", "88.16", ""],
        ["accuracy", "w/o. CL", "86.78", "", "88.85"],
        ["psnr", "Baseline", "15.87", "18.99", "23.60"],
        ["psnr", "w/o. FT", "16.00", "18.97", ""],
        ["psnr", "w/o. CL", "11.86", "", "21.28"],
    ]
    md = tables[1].read_text().splitlines()
    assert md[0] == "| metric | system | bandwidth_ratio=1/24 | bandwidth_ratio=1/12 | bandwidth_ratio=1/6 |"
    assert md[1] == "|---|---|---:|---:|---:|"
    assert md[3] == "| accuracy | w/o. FT | 83.48 | 88.16 | - |"
    assert len(md) == 8


def test_table_with_confidence_intervals(tmp_path):
    from linksim.stats import wilson_interval

    store = _store(tmp_path, TABLE_SCENARIO, TABLE_TOTALS)
    spec = TableSpec(file="t.csv", metrics=["accuracy"], systems=["w/o. FT"], format="{:.2f}",
                     scale={"accuracy": 100}, labels="fractions", interval=True)
    table = build_table(store, spec)
    assert table.header == ["metric", "system", "bandwidth_ratio=1/24", "bandwidth_ratio=1/24 ci_low",
                            "bandwidth_ratio=1/24 ci_high", "bandwidth_ratio=1/12", "bandwidth_ratio=1/12 ci_low",
                            "bandwidth_ratio=1/12 ci_high", "bandwidth_ratio=1/6", "bandwidth_ratio=1/6 ci_low",
                            "bandwidth_ratio=1/6 ci_high"]
    low, high = wilson_interval(8348, 10000)
    assert table.rows[0] == ["accuracy", "w/o. FT", "83.48", f"{100 * low:.2f}", f"{100 * high:.2f}",
                             "88.16", *table.rows[0][6:8], "", "", ""]
    assert 82.0 < 100 * low < 83.48 < 100 * high < 85.0
    md = table_markdown(table).splitlines()
    assert md[0] == "| metric | system | bandwidth_ratio=1/24 | bandwidth_ratio=1/12 | bandwidth_ratio=1/6 |"
    assert md[2] == f"| accuracy | w/o. FT | 83.48 [{100 * low:.2f}, {100 * high:.2f}] | " \
                    f"88.16 [{table.rows[0][6]}, {table.rows[0][7]}] | - |"


def test_table_defaults_and_selection(tmp_path):
    store = _store(tmp_path, TABLE_SCENARIO, TABLE_TOTALS)
    spec = TableSpec(file="t.csv", metrics=["psnr"], systems=["w/o. CL", "Baseline"])
    table = build_table(store, spec)
    assert table.header == ["metric", "system", "bandwidth_ratio=0.0416667", "bandwidth_ratio=0.0833333",
                            "bandwidth_ratio=0.166667"]
    assert [r[:2] for r in table.rows] == [["psnr", "w/o. CL"], ["psnr", "Baseline"]]
    assert float(table.rows[1][2]) == pytest.approx(15.87, abs=1e-12)  # full precision by default
    assert table.rows[0][3] == ""
    assert table.md_rows[1][2] == "15.87"


def test_table_mean_std_cells_and_column_labels(tmp_path):
    """Table II's cells: 'mean +- std' over seeds for accuracy_seeds, a plain value for a pooled metric."""
    scenario = {"name": "t2", "sweep": {"parameter": "attribute", "values": [0, 1], "fixed": {"snr_db": 12}},
                "systems": [{"label": "DP", "type": "x"}], "metrics": ["accuracy_seeds", "accuracy"]}
    seeds = {"trials_per_seed": 200.0, "correct_seed0": 150.0, "correct_seed1": 160.0, "correct_seed2": 170.0,
             "correct": 480.0, "trials": 600.0}
    store = _store(tmp_path, scenario, {("DP", 0): seeds, ("DP", 1): {**seeds, "correct_seed2": 150.0}})
    spec = TableSpec(file="t.csv", metrics=["accuracy_seeds", "accuracy"], format="{:.1f}",
                     scale={"accuracy_seeds": 100, "accuracy": 100}, cell="mean_std",
                     column_labels=["occluded", "noisy"])
    table = build_table(store, spec)
    assert table.header == ["metric", "system", "occluded", "noisy"]
    # seeds 75, 80, 85 %: mean 80, std 5; seeds 75, 80, 75 %: mean 76.67, std 2.89
    assert table.rows[0] == ["accuracy_seeds", "DP", "80.0 +- 5.0", "76.7 +- 2.9"]
    assert table.rows[1] == ["accuracy", "DP", "80.0", "80.0"]
    assert table_markdown(table).splitlines()[2] == "| accuracy_seeds | DP | 80.0 ± 5.0 | 76.7 ± 2.9 |"


def test_column_labels_must_match_the_sweep(tmp_path, capsys):
    data = dict(TOY, tables=[{"file": "t.csv", "metrics": ["ber"], "column_labels": ["a", "b"]}])
    path = write_yaml(tmp_path / "bad.yaml", data)
    assert main(["validate", str(path)]) == 2
    err = capsys.readouterr().err
    assert "tables[0].column_labels: 2 labels for 3 sweep values" in err and "Traceback" not in err


def test_new_table_fields_at_their_defaults_keep_the_scenario_hash():
    plain = parse_scenario(TOY)
    explicit = parse_scenario({**TOY, "tables": [{**TOY["tables"][0], "cell": "value"}]})
    assert plain.content_hash() == explicit.content_hash()
    assert "cell" not in plain.resolved()["tables"][0]
    changed = parse_scenario({**TOY, "tables": [{**TOY["tables"][0], "cell": "mean_std"}]})
    assert changed.content_hash() != plain.content_hash()


# ------------------------------------------------------------------ scenario checks


CHECKS = [
    ({"figures": [{"file": "a.pdf", "y": "ber", "x": "psnr"}]},
     "figures[0].x: 'psnr' is neither the swept parameter 'snr_db' nor one of the scenario's metrics (ber, accuracy)"),
    ({"figures": [{"file": "a.pdf", "y": "ber", "x": "accuracy", "xticks": "fractions"}]},
     "figures[0].xticks: 'fractions' needs x to be the swept parameter"),
    ({"figures": [{"file": "a.pdf", "y": "ber", "xscale": "semilog"}]}, "figures[0].xscale"),
    ({"figures": [{"file": "a.pdf", "y": "ber", "x": "accuracy", "kind": "bar"}]},
     "figures[0].kind: bar needs x to be the swept parameter"),
    ({"figures": [{"file": "a.pdf", "y": "ber", "kind": "pie"}]}, "figures[0].kind"),
    ({"figures": [{"file": "a.pdf", "y": "ber", "xticks": "nice"}]}, "figures[0].xticks"),
    ({"tables": [{"file": "t.csv", "metrics": ["ber", "psnr"]}]},
     "tables[0].metrics[1]: 'psnr' is not one of the scenario's metrics"),
    ({"tables": [{"file": "t.csv", "metrics": ["ber"], "systems": ["coin", "dice"]}]},
     "tables[0].systems[1]: no system labelled 'dice'"),
    ({"tables": [{"file": "t.csv", "metrics": ["ber"], "scale": {"accuracy": 100}}]},
     "tables[0].scale.accuracy: 'accuracy' is not one of this table's metrics"),
    ({"tables": [{"file": "t.csv", "metrics": ["ber"], "format": "{:.2q}"}]}, "tables[0].format"),
    ({"tables": [{"file": "t.txt", "metrics": ["ber"]}]}, "tables[0].file"),
    ({"tables": [{"file": "t.csv", "metrics": []}]}, "tables[0].metrics"),
]


@pytest.mark.parametrize("patch,expected", CHECKS)
def test_figure_and_table_checks(tmp_path, capsys, patch, expected):
    data = {**TOY, **patch}
    if "figures" in patch:
        data.pop("tables")
    path = write_yaml(tmp_path / "bad.yaml", data)
    assert main(["validate", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("linksim: error: ") and expected in err, err
    assert "Traceback" not in err and err.count("\n") == 1


def test_check_error_names_the_line(tmp_path, capsys):
    data = dict(TOY, tables=[{"file": "t.csv", "metrics": ["ber"]}, {"file": "u.csv", "metrics": ["ber", "ssim"]}])
    path = write_yaml(tmp_path / "bad.yaml", data)
    lines = path.read_text().splitlines()
    line = next(i for i, text in enumerate(lines, 1) if "ssim" in text)
    assert main(["validate", str(path)]) == 2
    assert f"bad.yaml:{line}: tables[1].metrics[1]" in capsys.readouterr().err


def test_metric_x_is_accepted():
    scenario = parse_scenario(TOY)
    assert scenario.figures[1].x == "ber" and scenario.tables[0].scale == {"accuracy": 100}


# ------------------------------------------------------------------ run and plot


def test_run_writes_and_plot_redraws_figures_and_tables(tmp_path, capsys):
    path = write_yaml(tmp_path / "s.yaml", TOY)
    plots = tmp_path / "plots"
    assert main(["run", str(path), "--out", str(tmp_path / "run"), "--plots", str(plots), "--no-progress"]) == 0
    names = sorted(p.name for p in plots.iterdir())
    assert names == ["ber.pdf", "table.csv", "table.md", "tradeoff.pdf"]
    table = (plots / "table.csv").read_text()
    assert table.splitlines()[0] == "metric,system,snr_db=1/24,snr_db=1/2.5,snr_db=10"
    rows = list(csv.reader(table.splitlines()))
    assert float(rows[1][2]) + 100 * float(rows[2][2]) == pytest.approx(100, abs=0.051)  # accuracy % + ber (3 decimals)
    capsys.readouterr()

    replot = tmp_path / "replot"
    assert main(["plot", str(tmp_path / "run" / "results.json"), "--plots", str(replot)]) == 0
    out = capsys.readouterr().out
    assert "figure:  " in out and f"table:   {replot / 'table.csv'}" in out
    assert sorted(p.name for p in replot.iterdir()) == names
    assert (replot / "table.csv").read_text() == table
    assert (replot / "tradeoff.pdf").read_bytes()[:4] == b"%PDF"


def test_plot_on_bad_input_keeps_earlier_files(tmp_path, capsys):
    path = write_yaml(tmp_path / "s.yaml", TOY)
    plots = tmp_path / "plots"
    assert main(["run", str(path), "--out", str(tmp_path / "run"), "--plots", str(plots), "--no-progress"]) == 0
    before = {p.name: p.read_bytes() for p in plots.iterdir()}
    results = tmp_path / "run" / "results.json"
    good = results.read_text()
    payload = json.loads(good)
    payload["scenario"]["tables"][0]["metrics"] = ["accuracy", "ssim"]  # the last output is bad
    results.write_text(json.dumps(payload))
    capsys.readouterr()
    assert main(["plot", str(results), "--plots", str(plots)]) == 2
    err = capsys.readouterr().err
    assert "tables[0].metrics[1]: 'ssim' is not one of the scenario's metrics" in err, err
    payload["scenario"]["tables"][0]["metrics"] = ["accuracy"]
    payload["scenario"]["figures"][1]["xticks"] = "sometimes"
    results.write_text(json.dumps(payload))
    assert main(["plot", str(results), "--plots", str(plots)]) == 2
    assert "figures[1].xticks" in capsys.readouterr().err
    results.write_text(good[: len(good) // 2])  # truncated
    assert main(["plot", str(results), "--plots", str(plots)]) == 2
    assert "not a linksim results file" in capsys.readouterr().err
    assert {p.name: p.read_bytes() for p in plots.iterdir()} == before  # nothing rewritten, nothing left over
