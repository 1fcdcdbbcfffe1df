"""Thirty days of a live site, scraped daily, published by feedsvc and read
by the reader library and newsboat: every article appears exactly once in
each reader, no published date ever moves, every edit reaches the readers
on its day, nothing else changes, and the feeds stay valid throughout.
On one day the scraper saves HTML instead of text: no id changes, no
`updated` moves, and the readers open each listed story's source link.

The same replay runs with two sites served from one folder, the first with
a topic feed, and longer outside the test suite:
`python -m tests.readers.simulate --days 90 --sites 2 --topic`."""

from __future__ import annotations

from pathlib import Path

import pytest

from .conftest import need
from .replay import run_replay
from .simulate import Settings

pytestmark = pytest.mark.readers

DAYS = 30
STYLES = {"fresh", "latest", "renamed"}
TWISTS = {"twice", "cp1252", "crlf", "noise", "prune", "quiet", "html"}


def test_thirty_days_of_scraping_reach_every_reader_exactly_once(tmp_path: Path) -> None:
    need("newsboat")
    settings = Settings(days=DAYS)
    log: list[str] = []
    outcome = run_replay(settings, tmp_path, say=log.append)
    if outcome.problems:
        pytest.fail(f"{len(outcome.problems)} problem(s):\n" + "\n".join(outcome.problems[:40]), pytrace=False)

    # The month really went through what the readers must survive.
    days, truth = outcome.simulation.days, outcome.simulation.truth
    assert len(log) == len(days) == DAYS
    assert {day.style for day in days} == STYLES
    assert {twist for day in days for twist in day.twists} == TWISTS
    assert {edit.kind for day in days for edit in day.edits} == {"title", "summary", "category"}
    revealed = [s for s in truth.stories if truth.first_page[s] == 0 and s in truth.trailer]
    assert revealed, "no article had its date revealed by a later trailer"
    fell_off = set(truth.stories) - {serial for page in days[-1].listing for serial in page}
    assert len(fell_off) > settings.per_page * settings.pages, "too few articles fell off the site"


def test_thirty_days_of_two_sites_and_a_topic_reach_every_reader_exactly_once(tmp_path: Path) -> None:
    need("newsboat")
    log: list[str] = []
    outcome = run_replay(Settings(days=DAYS), tmp_path, say=log.append, sites=2, topic=True)
    if outcome.problems:
        pytest.fail(f"{len(outcome.problems)} problem(s):\n" + "\n".join(outcome.problems[:40]), pytrace=False)
    assert len(log) == DAYS
    # The topic held articles, and gained some as the month went on.
    counts = [int(line.split(" topic ")[1].split()[0]) for line in log]
    assert 0 < counts[0] < counts[-1]
    assert sorted((tmp_path / "sites").iterdir()) == [tmp_path / "sites" / "desk", tmp_path / "sites" / "wire"]
