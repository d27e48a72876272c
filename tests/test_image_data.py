"""Image datasets: official-format readers (pixel layout, located errors), cache and
offline messages, photo folders, the embedded generator, parameters, provenance."""

from __future__ import annotations

import dataclasses
import gzip
import hashlib
import io
import json
import os
import pickle
import struct
import tarfile
import urllib.error
from pathlib import Path
from types import SimpleNamespace
from typing import List

import numpy as np
import pytest
from PIL import Image

from linksim.data import image_formats as fmt
from linksim.data import images as images_mod
from linksim.data.image_generator import CLASS_NAMES, GENERATOR_VERSION, generate_images
from linksim.data.images import ImageDataset, ImageSplit, fetch_cifar, fetch_mnist
from linksim.errors import DataUnavailableError, UserError
from linksim.registry import build_component, datasets, validate_params

# --------------------------------------------------------------------------- fixtures in official formats


def _cifar_rows(n: int, seed: int) -> np.ndarray:
    """``[n, 3072]`` uint8 rows, every byte different from its neighbours."""
    return np.random.default_rng(seed).integers(0, 256, (n, 3072), dtype=np.uint8)


def _expected_images(rows: np.ndarray) -> np.ndarray:
    """Pixel (y, x) of channel c is byte c * 1024 + y * 32 + x of the row (written out)."""
    n = rows.shape[0]
    out = np.zeros((n, 32, 32, 3), np.uint8)
    for c in range(3):
        for y in range(32):
            for x in range(32):
                out[:, y, x, c] = rows[:, c * 1024 + y * 32 + x]
    return out


def _dump(path: Path, obj) -> None:
    with open(path, "wb") as fh:
        pickle.dump(obj, fh, protocol=2)


def _write_cifar10(root: Path, per_batch: int = 2, test: int = 3) -> dict:
    folder = root / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    train_rows, train_labels = [], []
    for i in range(1, 6):
        rows = _cifar_rows(per_batch, i)
        labels = [(i + j) % 10 for j in range(per_batch)]
        _dump(folder / f"data_batch_{i}", {b"batch_label": f"training batch {i} of 5".encode(), b"labels": labels,
                                          b"data": rows, b"filenames": [b"x.png"] * per_batch})
        train_rows.append(rows)
        train_labels += labels
    test_rows = _cifar_rows(test, 99)
    test_labels = [9, 0, 5][:test]
    _dump(folder / "test_batch", {b"labels": test_labels, b"data": test_rows})
    _dump(folder / "batches.meta", {b"label_names": [n.encode() for n in fmt.CIFAR10_CLASSES],
                                    b"num_cases_per_batch": per_batch, b"num_vis": 3072})
    return {"folder": folder, "train": (np.concatenate(train_rows), np.array(train_labels)),
            "test": (test_rows, np.array(test_labels))}


def _write_cifar100(root: Path) -> dict:
    folder = root / "cifar-100-python"
    folder.mkdir(parents=True)
    train_rows, test_rows = _cifar_rows(4, 7), _cifar_rows(2, 8)
    _dump(folder / "train", {b"fine_labels": [0, 99, 42, 7], b"coarse_labels": [4, 1, 2, 3], b"data": train_rows})
    _dump(folder / "test", {b"fine_labels": [3, 98], b"coarse_labels": [0, 0], b"data": test_rows})
    _dump(folder / "meta", {b"fine_label_names": [n.encode() for n in fmt.CIFAR100_CLASSES],
                            b"coarse_label_names": [b"c"] * 20})
    return {"folder": folder, "train": (train_rows, np.array([0, 99, 42, 7])), "test": (test_rows, np.array([3, 98]))}


def _idx(magic: int, array: np.ndarray) -> bytes:
    return struct.pack(">i", magic) + struct.pack(f">{array.ndim}i", *array.shape) + array.astype(np.uint8).tobytes()


def _write_mnist(folder: Path, compress: bool, n_train: int = 5, n_test: int = 3) -> dict:
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(3)
    data = {"train": (rng.integers(0, 256, (n_train, 28, 28)), rng.integers(0, 10, n_train)),
            "test": (rng.integers(0, 256, (n_test, 28, 28)), rng.integers(0, 10, n_test))}
    for split, (image_name, label_name) in fmt.MNIST_FILES.items():
        for name, magic, arr in ((image_name, 2051, data[split][0]), (label_name, 2049, data[split][1])):
            raw = _idx(magic, arr)
            if compress:
                (folder / f"{name}.gz").write_bytes(gzip.compress(raw))
            else:
                (folder / name).write_bytes(raw)
    return data


