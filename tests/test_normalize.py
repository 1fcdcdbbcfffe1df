"""Ids and timestamps that never move: reruns, renames, overlaps, edits,
late trailers, deleted and overwritten pages, and the merge rules that
decide which wording and category an article shows."""

from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path

import pytest

from feedsvc.config import Config, load_config
from feedsvc.store.ingest import Ingest, ingest
from feedsvc.core.models import Article
from feedsvc.core.text import article_id, title_key

from conftest import SAMPLE_SEEDS

HOUR = dt.timedelta(hours=1)
DAY = dt.timedelta(days=1)


def card(title: str, summary: str, trailer: str | None = None) -> str:
    text = f"{title}\n\n{title}\n\n{summary}\n\n"
    return text + (f"{trailer}\nRead More\n" if trailer else "")


def write(seeds: Path, name: str, *cards: str) -> None:
    (seeds / name).write_text("".join(cards), encoding="utf-8")


def by_title(result: Ingest, config: Config) -> dict[str, Article]:
    return {article.title: article for article in result.articles(config.site_key)}


def stable_fields(article: Article) -> tuple:
    """Everything but `pages`: what subscribers see."""
    return (article.id, article.iri, article.title, article.summary, article.category, article.category_slug,
            article.published, article.updated, article.first_seen, article.date_source, article.page_date)


def snapshot(result: Ingest, config: Config) -> dict[str, tuple]:
    return {article.id: stable_fields(article) for article in result.articles(config.site_key)}


def with_sample_rules(config: Config) -> Config:
    """`config` with the keyword rules the sample site ships."""
    return dataclasses.replace(config, category_rules=load_config(SAMPLE_SEEDS, environ={}).category_rules)


@pytest.fixture
def empty_seeds(tmp_path: Path) -> Path:
    seeds = tmp_path / "seeds"
    seeds.mkdir()
    return seeds


@pytest.fixture
def site(empty_seeds: Path) -> Config:
    return load_config(empty_seeds, environ={})


# Reruns of the sample site.


def test_rerun_with_a_later_clock_changes_nothing(config: Config, now: dt.datetime) -> None:
    first = ingest(config, now)
    before = config.ledger_path.read_bytes()
    again = ingest(config, now + 30 * DAY)
    assert snapshot(again, config) == snapshot(first, config)
    assert config.ledger_path.read_bytes() == before
    assert (again.new, again.changed, again.written) == ((), (), False)


def test_ids_are_the_hash_of_the_title_key(config: Config, now: dt.datetime) -> None:
    for article in ingest(config, now).articles(config.site_key):
        assert article.id == article_id(title_key(article.title))


def test_renamed_pages_change_nothing(config: Config, seeds: Path, now: dt.datetime) -> None:
    first = ingest(config, now)
    for page in sorted(seeds.glob("*.txt")):
        page.rename(seeds / f"renamed_{page.name}")
    again = ingest(config, now + DAY)
    assert snapshot(again, config) == snapshot(first, config)


def test_deleting_every_page_loses_no_article(config: Config, seeds: Path, now: dt.datetime) -> None:
    first = ingest(config, now)
    for page in seeds.glob("*.txt"):
        page.unlink()
    again = ingest(config, now + DAY)
    assert snapshot(again, config) == snapshot(first, config)
    assert len(again.articles(config.site_key)) == 18


def test_changed_base_url_changes_no_id_or_iri(config: Config, now: dt.datetime) -> None:
    first = ingest(config, now)
    moved = dataclasses.replace(config, base_url="https://news.example.org/new/home/")
    assert snapshot(ingest(moved, now + DAY), moved) == snapshot(first, config)


def test_site_key_scopes_the_iri_but_not_the_id(config: Config, now: dt.datetime) -> None:
    first = ingest(config, now).articles(config.site_key)
    other = ingest(config, now).articles("another-site")
    assert [a.id for a in first] == [a.id for a in other]
    assert not {a.iri for a in first} & {a.iri for a in other}


def test_undated_articles_seen_together_are_a_second_apart_in_listing_order(config: Config, seeds: Path, now: dt.datetime) -> None:
    result = ingest(config, now)
    undated = [a for a in result.articles(config.site_key) if a.date_source == "first_seen"]
    # Listing order: page 000 top to bottom, then page 004 top to bottom.
    listed = []
    for page in sorted(seeds.glob("*.txt")):
        lines = [line for line in page.read_text(encoding="utf-8").split("\n") if line.strip()]
        listed += [line for line, repeat in zip(lines, lines[1:]) if line == repeat]
    undated_titles = [a.title for a in undated]
    assert undated_titles == [title for title in listed if title in undated_titles]
    assert [a.published for a in undated] == [now - n * dt.timedelta(seconds=1) for n in range(len(undated))]
    assert all(a.updated == a.published and a.first_seen == now for a in undated)


