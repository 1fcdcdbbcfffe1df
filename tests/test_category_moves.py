"""An article that a later trailer moves to another category changes the
feed it left: that feed's timestamp must advance with its bytes, or caches
and readers revalidating with If-Modified-Since keep the old feed."""

from __future__ import annotations

import datetime as dt

from feedsvc.config import load_config
from feedsvc.store.ingest import ingest
from feedsvc.site.model import Site
from feedsvc.site.routes import archive_path, feed_path
from sitebuild import card, write_page

from conftest import stored_ledger

DAY = dt.timedelta(days=1)
START = dt.datetime(2025, 3, 1, 9, 0, tzinfo=dt.timezone.utc)


def _site(seeds, now, **overrides):
    config = load_config(seeds, environ={}, **overrides)
    return Site.from_ingest(config, ingest(config, now))


def _trade_page(seeds, second_category: str) -> None:
    write_page(
        seeds,
        f"001_{second_category.lower()}.txt",
        [
            card("Port Tariffs Rise Again", "Tariffs rose.", dt.date(2025, 2, 1), "Trade"),
            card("Grain Exports Slow Down", "Exports slowed.", dt.date(2025, 2, 2), second_category),
        ],
    )


def test_a_move_out_of_a_category_advances_that_feeds_timestamp(tmp_path):
    seeds = tmp_path / "seeds"
    seeds.mkdir()
    _trade_page(seeds, "Trade")
    before = _site(seeds, START)
    _trade_page(seeds, "Logistics")  # a newer scrape files the second card elsewhere
    after = _site(seeds, START + DAY)

    for fmt in ("atom", "rss", "json"):
        old = before.render(feed_path("trade", fmt))
        new = after.render(feed_path("trade", fmt))
        assert old.body != new.body
        assert new.last_modified == START + DAY > old.last_modified
    assert after.render(feed_path("logistics", "atom")).last_modified == START + DAY


def test_the_move_is_recorded_in_the_ledger_and_survives_a_reload(tmp_path):
    seeds = tmp_path / "seeds"
    seeds.mkdir()
    _trade_page(seeds, "Trade")
    _site(seeds, START)
    _trade_page(seeds, "Logistics")
    _site(seeds, START + DAY)

    ledger = stored_ledger(seeds / "ledger.jsonl")
    moved = [r for r in ledger.records.values() if r.departures]
    assert [(r.title, r.category, r.departures) for r in moved] == [
        ("Grain Exports Slow Down", "Logistics", (("Trade", START + DAY),))
    ]
    assert stored_ledger(seeds / "ledger.jsonl", cache=tmp_path / "fresh cache") == ledger  # read back from the text alone


def test_archives_of_the_category_left_also_carry_the_move(tmp_path):
    seeds = tmp_path / "seeds"
    seeds.mkdir()
    cards = [card(f"Trade Story Number {n}", f"Story {n}.", dt.date(2025, 1, n), "Trade") for n in range(1, 6)]
    write_page(seeds, "001_trade.txt", cards)
    before = _site(seeds, START, feed_size=2, archive_size=2)
    cards[0] = card("Trade Story Number 1", "Story 1.", dt.date(2025, 1, 1), "Logistics")
    write_page(seeds, "002_trade.txt", cards)
    after = _site(seeds, START + DAY, feed_size=2, archive_size=2)

    path = archive_path("trade", 1, "atom")
    assert before.render(path).body != after.render(path).body
    assert after.render(path).last_modified == START + DAY
    fingerprints = {t.path: t.fingerprint for t in before.targets()}
    assert all(fingerprints[t.path] != t.fingerprint for t in after.targets() if t.path.startswith("/feeds/category/trade"))
