"""Readers for the official image-dataset file formats and for folders of photos.

* CIFAR-10 / CIFAR-100 "python version": pickled dicts with byte keys; ``b"data"`` is
  ``uint8 [N, 3072]``, each row the red, then green, then blue 32x32 plane, row-major.
  Pickles are read with a restricted unpickler that only rebuilds numpy arrays and
  plain Python values, so a crafted file cannot run code.
* MNIST IDX: big-endian ``magic, dims...`` header (2051 images ``[N, 28, 28]``, 2049
  labels ``[N]``), plain or gzip-compressed.
* A folder of photos (png, jpg, jpeg, bmp, tif, tiff, webp), read with Pillow, converted
  to RGB and centre-cropped.

All readers return ``uint8 [N, H, W, C]`` images and ``int64 [N]`` labels, and raise
:class:`~linksim.errors.UserError` naming the file at fault.
"""

from __future__ import annotations

import gzip
import pickle
import struct
import zlib
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np

from ..errors import DataUnavailableError, UserError

CIFAR10_FOLDER = "cifar-10-batches-py"
CIFAR10_TRAIN_FILES = tuple(f"data_batch_{i}" for i in range(1, 6))
CIFAR10_TEST_FILE = "test_batch"
CIFAR10_META_FILE = "batches.meta"
CIFAR10_CLASSES: Tuple[str, ...] = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse",
                                    "ship", "truck")

CIFAR100_FOLDER = "cifar-100-python"
CIFAR100_TRAIN_FILE = "train"
CIFAR100_TEST_FILE = "test"
CIFAR100_META_FILE = "meta"
CIFAR100_CLASSES: Tuple[str, ...] = (
    "apple", "aquarium_fish", "baby", "bear", "beaver", "bed", "bee", "beetle", "bicycle", "bottle",
    "bowl", "boy", "bridge", "bus", "butterfly", "camel", "can", "castle", "caterpillar", "cattle",
    "chair", "chimpanzee", "clock", "cloud", "cockroach", "couch", "crab", "crocodile", "cup", "dinosaur",
    "dolphin", "elephant", "flatfish", "forest", "fox", "girl", "hamster", "house", "kangaroo", "keyboard",
    "lamp", "lawn_mower", "leopard", "lion", "lizard", "lobster", "man", "maple_tree", "motorcycle", "mountain",
    "mouse", "mushroom", "oak_tree", "orange", "orchid", "otter", "palm_tree", "pear", "pickup_truck", "pine_tree",
    "plain", "plate", "poppy", "porcupine", "possum", "rabbit", "raccoon", "ray", "road", "rocket",
    "rose", "sea", "seal", "shark", "shrew", "skunk", "skyscraper", "snail", "snake", "spider",
    "squirrel", "streetcar", "sunflower", "sweet_pepper", "table", "tank", "telephone", "television", "tiger",
    "tractor", "train", "trout", "tulip", "turtle", "wardrobe", "whale", "willow_tree", "wolf", "woman", "worm",
)

CIFAR_SIDE = 32
CIFAR_ROW = 3 * CIFAR_SIDE * CIFAR_SIDE

MNIST_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}
MNIST_IMAGES_MAGIC = 2051
MNIST_LABELS_MAGIC = 2049
MNIST_CLASSES: Tuple[str, ...] = tuple(str(d) for d in range(10))

#: File name endings read from an image folder (case-insensitive).
IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp")


# --------------------------------------------------------------------------- CIFAR


class _ArrayUnpickler(pickle.Unpickler):
    """Unpickler that rebuilds numpy arrays and builtin values, nothing else."""

    _ALLOWED = {
        ("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
        ("numpy.core.multiarray", "scalar"), ("numpy._core.multiarray", "scalar"),
        ("numpy", "ndarray"), ("numpy", "dtype"),
        ("_codecs", "encode"), ("copy_reg", "_reconstructor"), ("copyreg", "_reconstructor"),
        ("__builtin__", "object"), ("builtins", "object"),
    }

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) not in self._ALLOWED:
            raise pickle.UnpicklingError(f"refusing to load {module}.{name}")
        if module == "numpy.core.multiarray" and hasattr(np, "_core"):  # numpy 2 name, no deprecation warning
            module = "numpy._core.multiarray"
        return super().find_class(module, name)