def test_articles_are_newest_first(config: Config, now: dt.datetime) -> None:
    listed = ingest(config, now).articles(config.site_key)
    assert [a.published for a in listed] == sorted((a.published for a in listed), reverse=True)
    dated = [a for a in listed if a.date_source == "page"]
    assert [a.published.date().isoformat() for a in dated] == ["2026-01-20", "2025-07-29", "2025-07-21"]


# Crafted scrapes, one rule each.


def test_overlapping_pages_are_one_article(site: Config, empty_seeds: Path, now: dt.datetime) -> None:
    write(empty_seeds, "000_a.txt", card("Port Reopens", "The port reopened."), card("Rail Strike Ends", "Trains run again."))
    first = by_title(ingest(site, now), site)
    write(empty_seeds, "001_b.txt", card("PORT  reopens", "The port reopened."), card("New Story", "Fresh."))
    again = by_title(ingest(site, now + HOUR), site)
    # The newer page's spelling wins the title; the id and dates stay.
    moved, was = again["PORT reopens"], first["Port Reopens"]
    assert (moved.id, moved.published, moved.first_seen) == (was.id, was.published, now)
    assert moved.pages == ("000_a.txt", "001_b.txt")
    assert stable_fields(again["Rail Strike Ends"]) == stable_fields(first["Rail Strike Ends"])
    assert again["New Story"].first_seen == now + HOUR
    assert len(again) == 3


def test_case_edit_keeps_id_and_dates(site: Config, empty_seeds: Path, now: dt.datetime) -> None:
    write(empty_seeds, "000_a.txt", card("Enhancing China-russia Border Customs", "Summary.", "07/21/2025 Logistics"))
    [first] = ingest(site, now).articles(site.site_key)
    write(empty_seeds, "000_b.txt", card("Enhancing China-Russia Border  Customs", "Summary.", "07/21/2025 Logistics"))
    [again] = ingest(site, now + DAY).articles(site.site_key)
    assert (again.id, again.iri, again.published, again.first_seen) == (first.id, first.iri, first.published, first.first_seen)
    # The newest spelling is shown; the feed's bytes change, so updated moves.
    assert (again.title, again.updated) == ("Enhancing China-Russia Border Customs", now + DAY)
    # Back to the old spelling in a newer scrape: still the same article.
    write(empty_seeds, "000_c.txt", card("ENHANCING CHINA-RUSSIA BORDER CUSTOMS", "Summary.", "07/21/2025 Logistics"))
    [third] = ingest(site, now + 2 * DAY).articles(site.site_key)
    assert (third.id, third.published, third.first_seen, third.updated) == (first.id, first.published, first.first_seen, now + 2 * DAY)


def test_edit_in_a_newer_scrape_reaches_the_article(site: Config, empty_seeds: Path, now: dt.datetime) -> None:
    write(empty_seeds, "004_old.txt", card("Port Reopens", "First wording.", "07/01/2025 Logistics"))
    [first] = ingest(site, now).articles(site.site_key)
    assert first.updated == first.published
    # A newer scrape wins even with a higher page number.
    write(empty_seeds, "009_new.txt", card("Port Reopens", "Second wording.", "07/01/2025 Logistics"))
    result = ingest(site, now + DAY)
    [edited] = result.articles(site.site_key)
    assert edited.summary == "Second wording."
    assert (edited.published, edited.updated, edited.first_seen) == (first.published, now + DAY, now)
    assert result.changed == (first.id,)


def test_an_older_file_never_wins_back(site: Config, empty_seeds: Path, now: dt.datetime) -> None:
    write(empty_seeds, "000_old.txt", card("Port Reopens", "First wording."))
    ingest(site, now)
    write(empty_seeds, "004_new.txt", card("Port Reopens", "Second wording."))
    [edited] = ingest(site, now + HOUR).articles(site.site_key)
    # Parsing every page again, renaming the old file, or restoring its
    # bytes under the newest name all leave the newer wording in place.
    [reparsed] = ingest(site, now + 2 * HOUR, reprocess=True).articles(site.site_key)
    assert stable_fields(reparsed) == stable_fields(edited)
    (empty_seeds / "000_old.txt").rename(empty_seeds / "000_renamed.txt")
    [renamed] = ingest(site, now + 3 * HOUR).articles(site.site_key)
    assert stable_fields(renamed) == stable_fields(edited)
    (empty_seeds / "004_new.txt").write_bytes((empty_seeds / "000_renamed.txt").read_bytes())
    [restored] = ingest(site, now + 4 * HOUR).articles(site.site_key)
    assert stable_fields(restored) == stable_fields(edited)


