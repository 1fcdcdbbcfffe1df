"""The server renders from the store (store.catalog): every document it
publishes must be byte for byte the one the site held in memory gives, at a
size with archives, edits, takedowns, refiles and topic feeds, and a new
page must reach it."""

from __future__ import annotations

import datetime as dt
import os
import random
from pathlib import Path

import pytest
from click.testing import CliRunner

from feedsvc.cli import main
from feedsvc.config import load_config
from feedsvc.site.model import Site
from feedsvc.store import topics as topic_record
from feedsvc.store.catalog import open_catalog
from feedsvc.store.ingest import ingest

from conftest import NOW_EPOCH

DAY = 86400
SETTINGS = """site_key = "stored-site-test"
feed_size = 5
archive_size = 4
edit_window_days = 30

[[topics]]
name = "Ports"
slug = "ports"
include = ["port"]

[[topics]]
name = "Rail, not ports"
include = ["rail"]
exclude = ["port"]
"""
WORDS = ["port", "rail", "freight", "customs", "harbour", "tariff", "crane", "depot"]
CATEGORIES = ["Shipping", "Trade", "Logistics"]


def card(rng: random.Random, number: int) -> str:
    title = f"Story {number}: {rng.choice(WORDS)} {rng.choice(WORDS)}"
    summary = " ".join(rng.choice(WORDS) for _ in range(8))
    day = rng.randint(1, 28)
    return f"{title}\n\n{title}\n\n{summary}\n\n10/{day:02d}/2025 {rng.choice(CATEGORIES)}\n\n"


def feedsvc(seeds: Path, *args: str, at: int) -> None:
    clean = {name: None for name in os.environ if name.startswith("FEEDSVC_")}
    result = CliRunner().invoke(main, [*args, "--seeds", str(seeds)], env={**clean, "SOURCE_DATE_EPOCH": str(at)})
    assert result.exit_code == 0, result.output


def both_sites(seeds: Path, at: int) -> tuple[Site, Site]:
    """The site held in memory and the site answered by the store, of the same state."""
    config = load_config(seeds, environ={})
    now = dt.datetime.fromtimestamp(at, dt.timezone.utc)
    result = ingest(config, now)
    marks = topic_record.settle(config, result.ledger, now)
    catalog = open_catalog(config)
    assert catalog is not None
    return Site.from_ingest(config, result, topic_marks=marks), Site(config, catalog, kept_entries=8, topic_marks=marks)


def assert_same_documents(held: Site, stored: Site) -> int:
    paths = [target.path for target in held.targets()]
    # In both orders: the store reads an archive from the one read before
    # it, whichever side that is on.
    for path in [*paths, *reversed(paths)]:
        assert stored.publishes(path), path
        assert stored.is_gone(path) == held.is_gone(path), path
        expected, found = held.render(path), stored.render(path)
        assert found == expected, path
    assert stored.article_count == held.article_count and stored.updated == held.updated
    return len(paths)


def test_every_document_from_the_store_equals_the_one_held_in_memory(tmp_path, rng):
    seeds = tmp_path / "seeds"
    seeds.mkdir()
    (seeds / "feedsvc.toml").write_text(SETTINGS, encoding="utf-8")
    at, number = NOW_EPOCH, 0
    for page in range(1, 13):
        cards = []
        for _ in range(rng.randint(3, 9)):
            number += 1
            cards.append(card(rng, number))
        (seeds / f"{page:03d}-page.txt").write_text("".join(cards), encoding="utf-8")
        feedsvc(seeds, "articles", at=at)
        at += DAY
    held, _ = both_sites(seeds, at)
    # Take some down, refile some, date some anew: the moves and tombstones
    # must reach the same documents from the store.
    chosen = rng.sample(held.articles, 6)
    feedsvc(seeds, "takedown", chosen[0].id, at=at)
    feedsvc(seeds, "takedown", chosen[1].id, at=at + 60)
    feedsvc(seeds, "edit", chosen[2].id, "--category", "Customs", at=at + 120)
    feedsvc(seeds, "edit", chosen[3].id, "--published", "2025-09-01", at=at + 180)
    # An edit of a card on a page re-scraped later moves `updated`.
    edited = seeds / "001-page.txt"
    edited.write_text(edited.read_text(encoding="utf-8").replace(" port", " port and rail", 1), encoding="utf-8")
    at += DAY
    held, stored = both_sites(seeds, at)
    assert assert_same_documents(held, stored) > 100

    # Unknown ids and archives past the newest are not URLs of either.
    for path in ["/articles/0123456789abcdef/", "/feeds/all/archive/999.atom", "/feeds/no-such-category.atom", "/topics/nope/"]:
        assert stored.publishes(path) == held.publishes(path)


def test_a_topic_whose_settings_change_is_answered_anew(tmp_path, rng):
    seeds = tmp_path / "seeds"
    seeds.mkdir()
    (seeds / "feedsvc.toml").write_text(SETTINGS, encoding="utf-8")
    (seeds / "001-page.txt").write_text("".join(card(rng, n) for n in range(1, 30)), encoding="utf-8")
    feedsvc(seeds, "articles", at=NOW_EPOCH)
    held, stored = both_sites(seeds, NOW_EPOCH + 60)
    assert_same_documents(held, stored)
    (seeds / "feedsvc.toml").write_text(SETTINGS.replace('include = ["port"]', 'include = ["crane"]'), encoding="utf-8")
    held, stored = both_sites(seeds, NOW_EPOCH + 120)
    assert_same_documents(held, stored)
    assert stored.count(held.feed(None).key) == held.article_count