# --------------------------------------------------------------------------- CIFAR


def test_cifar10_pixel_layout_and_order(tmp_path):
    fx = _write_cifar10(tmp_path)
    images, labels = fmt.load_cifar(fx["folder"], "train")
    assert images.dtype == np.uint8 and images.shape == (10, 32, 32, 3) and labels.dtype == np.int64
    np.testing.assert_array_equal(images, _expected_images(fx["train"][0]))  # R, G, B planes, row-major
    np.testing.assert_array_equal(labels, fx["train"][1])  # batches 1..5 in order
    images, labels = fmt.load_cifar(fx["folder"], "test")
    np.testing.assert_array_equal(images, _expected_images(fx["test"][0]))
    np.testing.assert_array_equal(labels, [9, 0, 5])


def test_cifar10_dataset_from_path_and_env(tmp_path, monkeypatch):
    fx = _write_cifar10(tmp_path / "copy")
    data = ImageDataset(ImageDataset.Params(source="cifar10", path=str(tmp_path / "copy"), num_train=7),
                        cache_dir=tmp_path / "cache")
    train, test = data.split("train"), data.split("test")
    assert isinstance(train, ImageSplit) and len(train) == 7 and len(test) == 3  # first num_train images
    np.testing.assert_array_equal(train.images, _expected_images(fx["train"][0])[:7])
    assert data.split("train") is train  # cached
    assert data.image_shape == (32, 32, 3) and data.num_classes == 10 and data.class_names[0] == "airplane"
    monkeypatch.setenv("LINKSIM_CIFAR10_DIR", str(fx["folder"]))  # the batches folder itself also works
    from_env = ImageDataset(ImageDataset.Params(source="cifar10"), cache_dir=tmp_path / "cache2")
    np.testing.assert_array_equal(from_env.split("test").images, test.images)
    monkeypatch.setenv("LINKSIM_CIFAR10_DIR", str(tmp_path / "empty"))
    with pytest.raises(DataUnavailableError, match=r"\$LINKSIM_CIFAR10_DIR: .*empty holds neither"):
        ImageDataset(ImageDataset.Params(source="cifar10"), cache_dir=tmp_path / "cache3").split("test")


def test_cifar100_fine_labels(tmp_path):
    fx = _write_cifar100(tmp_path)
    data = ImageDataset(ImageDataset.Params(source="cifar100", path=str(tmp_path)), cache_dir=tmp_path / "c")
    np.testing.assert_array_equal(data.split("train").labels, [0, 99, 42, 7])
    np.testing.assert_array_equal(data.split("test").images, _expected_images(fx["test"][0]))
    assert data.num_classes == 100 and data.class_names[99] == "worm" and len(set(data.class_names)) == 100


def test_cifar_errors_name_the_file(tmp_path):
    fx = _write_cifar10(tmp_path)
    bad = fx["folder"] / "data_batch_3"
    bad.write_bytes(b"not a pickle")
    with pytest.raises(UserError, match=f"{bad}: not a CIFAR"):
        fmt.load_cifar(fx["folder"], "train")
    _dump(bad, {b"data": np.zeros((2, 100), np.uint8), b"labels": [0, 1]})
    with pytest.raises(UserError, match=f"{bad}: b'data' has shape"):
        fmt.load_cifar(fx["folder"], "train")
    _dump(bad, {b"data": np.zeros((2, 3072), np.uint8), b"labels": [0]})
    with pytest.raises(UserError, match=f"{bad}: 2 images but 1 labels"):
        fmt.load_cifar(fx["folder"], "train")
    (fx["folder"] / "data_batch_5").unlink()
    with pytest.raises(DataUnavailableError, match="data_batch_5"):
        fmt.load_cifar(fx["folder"], "train")
    # CIFAR-100 meta in a CIFAR-10 folder: wrong label names
    _dump(fx["folder"] / "batches.meta", {b"label_names": [b"apple"] * 10})
    with pytest.raises(UserError, match="batches.meta: label names"):
        fmt.load_cifar(fx["folder"], "test")


class _Evil:
    def __init__(self, target: str) -> None:
        self.target = target

    def __reduce__(self):
        return (os.mkdir, (self.target,))


def test_cifar_pickle_cannot_run_code(tmp_path):
    path = tmp_path / "test_batch"
    _dump(path, {b"data": _Evil(str(tmp_path / "pwned")), b"labels": []})
    with pytest.raises(UserError, match=f"{path}: .*refusing"):
        fmt.read_cifar_batch(path)
    assert not (tmp_path / "pwned").exists()


