"""``kind: heatmap`` figures: a matrix one system reports at one sweep point, stored in the results
and drawn (and redrawn by ``linksim plot``) with a colour bar; bad figure fields exit 2 naming them."""

from __future__ import annotations

import json
from typing import Any, Dict

import numpy as np
import pytest
import yaml

import matrix_plugin  # noqa: F401  (registers "toy_matrix")
from linksim.cli import main
from linksim.errors import UserError
from linksim.matrices import Matrix
from matrix_plugin import known_matrix

HEATMAP = {"file": "heat.pdf", "kind": "heatmap", "matrix": "known", "system": "M", "point": 1,
           "clim": [-5.0, 40.0], "cmap": "magma"}


def _scenario(**over: Any) -> Dict[str, Any]:
    base: Dict[str, Any] = {
        "name": "heat", "seed": 2, "sweep": {"parameter": "snr_db", "values": [0, 5]},
        "systems": [{"label": "M", "type": "toy_matrix"}, {"label": "Coin", "type": "toy_coin"}],
        "metrics": ["ber"], "monte_carlo": {"batch_size": 10, "max_batches": 1, "target_errors": None},
        "figures": [HEATMAP, {"file": "ber.pdf", "y": "ber"}],
    }
    base.update(over)
    return base


def _write(tmp_path, doc: Dict[str, Any]):
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(doc))
    return path


def test_the_known_matrix_is_stored_drawn_and_redrawn(tmp_path, monkeypatch):
    import matplotlib.axes

    drawn = []
    original = matplotlib.axes.Axes.imshow

    def imshow(self, values, *args, **kwargs):
        drawn.append((np.array(values), kwargs))
        return original(self, values, *args, **kwargs)

    monkeypatch.setattr(matplotlib.axes.Axes, "imshow", imshow)
    out = tmp_path / "run"
    assert main(["run", str(_write(tmp_path, _scenario())), "--out", str(out), "--no-progress"]) == 0
    stored = json.loads((out / "results.json").read_text())["provenance"]["matrices"]["M"]["known"]
    assert list(stored) == ["1"]  # only the figure's point is computed
    assert np.array_equal(Matrix.from_json(stored["1"], "x").values, known_matrix(5.0))
    values, kwargs = drawn[-1]
    assert np.array_equal(values, known_matrix(5.0))  # the matrix at sweep point 1 (5 dB), as reported
    assert (kwargs["vmin"], kwargs["vmax"], kwargs["cmap"]) == (-5.0, 40.0, "magma")
    assert (out / "heat.pdf").read_bytes().startswith(b"%PDF")
    (out / "heat.pdf").unlink()
    assert main(["plot", str(out)]) == 0  # redrawn from results.json, nothing simulated
    assert np.array_equal(drawn[-1][0], known_matrix(5.0)) and (out / "heat.pdf").exists()


def test_a_line_figure_keeps_its_scenario_hash(tmp_path):
    """Older scenarios keep their hash: the heatmap fields are left out of a line figure's resolved form."""
    from linksim.scenario import parse_scenario

    scenario = parse_scenario(_scenario(figures=[{"file": "ber.pdf", "y": "ber"}]))
    assert set(scenario.resolved()["figures"][0]) == {"file", "y", "x", "scale", "xscale", "xticks", "title",
                                                       "xlabel", "ylabel", "systems", "theory", "ci", "ylim", "kind"}


@pytest.mark.parametrize("figure, field", [
    ({**HEATMAP, "matrix": "nope"}, "figures[0].matrix"),
    ({**HEATMAP, "system": "Coin"}, "figures[0].matrix"),  # toy_coin reports no matrix
    ({**HEATMAP, "system": "Nobody"}, "figures[0].system"),
    ({**HEATMAP, "point": 2}, "figures[0].point"),
    ({**HEATMAP, "y": "ber"}, "figures[0].y"),
    ({**HEATMAP, "theory": [{"type": "ber_bpsk_awgn"}]}, "figures[0].theory"),
    ({k: v for k, v in HEATMAP.items() if k != "matrix"}, "figures[0].matrix"),
    ({**HEATMAP, "clim": [1.0, 1.0]}, "figures[0].clim"),
    ({"file": "ber.pdf", "y": "ber", "matrix": "known"}, "figures[0].matrix"),
    ({"file": "ber.pdf", "kind": "line"}, "figures[0].y"),
])
def test_bad_heatmap_fields_exit_2_naming_the_field(tmp_path, capsys, figure, field):
    assert main(["validate", str(_write(tmp_path, _scenario(figures=[figure])))]) == 2
    err = capsys.readouterr().err
    assert field in err and "Traceback" not in err


def test_results_without_the_matrix_name_the_figure_field(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["run", str(_write(tmp_path, _scenario())), "--out", str(out), "--no-progress"]) == 0
    results = json.loads((out / "results.json").read_text())
    del results["provenance"]["matrices"]
    (out / "results.json").write_text(json.dumps(results))
    capsys.readouterr()
    assert main(["plot", str(out)]) == 2
    err = capsys.readouterr().err
    assert "figures[0].matrix" in err and "Traceback" not in err


@pytest.mark.parametrize("data, message", [
    ({"values": [[1.0, 2.0], [3.0]]}, "rectangular"),
    ({"values": [[1.0, float("nan")]]}, "finite"),
    ({"values": [[1.0, 2.0]], "rows": ["a", "b"]}, "rows"),
    ([1, 2], "mapping"),
])
def test_a_damaged_stored_matrix_is_a_user_error(data, message):
    with pytest.raises(UserError, match=message):
        Matrix.from_json(data, "results.json")
