"""Fixtures shared by the whole suite: a private copy of the sample seeds
and a fixed clock, so no test writes into the repository or reads the time."""

from __future__ import annotations

import datetime as dt
import os
import random
import secrets
import shutil
from pathlib import Path

import pytest

from feedsvc.config import CACHE_FOLDER, Config, load_config
from feedsvc.core.models import Ledger
from feedsvc.store import ledger as ledger_file

REPO = Path(__file__).resolve().parents[1]
SAMPLE_SEEDS = REPO / "seeds"

# 2025-10-09T08:53:20Z: after every trailer date in the sample pages but one.
NOW_EPOCH = 1_760_000_000
NOW = dt.datetime.fromtimestamp(NOW_EPOCH, dt.timezone.utc)


def copy_seeds(target: Path) -> Path:
    """The sample pages and feedsvc.toml, copied into `target` (no ledger)."""
    target.mkdir(parents=True, exist_ok=True)
    for page in sorted(SAMPLE_SEEDS.glob("*.txt")):
        shutil.copyfile(page, target / page.name)
    shutil.copyfile(SAMPLE_SEEDS / "feedsvc.toml", target / "feedsvc.toml")
    return target


def stored_ledger(path: Path, cache: Path | None = None) -> Ledger:
    """The ledger whose history starts at `path`, read as any command reads it."""
    return ledger_file.read(path, cache or path.parent / CACHE_FOLDER).ledger


@pytest.fixture
def seeds(tmp_path: Path) -> Path:
    """A fresh seeds folder holding the sample pages and site config."""
    return copy_seeds(tmp_path / "seeds")


@pytest.fixture
def now() -> dt.datetime:
    """The fixed 'now' of a run; SOURCE_DATE_EPOCH=NOW_EPOCH says the same."""
    return NOW


@pytest.fixture
def config(seeds: Path) -> Config:
    """The sample site's settings, ignoring any FEEDSVC_* in the environment."""
    return load_config(seeds, environ={})


@pytest.fixture
def rng(request: pytest.FixtureRequest) -> random.Random:
    """A random source for tests that pick moments or inputs at random. Its
    seed is FEEDSVC_TEST_SEED when set, else a fresh one; a failing test
    prints it, so the run can be replayed."""
    seed = int(os.environ.get("FEEDSVC_TEST_SEED") or secrets.randbits(32))
    request.node.user_properties.append(("random seed", seed))
    return random.Random(seed)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    outcome = yield
    report = outcome.get_result()
    seeds = [value for name, value in item.user_properties if name == "random seed"]
    if report.failed and seeds:
        report.sections.append(("random seed", f"replay with FEEDSVC_TEST_SEED={seeds[0]}"))
