"""Fixtures for the reader tests: feedsvc served by gunicorn on 127.0.0.1
from a private copy of the sample pages, stopped by PID afterwards."""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

import pytest

from .harness import Server, have, serving

try:
    from conftest import NOW_EPOCH, copy_seeds  # pytest puts tests/ on sys.path
except ModuleNotFoundError:  # python -m tests.readers.screenshot, from the repository
    from tests.conftest import NOW_EPOCH, copy_seeds

# The suite's fixed clock, as the servers' environment wants it.
SAMPLE_EPOCH = str(NOW_EPOCH)


def copy_sample_seeds(target: Path) -> Path:
    """The sample pages and feedsvc.toml, without the ledger."""
    return copy_seeds(target)


def need(program: str) -> None:
    """Skip, saying why, when a reader's program is not installed."""
    if not have(program):
        pytest.skip(f"{program} is not installed (Debian package {program}; .ci/run installs it)")


@pytest.fixture(scope="module")
def sample_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """The sample site, served as deployed: two workers, a fixed clock, and
    every article in the subscription feeds. Shared by a module's tests,
    which only read from it."""
    folder = tmp_path_factory.mktemp("sample")
    seeds = copy_sample_seeds(folder / "seeds")
    with serving(seeds, folder / "logs", {"SOURCE_DATE_EPOCH": SAMPLE_EPOCH}) as server:
        yield server


@pytest.fixture
def fresh_server(tmp_path: Path) -> Iterator[Server]:
    """The sample site for a test that changes its pages; the server picks
    the changes up by itself and runs on the real clock, as deployed, with
    one worker: once a request shows a change, every later one does.
    (Workers agreeing with each other is tested in test_gunicorn.py.)"""
    seeds = copy_sample_seeds(tmp_path / "seeds")
    with serving(seeds, tmp_path / "logs", workers=1) as server:
        yield server