def test_cifar_legacy_numpy_module_name(tmp_path):
    rows = _cifar_rows(2, 5)
    raw = pickle.dumps({b"data": rows, b"labels": [1, 2]}, protocol=2)
    legacy = raw.replace(b"numpy._core.multiarray", b"numpy.core.multiarray")  # as in the Python 2 files
    (tmp_path / "batch").write_bytes(legacy)
    images, labels = fmt.read_cifar_batch(tmp_path / "batch")
    np.testing.assert_array_equal(images, _expected_images(rows))


def _tarball(src_root: Path, folder: str, extra: List[tarfile.TarInfo] = ()) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        tar.add(src_root / folder, arcname=folder)
        for info in extra:
            tar.addfile(info, io.BytesIO(b"x" * info.size))
    return buf.getvalue()


def _patch_release(monkeypatch, source: str, payload: bytes) -> None:
    rel = images_mod.CIFAR[source]
    monkeypatch.setitem(images_mod.CIFAR, source, dataclasses.replace(rel, md5=hashlib.md5(payload).hexdigest()))


def test_cifar_tarball_in_folder_is_checked_and_extracted_into_cache(tmp_path, monkeypatch):
    fx = _write_cifar10(tmp_path / "src")
    payload = _tarball(tmp_path / "src", "cifar-10-batches-py")
    user = tmp_path / "user"
    user.mkdir()
    (user / "cifar-10-python.tar.gz").write_bytes(payload)
    params = ImageDataset.Params(source="cifar10", path=str(user))
    with pytest.raises(DataUnavailableError, match="checksum mismatch for .*cifar-10-python.tar.gz"):
        ImageDataset(params, cache_dir=tmp_path / "cache").split("test")  # not the official md5
    assert (user / "cifar-10-python.tar.gz").exists()  # the user's file is kept
    _patch_release(monkeypatch, "cifar10", payload)
    data = ImageDataset(params, cache_dir=tmp_path / "cache")
    np.testing.assert_array_equal(data.split("test").images, _expected_images(fx["test"][0]))
    assert (tmp_path / "cache" / "cifar10" / "cifar-10-batches-py" / "test_batch").is_file()
    assert not (user / "cifar-10-batches-py").exists()


def test_cifar_unsafe_tarball_rejected(tmp_path, monkeypatch):
    _write_cifar10(tmp_path / "src")
    evil = tarfile.TarInfo("cifar-10-batches-py/../../evil")
    evil.size = 1
    payload = _tarball(tmp_path / "src", "cifar-10-batches-py", [evil])
    (tmp_path / "cache" / "cifar10").mkdir(parents=True)
    (tmp_path / "cache" / "cifar10" / "cifar-10-python.tar.gz").write_bytes(payload)
    _patch_release(monkeypatch, "cifar10", payload)
    with pytest.raises(UserError, match="unsafe archive member"):
        fetch_cifar("cifar10", tmp_path / "cache", download=False)
    assert not (tmp_path / "evil").exists()


def test_cifar_download_verifies_and_caches(tmp_path, monkeypatch):
    fx = _write_cifar100(tmp_path / "src")
    payload = _tarball(tmp_path / "src", "cifar-100-python")
    calls = []

    def opener(url, timeout=None):
        calls.append(url)
        return io.BytesIO(payload)

    monkeypatch.setattr(images_mod, "_urlopen", opener)
    with pytest.raises(DataUnavailableError, match="checksum mismatch"):
        fetch_cifar("cifar100", tmp_path / "cache")
    assert not (tmp_path / "cache" / "cifar100" / "cifar-100-python.tar.gz").exists()  # deleted
    _patch_release(monkeypatch, "cifar100", payload)
    folder = fetch_cifar("cifar100", tmp_path / "cache")
    assert folder == tmp_path / "cache" / "cifar100" / "cifar-100-python"
    assert calls == [images_mod.CIFAR["cifar100"].url] * 2
    assert fetch_cifar("cifar100", tmp_path / "cache") == folder and len(calls) == 2  # cached
    data = ImageDataset(ImageDataset.Params(source="cifar100"), cache_dir=tmp_path / "cache")
    np.testing.assert_array_equal(data.split("train").images, _expected_images(fx["train"][0]))


def _offline(url, timeout=None):
    raise urllib.error.URLError("no network")