def read_cifar_pickle(path: Path) -> Dict[bytes, Any]:
    """The dict stored in one CIFAR "python version" file (byte keys).

    :raises UserError: naming ``path`` when it is not such a pickle.
    """
    path = Path(path)
    try:
        with open(path, "rb") as fh:
            obj = _ArrayUnpickler(fh, encoding="bytes").load()
    except FileNotFoundError:
        raise DataUnavailableError(f"{path}: file not found") from None
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError, ImportError, IndexError,
            KeyError, struct.error, MemoryError) as exc:
        raise UserError(f"{path}: not a CIFAR python-version pickle ({exc})") from None
    if not isinstance(obj, dict):
        raise UserError(f"{path}: not a CIFAR python-version pickle (holds a {type(obj).__name__}, not a dict)")
    return obj


def _key(d: Dict[Any, Any], key: bytes) -> Any:
    """``d[key]``, also when the pickle was written with str keys."""
    if key in d:
        return d[key]
    return d.get(key.decode())


def _names(values: Any) -> List[str]:
    return [v.decode() if isinstance(v, bytes) else str(v) for v in values]


def read_cifar_batch(path: Path, label_key: bytes = b"labels",
                     num_classes: int = 10) -> Tuple[np.ndarray, np.ndarray]:
    """Images and labels of one CIFAR batch file.

    :param label_key: ``b"labels"`` (CIFAR-10) or ``b"fine_labels"`` (CIFAR-100).
    :returns: uint8 ``[N, 32, 32, 3]`` (row ``r`` of ``b"data"``: red plane, green plane,
        blue plane, each 32x32 row-major) and int64 ``[N]``.
    :raises UserError: naming ``path`` for missing keys, wrong sizes or labels.
    """
    d = read_cifar_pickle(path)
    data, labels = _key(d, b"data"), _key(d, label_key)
    if data is None or labels is None:
        raise UserError(f"{path}: CIFAR file without b'data' and {label_key!r} entries "
                        f"(has {', '.join(map(repr, d))})")
    data = np.asarray(data)
    if data.ndim != 2 or data.shape[1] != CIFAR_ROW:
        raise UserError(f"{path}: b'data' has shape {data.shape}, expected [N, {CIFAR_ROW}]")
    if data.dtype != np.uint8:
        if not np.issubdtype(data.dtype, np.integer) or data.min(initial=0) < 0 or data.max(initial=0) > 255:
            raise UserError(f"{path}: b'data' holds {data.dtype} values, expected uint8")
        data = data.astype(np.uint8)
    labels = np.asarray(labels, dtype=np.int64).reshape(-1)
    if labels.shape[0] != data.shape[0]:
        raise UserError(f"{path}: {data.shape[0]} images but {labels.shape[0]} labels")
    if labels.size and (labels.min() < 0 or labels.max() >= num_classes):
        raise UserError(f"{path}: labels outside 0..{num_classes - 1}")
    images = data.reshape(-1, 3, CIFAR_SIDE, CIFAR_SIDE).transpose(0, 2, 3, 1)
    return np.ascontiguousarray(images), labels


def read_cifar_meta(path: Path, key: bytes) -> List[str]:
    """Label names in a CIFAR meta file (``b"label_names"`` or ``b"fine_label_names"``)."""
    d = read_cifar_pickle(path)
    names = _key(d, key)
    if names is None:
        raise UserError(f"{path}: CIFAR meta file without {key!r}")
    return _names(names)


def find_cifar_folder(root: Path, folder_name: str, marker: str) -> Optional[Path]:
    """``root`` or ``root/folder_name`` when it holds ``marker``, else None."""
    root = Path(root)
    for candidate in (root, root / folder_name):
        if (candidate / marker).is_file():
            return candidate
    return None


