"""Correcting mistakes: `feedsvc edit` sets one article's category or
publication date, and `feedsvc recategorize` refiles articles by today's
rules. Both reach readers through the built feeds, checked with feedparser."""

from __future__ import annotations

import datetime as dt
import json
import os
from pathlib import Path

import feedparser
import pytest
from click.testing import CliRunner, Result

from feedsvc.cli import main

from conftest import NOW_EPOCH

DAY = 86400

RULES = """site_key = "edit-test-site"
feed_size = 2

[[categories]]
category = "Shipping"
keywords = ["port", "freight"]
"""

# The fixed rule set: "customs" now wins over "port".
FIXED_RULES = """site_key = "edit-test-site"
feed_size = 2

[[categories]]
category = "Customs"
keywords = ["customs"]

[[categories]]
category = "Shipping"
keywords = ["port", "freight"]
"""


def feedsvc(seeds: Path, *args: str, at: int = NOW_EPOCH) -> Result:
    clean = {name: None for name in os.environ if name.startswith("FEEDSVC_")}
    return CliRunner().invoke(main, [*args, "--seeds", str(seeds)], env={**clean, "SOURCE_DATE_EPOCH": str(at)})


def ok(result: Result) -> Result:
    assert result.exit_code == 0, result.output
    return result


def listing(seeds: Path, at: int = NOW_EPOCH) -> dict[str, dict]:
    listed = json.loads(ok(feedsvc(seeds, "articles", "--json", at=at)).stdout)
    return {article["title"]: article for article in listed}


def card(title: str, summary: str, trailer: str | None = None) -> str:
    return f"{title}\n\n{title}\n\n{summary}\n\n" + (f"{trailer}\n\n" if trailer else "")


def build(seeds: Path, out: Path, at: int) -> None:
    ok(feedsvc(seeds, "build", "--out", str(out), "--base-url", "https://news.example/", at=at))


def feed(out: Path, path: str) -> feedparser.FeedParserDict:
    parsed = feedparser.parse((out / path).read_bytes())
    assert not parsed.bozo, parsed.bozo_exception
    return parsed


@pytest.fixture
def site(tmp_path: Path) -> Path:
    """Five stories filed by a rule that puts customs news under Shipping."""
    seeds = tmp_path / "seeds"
    seeds.mkdir()
    (seeds / "feedsvc.toml").write_text(RULES)
    (seeds / "000.txt").write_text(
        card("Customs port checks tightened", "Customs officers at the port check more boxes.")
        + card("Freight rates fall", "Freight rates fell for a third week.")
        + card("Port strike ends", "The port strike ended after two days.")
        + card("Customs freight pilot opens", "A customs pilot for freight opens.")
        + card("Customs port fees reviewed", "A customs review of port fees.")
    )
    return seeds


# edit --category


def test_edit_category_reaches_readers_as_an_update(site: Path, tmp_path: Path) -> None:
    before = listing(site)["Freight rates fall"]
    out = tmp_path / "out"
    result = ok(feedsvc(site, "edit", before["iri"], "--category", "Zölle/Handel", at=NOW_EPOCH + DAY))
    assert f"edited {before['id']}" in result.output
    after = listing(site, at=NOW_EPOCH + DAY)["Freight rates fall"]
    assert (after["id"], after["published"]) == (before["id"], before["published"])
    assert after["category"] == "Zölle/Handel"
    assert after["updated"] > before["updated"]
    build(site, out, NOW_EPOCH + DAY)
    entry = next(e for e in feed(out, "feeds/all.atom").entries if e.id == before["iri"])
    assert [tag.term for tag in entry.tags] == ["Zölle/Handel"]
    assert entry.updated_parsed > entry.published_parsed
    moved_into = feed(out, f"feeds/category/{after['category_slug']}.atom")
    assert [e.id for e in moved_into.entries] == [before["iri"]]
    assert before["iri"] not in [e.id for e in feed(out, "feeds/category/shipping.atom").entries]