@pytest.mark.parametrize("source, env", [("cifar10", "LINKSIM_CIFAR10_DIR"), ("cifar100", "LINKSIM_CIFAR100_DIR"),
                                         ("mnist", "LINKSIM_MNIST_DIR")])
def test_offline_message_names_folder_env_var_and_field(tmp_path, monkeypatch, source, env):
    monkeypatch.setattr(images_mod, "_urlopen", _offline)
    monkeypatch.delenv(env, raising=False)
    data = ImageDataset(ImageDataset.Params(source=source), cache_dir=tmp_path / "cache")
    with pytest.raises(DataUnavailableError) as info:
        data.split("train")
    message = str(info.value)
    assert str(tmp_path / "cache" / source) in message and f"${env}" in message and "data.path" in message
    assert "no network" in message and "embedded" in message
    assert not (tmp_path / "cache").exists()  # a failed download leaves no empty folder behind


def test_download_off_never_touches_network(tmp_path, monkeypatch):
    def forbidden(url, timeout=None):  # pragma: no cover - must not be called
        raise AssertionError("network used")

    monkeypatch.setattr(images_mod, "_urlopen", forbidden)
    monkeypatch.delenv("LINKSIM_CIFAR10_DIR", raising=False)
    data = ImageDataset(ImageDataset.Params(source="cifar10", download=False), cache_dir=tmp_path)
    with pytest.raises(DataUnavailableError, match="download is false"):
        data.split("test")


# --------------------------------------------------------------------------- MNIST


@pytest.mark.parametrize("compress", [False, True], ids=["plain", "gz"])
def test_mnist_idx_round_trip(tmp_path, compress):
    fx = _write_mnist(tmp_path / "MNIST" / "raw", compress)  # torchvision layout under the given folder
    data = ImageDataset(ImageDataset.Params(source="mnist", path=str(tmp_path)), cache_dir=tmp_path / "c")
    train = data.split("train")
    assert train.images.shape == (5, 28, 28, 1) and train.images.dtype == np.uint8
    np.testing.assert_array_equal(train.images[..., 0], fx["train"][0])
    np.testing.assert_array_equal(train.labels, fx["train"][1])
    assert data.image_shape == (28, 28, 1) and data.class_names == [str(d) for d in range(10)]
    np.testing.assert_array_equal(data.split("test").labels, fx["test"][1])


def test_mnist_errors_name_the_file(tmp_path):
    _write_mnist(tmp_path, compress=False)
    images = tmp_path / "train-images-idx3-ubyte"
    raw = images.read_bytes()
    images.write_bytes(raw[:-10])
    with pytest.raises(UserError, match=f"{images}: .* bytes, but the header"):
        fmt.load_mnist(tmp_path, "train")
    images.write_bytes(struct.pack(">i", 2049) + raw[4:])
    with pytest.raises(UserError, match=f"{images}: IDX magic number 2049, expected 2051"):
        fmt.load_mnist(tmp_path, "train")
    images.unlink()
    (tmp_path / "train-images-idx3-ubyte.gz").write_bytes(b"not gzip at all")
    with pytest.raises(UserError, match="train-images-idx3-ubyte.gz: not a readable gzip"):
        fmt.load_mnist(tmp_path, "train")
    labels = tmp_path / "t10k-labels-idx1-ubyte"
    labels.write_bytes(_idx(2049, np.zeros(2)))  # 3 test images
    with pytest.raises(UserError, match=f"{labels}: 2 labels for the 3 images"):
        fmt.load_mnist(tmp_path, "test")


def test_mnist_download_checks_md5(tmp_path, monkeypatch):
    served = {}
    src = tmp_path / "src"
    _write_mnist(src, compress=True)
    for name in images_mod.MNIST_MD5:
        served[images_mod.MNIST_URL + name] = (src / name).read_bytes()
    monkeypatch.setattr(images_mod, "_urlopen", lambda url, timeout=None: io.BytesIO(served[url]))
    with pytest.raises(DataUnavailableError, match="checksum mismatch"):
        fetch_mnist(tmp_path / "cache")
    monkeypatch.setattr(images_mod, "MNIST_MD5", {n: hashlib.md5(served[images_mod.MNIST_URL + n]).hexdigest()
                                                  for n in images_mod.MNIST_MD5})
    assert fetch_mnist(tmp_path / "cache") == tmp_path / "cache" / "mnist"
    assert len(fmt.load_mnist(tmp_path / "cache" / "mnist", "test")[0]) == 3


