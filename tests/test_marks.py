"""Operator controls through the command line: takedown, alias and split,
each recorded in the ledger and shown by `articles --all`."""

from __future__ import annotations

import datetime as dt
import json
import os
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from feedsvc.cli import main
from feedsvc.config import load_config
from feedsvc.core.merge import withdrawals

from conftest import NOW_EPOCH, copy_seeds, stored_ledger

HOUR = 3600


def feedsvc(seeds: Path, *args: str, at: int = NOW_EPOCH) -> Result:
    clean = {name: None for name in os.environ if name.startswith("FEEDSVC_")}
    return CliRunner().invoke(main, [*args, "--seeds", str(seeds)], env={**clean, "SOURCE_DATE_EPOCH": str(at)})


def listing(seeds: Path, at: int = NOW_EPOCH, *extra: str) -> list[dict]:
    result = feedsvc(seeds, "articles", "--json", *extra, at=at)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def card(title: str, summary: str) -> str:
    return f"{title}\n\n{title}\n\n{summary}\n\n"


def stamp(epoch: int) -> str:
    return dt.datetime.fromtimestamp(epoch, dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


@pytest.fixture
def pages(tmp_path: Path) -> Path:
    seeds = tmp_path / "seeds"
    seeds.mkdir()
    (seeds / "feedsvc.toml").write_text('site_key = "marks-test-site"\n')
    return seeds


def by_title(listed: list[dict]) -> dict[str, dict]:
    return {article["title"]: article for article in listed}


# takedown


def test_takedown_withdraws_for_good(seeds: Path) -> None:
    before = listing(seeds)
    victim = before[3]
    result = feedsvc(seeds, "takedown", victim["id"], "--note", "legal request", at=NOW_EPOCH + HOUR)
    assert result.exit_code == 0 and victim["id"] in result.stdout
    after = listing(seeds, NOW_EPOCH + 2 * HOUR)
    assert victim["id"] not in {a["id"] for a in after}
    assert after == [a for a in before if a["id"] != victim["id"]]
    # The page still shows the headline, and a new page repeats it: the id
    # stays withdrawn and no new article takes the headline.
    (seeds / "009_again.txt").write_text(card(victim["title"].upper(), "Re-scraped wording."), encoding="utf-8")
    again = listing(seeds, NOW_EPOCH + 3 * HOUR)
    assert again == after
    marks = [row for row in listing(seeds, NOW_EPOCH + 3 * HOUR, "--all") if "mark" in row]
    assert marks == [
        {
            "id": victim["id"],
            "title": victim["title"],
            "category": victim["category"],
            "published": victim["published"],
            "mark": f"withdrawn {stamp(NOW_EPOCH + HOUR)}: legal request",
        }
    ]


def test_takedown_is_announced_and_keeps_the_category_slug(seeds: Path) -> None:
    victim = listing(seeds)[0]
    feedsvc(seeds, "takedown", victim["id"], at=NOW_EPOCH + HOUR)
    ledger = stored_ledger(seeds / "ledger.jsonl")
    config = load_config(seeds, environ={})
    [gone] = withdrawals(ledger, config.site_key)
    assert (gone.iri, gone.category_slug, int(gone.when.timestamp())) == (victim["iri"], victim["category_slug"], NOW_EPOCH + HOUR)
    assert ledger.categories[victim["category"]] == victim["category_slug"]


def test_takedown_twice_keeps_the_first_time(seeds: Path) -> None:
    victim = listing(seeds)[0]
    feedsvc(seeds, "takedown", victim["id"], at=NOW_EPOCH + HOUR)
    before = (seeds / "ledger.jsonl").read_bytes()
    assert feedsvc(seeds, "takedown", victim["id"], at=NOW_EPOCH + 2 * HOUR).exit_code == 0
    assert (seeds / "ledger.jsonl").read_bytes() == before


def test_takedown_of_an_unknown_id_fails_in_one_line(seeds: Path) -> None:
    result = feedsvc(seeds, "takedown", "nosuchid")
    assert result.exit_code == 1
    [line] = result.stderr.splitlines()
    assert "nosuchid" in line and "feedsvc articles" in line


@pytest.mark.parametrize("mark", ["takedown", "split"])
def test_a_mark_given_on_the_first_run_marks_the_articles_that_run_records(tmp_path: Path, mark: str) -> None:
    # A first run keeps the articles it records outside memory until they
    # are written; a mark in the same run must reach them all the same.
    stepwise, at_once = copy_seeds(tmp_path / "stepwise"), copy_seeds(tmp_path / "at once")
    victim = listing(stepwise)[2]
    args = [mark, victim["id"], *(["--page", victim["pages"][0]] if mark == "split" else [])]
    for seeds in (stepwise, at_once):
        result = feedsvc(seeds, *args)
        assert result.exit_code == 0, result.output
    assert listing(at_once, NOW_EPOCH + HOUR, "--all") == listing(stepwise, NOW_EPOCH + HOUR, "--all")
    exported = [feedsvc(seeds, "ledger", "export").stdout for seeds in (stepwise, at_once)]
    assert exported[0] == exported[1] and victim["id"] in exported[0]


# alias


def test_alias_keeps_the_old_id_and_shows_an_update(pages: Path) -> None:
    (pages / "000_mon.txt").write_text(card("Port Authority Names New Chief", "Mon wording."), encoding="utf-8")
    [old] = listing(pages)
    (pages / "000_tue.txt").write_text(card("Harbour Board Picks Chief Executive", "Tue wording."), encoding="utf-8")
    rewritten = by_title(listing(pages, NOW_EPOCH + HOUR))["Harbour Board Picks Chief Executive"]
    assert rewritten["id"] != old["id"]

    result = feedsvc(pages, "alias", rewritten["id"], old["id"], at=NOW_EPOCH + 2 * HOUR)
    assert result.exit_code == 0, result.output
    [merged] = listing(pages, NOW_EPOCH + 3 * HOUR)
    assert (merged["id"], merged["iri"], merged["published"], merged["first_seen"]) == (old["id"], old["iri"], old["published"], old["first_seen"])
    assert (merged["title"], merged["summary"]) == ("Harbour Board Picks Chief Executive", "Tue wording.")
    assert merged["updated"] == stamp(NOW_EPOCH + 2 * HOUR)
    assert merged["pages"] == ["000_mon.txt", "000_tue.txt"]

    # Later scrapes of the new headline keep coming to the old id.
    (pages / "000_wed.txt").write_text(card("HARBOUR BOARD PICKS CHIEF EXECUTIVE", "Wed wording."), encoding="utf-8")
    [later] = listing(pages, NOW_EPOCH + 4 * HOUR)
    assert (later["id"], later["summary"], later["updated"]) == (old["id"], "Wed wording.", stamp(NOW_EPOCH + 4 * HOUR))
    marks = [row["mark"] for row in listing(pages, NOW_EPOCH + 4 * HOUR, "--all") if "mark" in row]
    assert marks == [f"alias: headline 'harbour board picks chief executive' -> {old['id']}"]


def test_alias_errors(seeds: Path) -> None:
    some = listing(seeds)[0]["id"]
    for args in [("alias", some, some), ("alias", "nosuchid", some), ("alias", some, "nosuchid")]:
        result = feedsvc(seeds, *args)
        assert result.exit_code == 1 and len(result.stderr.splitlines()) == 1


# split


def test_split_makes_the_later_card_a_new_article(pages: Path) -> None:
    (pages / "000_mon.txt").write_text(card("Weekly Customs Update", "Monday's update."), encoding="utf-8")
    [original] = listing(pages)
    (pages / "000_tue.txt").write_text(card("Weekly Customs Update", "Tuesday's update."), encoding="utf-8")
    [merged] = listing(pages, NOW_EPOCH + HOUR)
    assert (merged["id"], merged["summary"]) == (original["id"], "Tuesday's update.")

    result = feedsvc(pages, "split", original["id"], "--page", "000_tue.txt", at=NOW_EPOCH + 2 * HOUR)
    assert result.exit_code == 0, result.output
    after = {a["summary"]: a for a in listing(pages, NOW_EPOCH + 3 * HOUR)}
    assert set(after) == {"Monday's update.", "Tuesday's update."}
    kept, split_off = after["Monday's update."], after["Tuesday's update."]
    assert (kept["id"], kept["iri"], kept["published"], kept["first_seen"]) == (original["id"], original["iri"], original["published"], original["first_seen"])
    assert kept["pages"] == ["000_mon.txt"]
    assert split_off["id"] != original["id"] and split_off["id"] in result.stdout
    assert split_off["pages"] == ["000_tue.txt"]
    assert split_off["first_seen"] == stamp(NOW_EPOCH + 2 * HOUR)

    # A later scrape of the headline belongs to the split-off article.
    (pages / "000_wed.txt").write_text(card("Weekly Customs Update", "Wednesday's update."), encoding="utf-8")
    later = {a["id"]: a for a in listing(pages, NOW_EPOCH + 4 * HOUR)}
    assert later[original["id"]]["summary"] == "Monday's update."
    assert later[split_off["id"]]["summary"] == "Wednesday's update."
    marks = [row for row in listing(pages, NOW_EPOCH + 4 * HOUR, "--all") if "mark" in row]
    assert [(row["id"], row["mark"]) for row in marks] == [(split_off["id"], f"split from {original['id']}")]


def test_split_between_pages_first_seen_in_the_same_run(pages: Path) -> None:
    # A first run over a backlog meets both weeks at once and merges them.
    (pages / "000_a.txt").write_text(card("Weekly Customs Update", "This week."), encoding="utf-8")
    (pages / "004_b.txt").write_text(card("Weekly Customs Update", "Last week."), encoding="utf-8")
    [merged] = listing(pages)
    assert merged["pages"] == ["000_a.txt", "004_b.txt"]
    assert feedsvc(pages, "split", merged["id"], "--page", "000_a.txt", at=NOW_EPOCH + HOUR).exit_code == 0
    after = {a["summary"]: a for a in listing(pages, NOW_EPOCH + 2 * HOUR)}
    assert set(after) == {"This week.", "Last week."}
    assert (after["Last week."]["id"], after["Last week."]["pages"]) == (merged["id"], ["004_b.txt"])
    assert after["This week."]["pages"] == ["000_a.txt"]


def test_split_survives_a_ledger_round_trip(pages: Path) -> None:
    (pages / "000_a.txt").write_text(card("Weekly Customs Update", "This week."), encoding="utf-8")
    (pages / "004_b.txt").write_text(card("Weekly Customs Update", "Last week."), encoding="utf-8")
    [merged] = listing(pages)
    feedsvc(pages, "split", merged["id"], "--page", "000_a.txt", at=NOW_EPOCH + HOUR)
    # Read back from the text alone, with a cache of its own.
    [split] = stored_ledger(pages / "ledger.jsonl", cache=pages.parent / "fresh cache").splits
    assert (split.id, split.page) == (merged["id"], "000_a.txt")


def test_split_errors(pages: Path) -> None:
    (pages / "000_mon.txt").write_text(card("Weekly Customs Update", "Monday's update."), encoding="utf-8")
    [article] = listing(pages)
    for args in [("split", article["id"], "--page", "999_none.txt"), ("split", "nosuchid", "--page", "000_mon.txt")]:
        result = feedsvc(pages, *args)
        assert result.exit_code == 1 and len(result.stderr.splitlines()) == 1
    assert feedsvc(pages, "split", article["id"]).exit_code == 2  # --page is required


def test_marks_refused_when_read_only(seeds: Path) -> None:
    victim = listing(seeds)[0]
    clean = {name: None for name in os.environ if name.startswith("FEEDSVC_")}
    result = CliRunner().invoke(
        main, ["takedown", victim["id"], "--seeds", str(seeds)], env={**clean, "SOURCE_DATE_EPOCH": str(NOW_EPOCH), "FEEDSVC_READ_ONLY": "1"}
    )
    assert result.exit_code == 1 and "read-only" in result.stderr
    assert victim["id"] in {a["id"] for a in listing(seeds)}


@pytest.mark.parametrize("form", ["id", "iri", "page url", "page url elsewhere"])
def test_an_article_can_be_named_by_any_of_its_ids(seeds: Path, form: str) -> None:
    victim = listing(seeds)[2]
    named = {
        "id": victim["id"],
        "iri": victim["iri"],
        "page url": f"http://127.0.0.1:8000/articles/{victim['id']}/",
        "page url elsewhere": f"https://mirror.example.org/news/articles/{victim['id']}/index.html".replace("index.html", ""),
    }[form]
    result = feedsvc(seeds, "takedown", named, at=NOW_EPOCH + HOUR)
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == f"withdrew {victim['id']}"
    assert victim["id"] not in {a["id"] for a in listing(seeds, NOW_EPOCH + HOUR)}


def test_taking_an_article_down_twice_says_so_and_changes_nothing(seeds: Path) -> None:
    victim = listing(seeds)[0]
    assert feedsvc(seeds, "takedown", victim["id"], at=NOW_EPOCH + HOUR).exit_code == 0
    ledger = (seeds / "ledger.jsonl").read_bytes()
    again = feedsvc(seeds, "takedown", victim["iri"], at=NOW_EPOCH + 2 * HOUR)
    assert again.exit_code == 0, again.output
    assert again.stdout.strip() == f"{victim['id']} was already withdrawn"
    assert (seeds / "ledger.jsonl").read_bytes() == ledger


def test_an_unknown_article_is_refused_naming_the_forms_it_takes(seeds: Path) -> None:
    result = feedsvc(seeds, "takedown", "urn:uuid:00000000-0000-5000-8000-000000000000")
    assert result.exit_code == 1
    assert "urn:uuid:00000000" in result.output and "page's URL" in result.output