def load_cifar(folder: Path, split: str, *, cifar100: bool = False) -> Tuple[np.ndarray, np.ndarray]:
    """Images and labels of ``split`` (``"train"`` or ``"test"``) from an extracted folder.

    CIFAR-10 train is ``data_batch_1`` .. ``data_batch_5`` in order (50000 images); test
    is ``test_batch``. CIFAR-100 train/test are the files ``train``/``test`` (fine labels).
    The meta file's label names must be the official ones (a wrong folder is caught).

    :raises DataUnavailableError: a file is missing.
    :raises UserError: a file is malformed (naming it).
    """
    folder = Path(folder)
    if cifar100:
        files = [CIFAR100_TRAIN_FILE] if split == "train" else [CIFAR100_TEST_FILE]
        meta, meta_key, label_key, classes = CIFAR100_META_FILE, b"fine_label_names", b"fine_labels", CIFAR100_CLASSES
    else:
        files = list(CIFAR10_TRAIN_FILES) if split == "train" else [CIFAR10_TEST_FILE]
        meta, meta_key, label_key, classes = CIFAR10_META_FILE, b"label_names", b"labels", CIFAR10_CLASSES
    missing = [name for name in files + [meta] if not (folder / name).is_file()]
    if missing:
        raise DataUnavailableError(f"{folder}: missing CIFAR file(s) {', '.join(missing)}")
    names = read_cifar_meta(folder / meta, meta_key)
    if tuple(names) != classes:
        raise UserError(f"{folder / meta}: label names {names[:3]}... are not the official "
                        f"{'CIFAR-100' if cifar100 else 'CIFAR-10'} ones ({', '.join(classes[:3])}, ...)")
    parts = [read_cifar_batch(folder / name, label_key, len(classes)) for name in files]
    return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])


# --------------------------------------------------------------------------- MNIST


def read_idx(path: Path, magic: int, ndim: int) -> np.ndarray:
    """The uint8 array in an IDX file (gzip-compressed when the name ends in ``.gz``).

    :param magic: Expected magic number (2051 images, 2049 labels).
    :param ndim: Expected number of dimensions.
    :raises UserError: naming ``path``: wrong magic, truncated or oversized file,
        unreadable gzip.
    """
    path = Path(path)
    try:
        if path.name.endswith(".gz"):
            with gzip.open(path, "rb") as fh:
                raw = fh.read()
        else:
            raw = path.read_bytes()
    except FileNotFoundError:
        raise DataUnavailableError(f"{path}: file not found") from None
    except (OSError, EOFError, zlib.error) as exc:
        raise UserError(f"{path}: not a readable gzip file ({exc})") from None
    if len(raw) < 4:
        raise UserError(f"{path}: too short for an IDX file ({len(raw)} bytes)")
    (found,) = struct.unpack(">i", raw[:4])
    if found != magic:
        raise UserError(f"{path}: IDX magic number {found}, expected {magic} "
                        f"({'images' if magic == MNIST_IMAGES_MAGIC else 'labels'} file, big-endian)")
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise UserError(f"{path}: truncated IDX header")
    dims = struct.unpack(f">{ndim}i", raw[4:header])
    expected = header + int(np.prod(dims, dtype=np.int64))
    if len(raw) != expected:
        raise UserError(f"{path}: {len(raw)} bytes, but the header's dimensions {'x'.join(map(str, dims))} "
                        f"need {expected} (truncated or wrong file)")
    return np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(dims)


def find_mnist_file(folder: Path, name: str) -> Optional[Path]:
    """``folder/name`` or ``folder/name.gz`` (plain preferred), else None."""
    for candidate in (Path(folder) / name, Path(folder) / f"{name}.gz"):
        if candidate.is_file():
            return candidate
    return None


def find_mnist_folder(root: Path) -> Optional[Path]:
    """``root``, ``root/MNIST/raw`` or ``root/mnist`` when it holds all four IDX files."""
    root = Path(root)
    for candidate in (root, root / "MNIST" / "raw", root / "mnist"):
        if all(find_mnist_file(candidate, n) for pair in MNIST_FILES.values() for n in pair):
            return candidate
    return None