def test_ties_go_to_the_lowest_page_number_then_position(site: Config, empty_seeds: Path, now: dt.datetime) -> None:
    write(empty_seeds, "007_b.txt", card("Port Reopens", "From page seven."))
    write(empty_seeds, "003_a.txt", card("Port Reopens", "From page three, top."), card("port reopens", "From page three, lower."))
    [article] = ingest(site, now).articles(site.site_key)
    assert (article.title, article.summary) == ("Port Reopens", "From page three, top.")
    assert article.pages == ("003_a.txt", "007_b.txt")


def test_page_overwritten_in_place(site: Config, empty_seeds: Path, now: dt.datetime) -> None:
    latest = "000_latest.txt"
    write(empty_seeds, latest, card("Port Reopens", "First wording."), card("Rail Strike Ends", "Trains run."))
    first = by_title(ingest(site, now), site)
    write(empty_seeds, latest, card("Port Reopens", "Edited wording."), card("Canal Opens", "Boats pass."))
    again = by_title(ingest(site, now + HOUR), site)
    assert again["Port Reopens"].summary == "Edited wording."
    assert again["Port Reopens"].updated == now + HOUR
    assert again["Port Reopens"].published == first["Port Reopens"].published
    # Gone from the page, kept in the feeds.
    assert stable_fields(again["Rail Strike Ends"]) == stable_fields(first["Rail Strike Ends"])
    assert again["Canal Opens"].first_seen == now + HOUR


def test_late_trailer_is_recorded_but_does_not_move_published(site: Config, empty_seeds: Path, now: dt.datetime) -> None:
    write(empty_seeds, "000_a.txt", card("Port Reopens", "The port reopened."))
    [first] = ingest(site, now).articles(site.site_key)
    write(empty_seeds, "000_b.txt", card("Port Reopens", "The port reopened.", "07/29/2025 Customs"))
    [late] = ingest(site, now + DAY).articles(site.site_key)
    assert late.page_date == dt.date(2025, 7, 29)
    assert (late.published, late.updated, late.date_source) == (first.published, first.updated, "first_seen")
    # The site's first trailer does not re-file a keyword-ruled category.
    assert late.category == first.category


def test_differing_late_date_on_a_dated_article(site: Config, empty_seeds: Path, now: dt.datetime) -> None:
    write(empty_seeds, "000_a.txt", card("Port Reopens", "Text.", "07/29/2025 Logistics"))
    [first] = ingest(site, now).articles(site.site_key)
    write(empty_seeds, "000_b.txt", card("Port Reopens", "Text.", "07/29/2025 Logistics"))
    [same] = ingest(site, now + DAY).articles(site.site_key)
    assert same.page_date is None
    write(empty_seeds, "000_c.txt", card("Port Reopens", "Text.", "08/02/2025 Logistics"))
    [moved] = ingest(site, now + 2 * DAY).articles(site.site_key)
    assert moved.page_date == dt.date(2025, 8, 2)
    assert (moved.published, moved.updated, moved.date_source) == (first.published, first.updated, "page")


def test_published_is_midnight_in_the_site_zone(empty_seeds: Path, now: dt.datetime) -> None:
    tokyo = load_config(empty_seeds, environ={"FEEDSVC_TIMEZONE": "Asia/Tokyo"})
    write(empty_seeds, "000_a.txt", card("Port Reopens", "Text.", "07/29/2025 Logistics"))
    [article] = ingest(tokyo, now).articles(tokyo.site_key)
    assert article.published == dt.datetime(2025, 7, 28, 15, tzinfo=dt.timezone.utc)
    # The same trailer seen again is not a late date.
    write(empty_seeds, "000_b.txt", card("Port Reopens", "Text.", "07/29/2025 Logistics"))
    [again] = ingest(tokyo, now + DAY).articles(tokyo.site_key)
    assert again.page_date is None


def test_impossible_date_means_first_seen(site: Config, empty_seeds: Path, now: dt.datetime) -> None:
    write(empty_seeds, "000_a.txt", card("Port Reopens", "Text.", "13/45/2025 Logistics"))
    result = ingest(site, now)
    [article] = result.articles(site.site_key)
    assert (article.published, article.date_source, article.category) == (now, "first_seen", "Logistics")
    assert [p.line for p in result.problems] == [7]


