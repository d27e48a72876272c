"""How the shipped weights travel: the manifest, the companion distribution, the CLI.

* ``linksim/weights/MANIFEST.json`` agrees with every file (SHA-256) and its record, and
  lists exactly the weights the shipped scenarios use (no dead weight, nothing missing);
* an installed companion distribution ``linksim_weights`` is searched after the source
  tree and before training, with the same SHA-256 check;
* ``linksim train --ship`` keeps the manifest current; ``linksim weights verify`` fails
  (exit 2, naming the file) when a file no longer matches.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from linksim.cli import main
from linksim.weights import SHIPPED_DIR, WeightStore, shipped_roots
from linksim.weights_manifest import MANIFEST_NAME, manifest_problems, read_manifest, readable_name, write_manifest

PINS = Path(__file__).parent / "fixtures" / "shipped_weight_keys.json"


def _tiny_model(units: int = 3):
    import keras

    return keras.Sequential([keras.Input((4,)), keras.layers.Dense(units)])


def test_the_committed_manifest_matches_every_file_and_record():
    assert manifest_problems(SHIPPED_DIR) == []


def test_the_manifest_lists_exactly_the_weights_the_shipped_scenarios_use():
    pins = json.loads(PINS.read_text())
    used = {key for systems in pins.values() for entry in systems.values() for key in entry["weights"]}
    listed = {f"{entry['kind']}/{entry['key']}" for entry in read_manifest(SHIPPED_DIR)["files"]}
    assert sorted(used - listed) == [], "pinned weights that are not shipped"
    assert sorted(listed - used) == [], "shipped weights no scenario uses (git rm them and rewrite the manifest)"


def test_readable_names_say_scenario_model_and_point():
    record = {"command": "linksim train scenarios/semcc_awgn_20db.yaml --ship", "model": "image_jscc semcc",
              "k": 8, "train_snr_db": 20.0}
    assert readable_name(record) == "semcc_awgn_20db: image_jscc semcc, k=8, 20 dB"
    record = {"command": "linksim train scenarios/scu_edr.yaml", "method": "HBU", "k": 49, "train_snr_db": 5.0,
              "erased_ratio": 0.04}
    assert readable_name(record) == "scu_edr: HBU, k=49, 5 dB, EDR 4 %"


def _companion(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An installed ``linksim_weights`` (a folder on sys.path) holding toy weights ``k1``, shipped from a cache."""
    source = WeightStore(tmp_path / "trainer-cache", "toy")
    source.shipped_dir = tmp_path / "site" / "linksim_weights" / "toy"
    source.save(_tiny_model(), "k1", {"model": "toy dense"})
    source.ship("k1", "linksim train scenarios/toy.yaml --ship")
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    for name in [m for m in sys.modules if m == "linksim_weights" or m.startswith("linksim_weights.")]:
        monkeypatch.delitem(sys.modules, name)
    return tmp_path / "site" / "linksim_weights"


def test_an_installed_companion_is_searched_after_the_source_tree(tmp_path, monkeypatch):
    root = _companion(tmp_path, monkeypatch)
    assert shipped_roots()[-1] == root.resolve()
    if SHIPPED_DIR.is_dir():
        assert shipped_roots()[0] == SHIPPED_DIR
    store = WeightStore(tmp_path / "user-cache", "toy")
    found = store.find("k1")
    assert found == root.resolve() / "toy" / "k1.weights.h5"
    assert store.is_shipped(found)
    store.load_into(_tiny_model(), found)
    entry = read_manifest(root)["files"][0]
    assert entry["path"] == "toy/k1.weights.h5" and entry["name"] == "toy: toy dense"
    assert manifest_problems(root) == []


def test_a_damaged_companion_file_is_refused_and_verify_names_it(tmp_path, monkeypatch, capsys):
    root = _companion(tmp_path, monkeypatch)
    path = root / "toy" / "k1.weights.h5"
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    assert WeightStore(tmp_path / "user-cache", "toy").find("k1") is None
    monkeypatch.setattr("linksim.weights.SHIPPED_DIR", tmp_path / "no-source-tree")
    assert main(["weights", "verify"]) == 2
    err = capsys.readouterr().err
    assert "toy/k1.weights.h5" in err and "SHA-256" in err and "Traceback" not in err


def test_verify_and_manifest_of_a_source_tree(tmp_path, monkeypatch, capsys):
    source = tmp_path / "weights"
    store = WeightStore(tmp_path / "cache", "toy")
    store.shipped_dir = source / "toy"
    store.save(_tiny_model(), "k2", {})
    store.ship("k2", "linksim train scenarios/toy.yaml --ship")
    monkeypatch.setattr("linksim.weights.SHIPPED_DIR", source)
    monkeypatch.setattr("linksim.weights.COMPANION_PACKAGE", "linksim_weights_not_installed")
    assert main(["weights", "verify"]) == 0
    assert "1 files verified" in capsys.readouterr().out
    (source / MANIFEST_NAME).unlink()
    assert main(["weights", "verify"]) == 2
    assert MANIFEST_NAME in capsys.readouterr().err
    assert main(["weights", "manifest"]) == 0
    assert main(["weights", "list"]) == 0
    assert "toy/k2.weights.h5" in capsys.readouterr().out
    assert read_manifest(source) == json.loads(write_manifest(source).read_text())