def load_mnist(folder: Path, split: str) -> Tuple[np.ndarray, np.ndarray]:
    """MNIST ``split`` from a folder of IDX files: uint8 ``[N, 28, 28, 1]``, int64 ``[N]``.

    :raises DataUnavailableError: a file is missing.
    :raises UserError: a file is malformed or images and labels disagree (naming it).
    """
    image_name, label_name = MNIST_FILES[split]
    image_path, label_path = find_mnist_file(folder, image_name), find_mnist_file(folder, label_name)
    if image_path is None or label_path is None:
        missing = image_name if image_path is None else label_name
        raise DataUnavailableError(f"{folder}: missing MNIST file {missing} (or {missing}.gz)")
    images = read_idx(image_path, MNIST_IMAGES_MAGIC, 3)
    labels = read_idx(label_path, MNIST_LABELS_MAGIC, 1).astype(np.int64)
    if images.shape[0] != labels.shape[0]:
        raise UserError(f"{label_path}: {labels.shape[0]} labels for the {images.shape[0]} images of {image_path}")
    if labels.size and labels.max() > 9:
        raise UserError(f"{label_path}: labels outside 0..9")
    return images[..., None].copy(), labels


# --------------------------------------------------------------------------- photos


def list_image_files(folder: Path) -> List[Path]:
    """Image files directly in ``folder`` (by extension), sorted by name."""
    return sorted((p for p in Path(folder).iterdir() if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS),
                  key=lambda p: p.name)


def read_rgb(path: Path) -> np.ndarray:
    """A photo as uint8 ``[H, W, 3]`` (first frame; alpha dropped; 16-bit scaled to 8).

    :raises UserError: naming ``path`` when Pillow cannot read it.
    """
    from PIL import Image

    path = Path(path)
    try:
        with Image.open(path) as img:
            img.load()
            if img.mode in ("I", "I;16", "I;16B", "I;16L", "I;16N"):
                grey = np.rint(np.asarray(img, dtype=np.float64) / 257.0).clip(0, 255).astype(np.uint8)
                return np.repeat(grey[..., None], 3, axis=2)
            if img.mode == "F":
                raise UserError(f"{path}: floating-point pixels (mode F) are not supported; save as 8-bit")
            return np.asarray(img.convert("RGB"), dtype=np.uint8).copy()
    except UserError:
        raise
    except FileNotFoundError:
        raise DataUnavailableError(f"{path}: file not found") from None
    # UnidentifiedImageError and truncated files are OSErrors
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as exc:
        raise UserError(f"{path}: not a readable image ({exc})") from None


def centre_crop(image: np.ndarray, size: Tuple[int, int], path: Path) -> np.ndarray:
    """The central ``size = (H, W)`` part of ``image`` ``[h, w, C]``.

    :raises UserError: naming ``path`` when the image is smaller than ``size``.
    """
    h, w = image.shape[:2]
    H, W = size
    if h < H or w < W:
        raise UserError(f"{path}: image is {h}x{w} (HxW), smaller than the crop size {H}x{W}; "
                        "lower data.size or remove the file")
    top, left = (h - H) // 2, (w - W) // 2
    return image[top:top + H, left:left + W]


def load_image_folder(folder: Path, size: Tuple[int, int],
                      files: Optional[Sequence[Path]] = None) -> Tuple[np.ndarray, List[Path]]:
    """Every photo in ``folder`` (or the given ``files``), RGB, centre-cropped to ``size``.

    :returns: uint8 ``[N, H, W, 3]`` and the files, in name order.
    :raises DataUnavailableError: ``folder`` is missing or holds no image file.
    :raises UserError: a file is unreadable or too small (naming it).
    """
    folder = Path(folder)
    if files is None:
        if not folder.is_dir():
            raise DataUnavailableError(f"{folder}: no such folder")
        files = list_image_files(folder)
        if not files:
            raise DataUnavailableError(f"{folder}: no image files ({', '.join(IMAGE_EXTENSIONS)})")
    images = [centre_crop(read_rgb(p), size, p) for p in files]
    return np.stack(images), list(files)