def test_category_follows_a_later_differing_trailer(site: Config, empty_seeds: Path, now: dt.datetime) -> None:
    write(empty_seeds, "000_a.txt", card("Port Reopens", "Text.", "07/29/2025 Logistics"))
    [first] = ingest(site, now).articles(site.site_key)
    write(empty_seeds, "000_b.txt", card("Port Reopens", "Text.", "07/29/2025 logistics"))
    [same] = ingest(site, now + HOUR).articles(site.site_key)
    assert (same.category, same.updated) == ("Logistics", first.updated)  # spelling is not an edit
    write(empty_seeds, "000_c.txt", card("Port Reopens", "Text.", "07/29/2025 Trade & Tariffs"))
    result = ingest(site, now + DAY)
    [moved] = result.articles(site.site_key)
    assert (moved.category, moved.category_slug) == ("Trade & Tariffs", "trade-tariffs")
    assert (moved.published, moved.updated) == (first.published, now + DAY)
    # The category it left keeps its slug for the site's "gone" answer.
    assert result.ledger.categories["Logistics"] == "logistics"


def test_trailer_after_a_keyword_category_is_an_edit_only_against_a_trailer(site: Config, empty_seeds: Path, now: dt.datetime) -> None:
    rules = with_sample_rules(site)
    write(empty_seeds, "000_a.txt", card("Customs Office Opens", "Text."))
    [first] = ingest(rules, now).articles(rules.site_key)
    assert first.category == "Customs"
    write(empty_seeds, "000_b.txt", card("Customs Office Opens", "Text.", "07/01/2025 Logistics"))
    [kept] = ingest(rules, now + HOUR).articles(rules.site_key)
    assert (kept.category, kept.updated) == ("Customs", first.updated)
    write(empty_seeds, "000_c.txt", card("Customs Office Opens", "Text.", "07/01/2025 Trade"))
    [moved] = ingest(rules, now + 2 * HOUR).articles(rules.site_key)
    assert (moved.category, moved.updated) == ("Trade", now + 2 * HOUR)


def test_keyword_rules_first_match_then_default(site: Config, empty_seeds: Path, now: dt.datetime) -> None:
    rules = with_sample_rules(site)
    write(
        empty_seeds,
        "000_a.txt",
        card("Tariff Talks on Freight", "Both rules match; the first listed wins."),
        card("Customs Office Opens", "Only the customs rule matches."),
        card("Exporters Meet", "Whole words only: a longer word is no match."),
        card("City Marathon", "Nothing matches."),
    )
    found = {a.title: a.category for a in ingest(rules, now).articles(rules.site_key)}
    assert found == {"Tariff Talks on Freight": "Logistics", "Customs Office Opens": "Customs", "Exporters Meet": "General", "City Marathon": "General"}


def test_updated_never_goes_backwards(site: Config, empty_seeds: Path, now: dt.datetime) -> None:
    write(empty_seeds, "000_a.txt", card("Port Reopens", "First wording."))
    ingest(site, now)
    write(empty_seeds, "000_b.txt", card("Port Reopens", "Second wording."))
    [edited] = ingest(site, now + DAY).articles(site.site_key)
    write(empty_seeds, "000_c.txt", card("Port Reopens", "Third wording."))
    [later] = ingest(site, now + HOUR).articles(site.site_key)  # the clock was set back
    assert later.updated >= edited.updated
    assert later.published == edited.published


def test_new_undated_articles_of_a_later_run_are_newer(site: Config, empty_seeds: Path, now: dt.datetime) -> None:
    write(empty_seeds, "000_a.txt", card("First Story", "Text."))
    ingest(site, now)
    write(empty_seeds, "000_b.txt", card("Second Story", "Text."), card("Third Story", "Text."))
    listed = [a.title for a in ingest(site, now + HOUR).articles(site.site_key)]
    assert listed == ["Second Story", "Third Story", "First Story"]


def test_seq_is_permanent_and_follows_first_sight(site: Config, empty_seeds: Path, now: dt.datetime) -> None:
    write(empty_seeds, "000_a.txt", card("Old Dated", "Text.", "01/01/2025 Trade"), card("Fresh Undated", "Text."))
    first = {a.title: a.seq for a in ingest(site, now).articles(site.site_key)}
    assert first == {"Old Dated": 1, "Fresh Undated": 2}
    write(empty_seeds, "000_b.txt", card("Even Older", "Text.", "01/01/2020 Trade"))
    again = {a.title: a.seq for a in ingest(site, now + DAY).articles(site.site_key)}
    assert again == {**first, "Even Older": 3}