# --------------------------------------------------------------------------- photo folders


def _photo(h: int, w: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)


def test_folder_reads_rgb_and_centre_crops(tmp_path):
    a = _photo(40, 50, 1)
    Image.fromarray(a).save(tmp_path / "a.png")
    Image.fromarray(np.full((30, 31), 200, np.uint8), mode="L").save(tmp_path / "b.jpg", quality=95)
    rgba = np.concatenate([_photo(24, 24, 2), np.full((24, 24, 1), 7, np.uint8)], axis=2)
    Image.fromarray(rgba, mode="RGBA").save(tmp_path / "C.PNG")
    (tmp_path / "notes.txt").write_text("ignored")
    data = ImageDataset(ImageDataset.Params(source="folder", path=str(tmp_path), size=(20, 22)))
    test = data.split("test")
    assert test.images.shape == (3, 20, 22, 3) and test.images.dtype == np.uint8
    np.testing.assert_array_equal(test.images[1], a[10:30, 14:36])  # sorted by name: C.PNG, a.png, b.jpg
    np.testing.assert_array_equal(test.images[0], rgba[2:22, 1:23, :3])  # alpha dropped
    assert np.abs(test.images[2].astype(int) - 200).max() <= 2  # grey -> RGB (jpeg rounding)
    np.testing.assert_array_equal(test.labels, [-1, -1, -1])
    assert data.split("train").images is test.images  # photo sets: train = test
    assert data.num_classes == 0 and data.class_names == [] and data.image_shape == (20, 22, 3)
    ident = data.identity()
    assert [f["name"] for f in ident["files"]] == ["C.PNG", "a.png", "b.jpg"]
    assert ident["files"][1]["sha256"] == hashlib.sha256((tmp_path / "a.png").read_bytes()).hexdigest()
    assert "not the paper's data" in data.provenance()["source"]


def test_folder_errors_name_the_file(tmp_path):
    Image.fromarray(_photo(40, 40, 1)).save(tmp_path / "a.png")
    (tmp_path / "broken.jpg").write_bytes(b"\xff\xd8 not really a jpeg")
    params = ImageDataset.Params(source="folder", path=str(tmp_path), size=(32, 32))
    with pytest.raises(UserError, match=f"{tmp_path / 'broken.jpg'}: not a readable image"):
        ImageDataset(params).split("test")
    (tmp_path / "broken.jpg").unlink()
    Image.fromarray(_photo(20, 60, 2)).save(tmp_path / "small.png")
    small = f"{tmp_path / 'small.png'}: image is 20x60 .* smaller than the crop size 32x32"
    with pytest.raises(UserError, match=small):
        ImageDataset(params).split("test")
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(DataUnavailableError, match="holds no image files"):
        ImageDataset(ImageDataset.Params(source="folder", path=str(empty))).split("test")


def test_skimage_photos():
    pytest.importorskip("skimage")
    data = ImageDataset(ImageDataset.Params(source="skimage", size=(64, 48), num_test=3))
    test, train = data.split("test"), data.split("train")
    assert test.images.shape == (3, 64, 48, 3) and len(train) == len(images_mod.SKIMAGE_PHOTOS)
    np.testing.assert_array_equal(train.images[:3], test.images)
    assert test.images.std() > 20  # real photographs, not blank
    assert data.identity()["files"][0]["name"] == "astronaut.png" and "scikit-image" in data.provenance()["source"]


# --------------------------------------------------------------------------- embedded generator


def test_embedded_deterministic_and_seeded():
    x1, y1 = generate_images(60, seed=0)
    x2, y2 = generate_images(60, seed=0)
    assert x1.tobytes() == x2.tobytes() and np.array_equal(y1, y2)
    x3, _ = generate_images(60, seed=1)
    xt, _ = generate_images(60, seed=0, stream="test")
    assert x3.tobytes() != x1.tobytes() and xt.tobytes() != x1.tobytes()
    # the first images do not depend on how many are made
    x4, y4 = generate_images(520, seed=0)
    assert x4[:60].tobytes() == x1.tobytes() and np.array_equal(y4[:60], y1)


#: SHA-256 of the first 20 images and labels of seed 0 (generator v1).
GOLDEN_DIGEST_V1 = "0901270c5b650deebdec20281bdfc395b00fb2b271c28df696d74a020aefdc79"


