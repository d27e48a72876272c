"""Shared test settings: headless plotting, tests' plugin modules and the bad-input harness importable."""

import os
import sys
from pathlib import Path

os.environ.setdefault("MPLBACKEND", "Agg")
os.environ.setdefault("KERAS_BACKEND", "torch")
sys.path.insert(0, str(Path(__file__).parent / "plugins"))
sys.path.insert(0, str(Path(__file__).parent / "bad_inputs"))  # harness, make_corpus

import pytest  # noqa: E402

REPO = Path(__file__).resolve().parents[1]


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
