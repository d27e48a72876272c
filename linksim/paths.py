"""linksim's one cache root, where trained weights and downloaded data live."""

from __future__ import annotations

import os
from pathlib import Path

#: Environment variable that moves the cache root.
CACHE_ENV_VAR = "LINKSIM_CACHE"


def cache_root() -> Path:
    """``$LINKSIM_CACHE`` or ``~/.cache/linksim``: ``weights/<kind>/`` and ``<dataset>/`` below it."""
    env = os.environ.get(CACHE_ENV_VAR)
    return Path(env) if env else Path.home() / ".cache" / "linksim"
