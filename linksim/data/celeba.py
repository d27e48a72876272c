"""CelebA from its official files (Liu et al. 2015): aligned faces, 40 binary attributes, official split.

The privacy-ToSC paper's Table II classifies CelebA attributes. CelebA cannot be
downloaded here (Google Drive, no stable checksummed address), so linksim reads a local
copy in the official layout::

    <folder>/img_align_celeba/000001.jpg ...     (178 x 218 aligned faces)
    <folder>/list_attr_celeba.txt                (count line, 40 names, one row per image: -1 / 1)
    <folder>/list_eval_partition.txt             (image name, 0 train / 1 valid / 2 test)

Each face is centre-cropped to 148 x 148 (the usual crop of the aligned faces) and
resized to ``size`` x ``size`` (bilinear). Attributes become 0/1. The train split is the
official partition 0, the test split partition 2 (1, validation, is not used). A missing
folder or file raises :class:`~linksim.errors.DataUnavailableError` naming it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Dict, List, Optional, Tuple

import numpy as np

from ..errors import DataUnavailableError

ATTRIBUTE_FILE = "list_attr_celeba.txt"
PARTITION_FILE = "list_eval_partition.txt"
IMAGE_FOLDER = "img_align_celeba"
CROP = 148
PARTITIONS = {"train": 0, "valid": 1, "test": 2}
#: The attributes of the paper's Table II (official names).
TABLE2_ATTRIBUTES = ("Mustache", "Smiling", "Wavy_Hair")


def _need(path: Path, what: str) -> Path:
    if not path.exists():
        raise DataUnavailableError(f"data.path: CelebA's {what} {path} is missing; put the official files "
                                   f"({IMAGE_FOLDER}/, {ATTRIBUTE_FILE}, {PARTITION_FILE}) in that folder")
    return path


def read_attributes(folder: Path) -> Tuple[List[str], Dict[str, np.ndarray]]:
    """``(names [40], {image file: int8 [40] of 0/1})`` from ``list_attr_celeba.txt``."""
    path = _need(Path(folder) / ATTRIBUTE_FILE, "attribute file")
    lines = path.read_text(encoding="utf-8").splitlines()
    try:
        count = int(lines[0].strip())
        names = lines[1].split()
        rows = {}
        for line in lines[2: 2 + count]:
            parts = line.split()
            values = np.array([int(v) for v in parts[1:]], dtype=np.int8)
            if len(values) != len(names) or not np.isin(values, (-1, 1)).all():
                raise ValueError(line[:60])
            rows[parts[0]] = (values > 0).astype(np.int8)
    except (IndexError, ValueError) as error:
        raise DataUnavailableError(f"data.path: {path} is not CelebA's attribute file ({error})") from None
    if len(rows) != count:
        raise DataUnavailableError(f"data.path: {path} announces {count} images but lists {len(rows)}")
    return names, rows


def read_partition(folder: Path) -> Dict[str, int]:
    """``{image file: 0 train / 1 valid / 2 test}`` from ``list_eval_partition.txt``."""
    path = _need(Path(folder) / PARTITION_FILE, "partition file")
    out = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[1] in ("0", "1", "2"):
            out[parts[0]] = int(parts[1])
        elif parts:
            raise DataUnavailableError(f"data.path: {path} is not CelebA's partition file (line {line[:60]!r})")
    return out


def load_face(path: Path, size: int) -> np.ndarray:
    """One aligned face: centre crop of 148 x 148, resized to ``size`` x ``size``, uint8 ``[size, size, 3]``."""
    from PIL import Image

    with Image.open(path) as image:
        image = image.convert("RGB")
        w, h = image.size
        left, top = (w - CROP) // 2, (h - CROP) // 2
        face = image.crop((left, top, left + CROP, top + CROP)).resize((size, size), Image.BILINEAR)
        return np.asarray(face, dtype=np.uint8)


def load_split(folder: Path, split: str, size: int, *, limit: Optional[int] = None
               ) -> Tuple[np.ndarray, np.ndarray, List[str]]:
    """The faces of an official split: ``(uint8 [N, size, size, 3], int8 [N, 40] attributes, names)``.

    :param limit: The first ``limit`` images of the split (in file-name order).
    """
    folder = Path(folder)
    names, attributes = read_attributes(folder)
    partition = read_partition(folder)
    images_dir = _need(folder / IMAGE_FOLDER, "image folder")
    files = sorted(name for name, part in partition.items() if part == PARTITIONS[split])[:limit]
    missing = [name for name in files if name not in attributes]
    if missing:
        raise DataUnavailableError(f"data.path: {missing[0]} of {PARTITION_FILE} has no row in {ATTRIBUTE_FILE}")
    faces = np.stack([load_face(_need(images_dir / name, "image"), size) for name in files]) if files else \
        np.zeros((0, size, size, 3), np.uint8)
    return faces, np.stack([attributes[name] for name in files]) if files else np.zeros((0, len(names)), np.int8), names