def test_an_operator_category_outlives_later_pages(site: Path) -> None:
    article = listing(site)["Port strike ends"]
    ok(feedsvc(site, "edit", article["id"], "--category", "Labour", at=NOW_EPOCH + DAY))
    # The site later shows the story with a trailer of its own, twice.
    for day, trailer in ((2, "03/01/2024 Shipping"), (3, "03/02/2024 Transport")):
        (site / f"00{day}.txt").write_text(card("Port strike ends", "The port strike ended after two days.", trailer))
        assert listing(site, at=NOW_EPOCH + day * DAY)["Port strike ends"]["category"] == "Labour"


def test_edit_takes_any_id_form_and_repeating_it_is_harmless(site: Path, tmp_path: Path) -> None:
    article = listing(site)["Freight rates fall"]
    build(site, tmp_path / "out", NOW_EPOCH)
    page_url = f"https://news.example/articles/{article['id']}/index.html"
    ok(feedsvc(site, "edit", page_url, "--category", "Markets", at=NOW_EPOCH + DAY))
    edited = listing(site, at=NOW_EPOCH + DAY)["Freight rates fall"]
    again = ok(feedsvc(site, "edit", article["iri"], "--category", "Markets", at=NOW_EPOCH + 2 * DAY))
    assert "was already Markets" in again.output
    assert listing(site, at=NOW_EPOCH + 2 * DAY)["Freight rates fall"]["updated"] == edited["updated"]


def test_edit_is_shown_as_a_mark(site: Path) -> None:
    article = listing(site)["Freight rates fall"]
    ok(feedsvc(site, "edit", article["id"], "--category", "Markets", "--published", "2024-01-05", at=NOW_EPOCH + DAY))
    rows = ok(feedsvc(site, "articles", "--all", at=NOW_EPOCH + DAY)).output.splitlines()
    marked = [row for row in rows if row.startswith(article["id"]) and "[edited:" in row]
    assert marked and "category set by the operator" in marked[0] and "published set by the operator" in marked[0]


def test_edit_refuses_what_it_cannot_do(site: Path) -> None:
    article = listing(site)["Freight rates fall"]
    assert feedsvc(site, "edit", article["id"]).exit_code == 2
    bad = feedsvc(site, "edit", article["id"], "--published", "last tuesday")
    assert bad.exit_code == 2 and "--published" in bad.output
    unknown = feedsvc(site, "edit", "nosuchid", "--category", "X")
    assert unknown.exit_code == 1 and "nosuchid" in unknown.output


# edit --published


