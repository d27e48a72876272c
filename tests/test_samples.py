"""Sample-image grids (``samples:``): collected after the sweep, drawn as a PDF, redrawn by ``linksim plot``."""

from __future__ import annotations

import numpy as np
import pytest
import yaml

from linksim.cli import main
from linksim.samples import SAMPLES_FILE, load_samples

SCENARIO = {
    "name": "samples_tiny", "seed": 1,
    "data": {"type": "images", "source": "embedded"},
    "channel": {"type": "awgn"},
    "sweep": {"parameter": "snr_db", "values": [4, 12]},
    "systems": [{"label": "DP", "type": "privacy_tosc", "params": {"scheme": "dp", "dp": {"calibration": "scale"}}},
                {"label": "Enc", "type": "privacy_tosc", "params": {"scheme": "encryption"}}],
    "metrics": ["mi_leakage"],
    "monte_carlo": {"batch_size": 4, "max_batches": 1, "target_errors": None},
    "samples": [{"file": "grid.pdf", "systems": ["DP", "Enc"], "point": 1, "images": 3}],
}


def test_a_grid_is_collected_drawn_and_redrawn(tmp_path, capsys):
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(SCENARIO))
    out = tmp_path / "run"
    assert main(["run", str(path), "--quick", "--out", str(out), "--cache", str(tmp_path / "cache"),
                 "--no-progress"]) == 0
    grids = load_samples(out)
    grid = grids["grid.pdf"]
    assert grid["point"] == {"snr_db": 12.0}
    assert grid["original"].shape == (3, 32, 32, 3) and grid["original"].dtype == np.uint8
    assert [label for label, _, _ in grid["rows"]] == ["DP", "Enc"]
    assert all(images.shape == (3, 32, 32, 3) and len(notes) == 3 and "MI" in notes[0]
               for _, images, notes in grid["rows"])
    pdf = out / "grid.pdf"
    assert pdf.read_bytes().startswith(b"%PDF")
    pdf.unlink()
    (out / "results.csv").unlink()
    assert main(["plot", str(out)]) == 0  # from samples.npz, nothing simulated
    assert pdf.exists() and (out / SAMPLES_FILE).exists()


@pytest.mark.parametrize("samples, field", [
    ([{"file": "grid.pdf", "systems": ["Nope"]}], "samples[0].systems[0]"),
    ([{"file": "grid.pdf", "systems": ["DP"], "point": 2}], "samples[0].point"),
    ([{"file": "grid.pdf", "systems": ["Link"]}], "samples[0].systems[0]"),
    ([{"file": "grid.png", "systems": ["DP"]}], "samples[0].file"),
])
def test_bad_samples_exit_2_naming_the_field(tmp_path, capsys, samples, field):
    doc = {**SCENARIO, "samples": samples,
           "systems": SCENARIO["systems"] + [{"label": "Link", "type": "image_jscc",
                                               "params": {"method": "deepjscc", "bandwidth_ratio": 0.25}}]}
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(doc))
    assert main(["validate", str(path)]) == 2
    err = capsys.readouterr().err
    assert field in err and "Traceback" not in err