def test_embedded_golden_digest():
    """Changing any generated pixel must come with a new GENERATOR_VERSION (and a new digest here)."""
    x, y = generate_images(20, seed=0)
    digest = hashlib.sha256(x.tobytes() + y.tobytes()).hexdigest()
    assert GENERATOR_VERSION == "linksim-embedded-images-v1"
    assert digest == GOLDEN_DIGEST_V1



def test_embedded_dataset_shapes_balance_and_meanings():
    data = ImageDataset(ImageDataset.Params(num_train=1000, num_test=500, seed=3))
    train = data.split("train")
    assert train.images.shape == (1000, 32, 32, 3) and train.images.dtype == np.uint8
    assert train.labels.dtype == np.int64 and len(train) == 1000
    assert np.bincount(train.labels, minlength=10).tolist() == [100] * 10  # balanced in chunks of 500
    assert data.class_names == list(CLASS_NAMES) and data.num_classes == 10 and data.image_shape == (32, 32, 3)
    assert train.images.std() > 40 and len(np.unique(train.images.reshape(1000, -1), axis=0)) == 1000
    default = ImageDataset()
    assert default.num_images("train") == 10000 and default.num_images("test") == 2000


def test_embedded_not_separable_by_mean_colour():
    x, y = generate_images(2000, seed=0)
    xt, yt = generate_images(1000, seed=0, stream="test")
    means = x.reshape(len(x), -1, 3).mean(axis=1)
    centroids = np.stack([means[y == c].mean(axis=0) for c in range(10)])
    test_means = xt.reshape(len(xt), -1, 3).mean(axis=1)
    predicted = ((test_means[:, None, :] - centroids[None]) ** 2).sum(axis=2).argmin(axis=1)
    assert (predicted == yt).mean() < 0.25


# --------------------------------------------------------------------------- parameters, registry, provenance


@pytest.mark.parametrize("params, message", [
    ({"bogus": 1}, "data.bogus: unknown key"),
    ({"source": "embedded", "path": "/x"}, "data.path: .*not used with source: embedded"),
    ({"source": "skimage", "path": "/x"}, "data.path: .*not used with source: skimage"),
    ({"source": "folder"}, "data.path: .*required with source: folder"),
    ({"source": "cifar10", "size": [64, 64]}, "data.size: .*only used with source: folder or skimage"),
    ({"source": "folder", "path": "/x", "size": [0, 64]}, "data.size: .*not a crop size"),
    ({"source": "cifar10", "num_train": 50001}, "data.num_train: .*exceeds the 50000 train images"),
    ({"source": "mnist", "num_test": 10001}, "data.num_test: .*exceeds the 10000 test images"),
    ({"num_train": 0}, "data.num_train: "),
    ({"source": "imagenet"}, "data.source: "),
    ({"seed": -1}, "data.seed: "),
])
def test_params_validation(params, message):
    with pytest.raises(UserError, match=message):
        validate_params(ImageDataset, params, field="data")


def test_registry_and_systems_helper(tmp_path):
    from linksim.systems.image_system import image_dataset

    assert datasets.get("images") is ImageDataset
    built = build_component(datasets, {"type": "images", "num_train": 10, "num_test": 10}, field="data",
                            cache_dir=tmp_path)
    assert isinstance(built, ImageDataset) and built.cache_dir == tmp_path
    from linksim.resources import Resources

    context = SimpleNamespace(data={"type": "images", "num_train": 10, "num_test": 5}, cache_dir=str(tmp_path),
                              resources=Resources())
    data = image_dataset(context)
    assert image_dataset(context) is data  # one object per run
    assert data.cache_dir == tmp_path / "images" and len(data.split("test")) == 5
    with pytest.raises(UserError, match="split: 'valid'"):
        data.split("valid")


def test_identity_and_provenance():
    a = ImageDataset(ImageDataset.Params(seed=1, num_train=100))
    ident = a.identity()
    assert json.loads(json.dumps(ident)) == ident
    assert ident == {"dataset": "images", "source": "embedded", "image_shape": [32, 32, 3],
                     "generator": GENERATOR_VERSION, "seed": 1, "num_train": 100, "num_test": 2000}
    assert ImageDataset(ImageDataset.Params(seed=2, num_train=100)).identity() != ident
    prov = a.provenance()
    assert "not CIFAR-10" in prov["source"] and GENERATOR_VERSION in prov["source"]
    cifar = ImageDataset(ImageDataset.Params(source="cifar10"))
    assert cifar.identity()["archive_md5"] == "c58f30108f718f92721af3b95e74349a"  # no data needed
    assert cifar.identity()["num_train"] == 50000 and "official" in cifar.provenance()["source"]
