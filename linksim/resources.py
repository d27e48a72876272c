"""What the systems of one scenario run share: datasets and shared models, built once.

A :class:`Resources` object lives as long as one run (``linksim run``, ``train`` or
``validate`` of a scenario) and reaches every system through its
:class:`~linksim.systems.base.SystemContext`. A system asks it for

* a **dataset** by its spec (``context.resources.dataset(context.data, ...)``): every
  system naming the same data gets the same object, loaded or generated once;
* any **shared object** by a key (``context.resources.shared(key, build)``): a
  downstream judge keyed by its weight key, a derived split (a poisoned training set,
  a forget/retain split) keyed by what derives it. ``build`` runs on the first request.

Nothing is kept between runs: two scenarios in one process (tests, notebooks) never see
each other's objects.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Callable, Dict, Hashable, Mapping, TypeVar

T = TypeVar("T")


class Resources:
    """Objects shared by the systems of one run, each built on first request."""

    def __init__(self) -> None:
        self._items: Dict[Hashable, Any] = {}

    def shared(self, key: Hashable, build: Callable[[], T]) -> T:
        """The object under ``key``, built by ``build()`` on the first request."""
        if key not in self._items:
            self._items[key] = build()
        return self._items[key]

    def dataset(self, spec: Mapping[str, Any], *, cache_dir: Path, field: str = "data") -> Any:
        """The dataset of ``spec`` (``{type: name, ...params}``), built once per run.

        :param cache_dir: Where the dataset keeps downloads.
        :param field: Field path for messages about ``spec``.
        """
        from .registry import build_component, datasets

        key = ("dataset", json.dumps(dict(spec), sort_keys=True, default=str), str(cache_dir))
        return self.shared(key, lambda: build_component(datasets, dict(spec), field=field, cache_dir=Path(cache_dir)))

    def __len__(self) -> int:
        return len(self._items)