def test_edit_published_moves_the_date_and_keeps_the_archive_place(site: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    build(site, out, NOW_EPOCH)
    archived_before = [e.id for e in feed(out, "feeds/all/archive/1.atom").entries]
    article = listing(site)["Customs port checks tightened"]
    ok(feedsvc(site, "edit", article["id"], "--published", "2023-06-01T08:30:00+02:00", at=NOW_EPOCH + DAY))
    after = listing(site, at=NOW_EPOCH + DAY)["Customs port checks tightened"]
    assert after["published"] == "2023-06-01T06:30:00Z"
    assert after["id"] == article["id"]
    build(site, out, NOW_EPOCH + DAY)
    assert sorted(e.id for e in feed(out, "feeds/all/archive/1.atom").entries) == sorted(archived_before)
    everywhere = feed(out, "feeds/all.atom").entries + feed(out, "feeds/all/archive/1.atom").entries
    entry = next(e for e in everywhere if e.id == article["iri"])
    assert entry.published.startswith("2023-06-01T06:30:00")
    assert entry.updated > article["updated"]


def test_a_plain_date_is_midnight_in_the_site_time_zone(site: Path) -> None:
    (site / "feedsvc.toml").write_text(RULES.replace('site_key = "edit-test-site"', 'site_key = "edit-test-site"\ntimezone = "Europe/Berlin"'))
    article = listing(site)["Freight rates fall"]
    ok(feedsvc(site, "edit", article["id"], "--published", "2024-01-05", at=NOW_EPOCH + DAY))
    assert listing(site, at=NOW_EPOCH + DAY)["Freight rates fall"]["published"] == "2024-01-04T23:00:00Z"


# recategorize


def test_recategorize_shows_then_applies_without_moving_updated(site: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    build(site, out, NOW_EPOCH)
    before = listing(site)
    shipping_updated = feed(out, "feeds/category/shipping.atom").feed.updated
    (site / "feedsvc.toml").write_text(FIXED_RULES)
    shown = ok(feedsvc(site, "recategorize", at=NOW_EPOCH + DAY))
    assert "3 article(s) would move" in shown.output
    assert listing(site, at=NOW_EPOCH + DAY) == before  # looking moved nothing
    applied = ok(feedsvc(site, "recategorize", "--apply", at=NOW_EPOCH + DAY))
    assert "refiled 3 article(s)" in applied.output
    after = listing(site, at=NOW_EPOCH + DAY)
    moved = {"Customs port checks tightened", "Customs freight pilot opens", "Customs port fees reviewed"}
    assert {title for title in after if after[title]["category"] == "Customs"} == moved
    assert {title: a["updated"] for title, a in after.items()} == {title: a["updated"] for title, a in before.items()}
    build(site, out, NOW_EPOCH + DAY)
    refiled_at = dt.datetime.fromtimestamp(NOW_EPOCH + DAY, dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S+00:00")
    shipping = feed(out, "feeds/category/shipping.atom")
    customs = feed(out, "feeds/category/customs.atom")
    assert shipping.feed.updated != shipping_updated
    assert shipping.feed.updated == customs.feed.updated == refiled_at
    # feed_size is 2: the oldest refiled story goes to the archive and does
    # not come back to subscribers as if it were news.
    oldest = min(moved, key=lambda title: after[title]["published"])
    assert sorted(e.title for e in customs.entries) == sorted(moved - {oldest})
    assert [e.title for e in feed(out, "feeds/category/customs/archive/1.atom").entries] == [oldest]
    assert ok(feedsvc(site, "recategorize", at=NOW_EPOCH + 2 * DAY)).output.strip() == "every article is filed as today's rules say"


def test_recategorize_leaves_page_and_operator_categories(site: Path) -> None:
    (site / "001.txt").write_text(card("Customs port audit", "Customs audit of the port.", "03/01/2024 Shipping"))
    listing(site)
    ok(feedsvc(site, "edit", listing(site)["Customs freight pilot opens"]["id"], "--category", "Pilots"))
    (site / "feedsvc.toml").write_text(FIXED_RULES)
    ok(feedsvc(site, "recategorize", "--apply", at=NOW_EPOCH + DAY))
    after = listing(site, at=NOW_EPOCH + DAY)
    assert after["Customs port audit"]["category"] == "Shipping"
    assert after["Customs freight pilot opens"]["category"] == "Pilots"
    assert after["Customs port checks tightened"]["category"] == "Customs"


def test_recategorizing_more_than_max_new_articles_needs_force(site: Path) -> None:
    listing(site)
    (site / "feedsvc.toml").write_text(FIXED_RULES.replace("feed_size = 2\n", "feed_size = 2\nmax_new_articles = 1\n", 1))
    refused = feedsvc(site, "recategorize", "--apply", at=NOW_EPOCH + DAY)
    assert refused.exit_code == 1 and "--force" in refused.output and "max_new_articles" in refused.output
    assert {a["category"] for a in listing(site, at=NOW_EPOCH + DAY).values()} == {"Shipping"}
    ok(feedsvc(site, "recategorize", "--apply", "--force", at=NOW_EPOCH + DAY))
    assert {a["category"] for a in listing(site, at=NOW_EPOCH + DAY).values()} == {"Shipping", "Customs"}
