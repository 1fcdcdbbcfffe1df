"""Property tests: no page, however broken, makes ingest raise, and nothing
that comes out of ingest carries a character a feed may not hold."""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import tempfile
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from feedsvc.publish.check import check_tree
from feedsvc.cli import main
from feedsvc.config import load_config
from feedsvc.store.ingest import ingest

from .checks import assert_clean_article, assert_clean_text
from .html_strategies import SETTINGS as HTML_SETTINGS
from .html_strategies import raw_html_pages
from .strategies import page_bytes, raw_pages

from conftest import stored_ledger

SAMPLE_CONFIG = Path(__file__).resolve().parents[2] / "seeds" / "feedsvc.toml"
NOW = dt.datetime(2025, 10, 9, 8, 53, 20, tzinfo=dt.timezone.utc)
LATER = NOW + dt.timedelta(days=3)

CI = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


def write_seeds(folder: Path, pages: list[bytes], suffix: str = ".txt", extra_config: str = "") -> Path:
    seeds = folder / "seeds"
    seeds.mkdir()
    (seeds / "feedsvc.toml").write_text(SAMPLE_CONFIG.read_text(encoding="utf-8") + "\n" + extra_config, encoding="utf-8")
    for number, data in enumerate(pages):
        (seeds / f"{number:03d}_page{suffix}").write_bytes(data)
    return seeds


# The zones furthest ahead of and behind UTC, where a date's midnight
# lands on another day, month or year in UTC.
ZONES = ["UTC", "Pacific/Kiritimati", "Etc/GMT+12"]


@CI
@given(pages=st.lists(raw_pages(), min_size=1, max_size=3), zone=st.sampled_from(ZONES))
def test_no_page_makes_ingest_raise_or_leak_forbidden_characters(pages: list[bytes], zone: str) -> None:
    check_ingest(pages, zone, ".txt", "")


@CI
@given(pages=st.lists(raw_html_pages(), min_size=1, max_size=3), zone=st.sampled_from(ZONES), table=st.sampled_from(HTML_SETTINGS))
def test_no_html_page_makes_ingest_raise_or_leak_forbidden_characters(pages: list[bytes], zone: str, table: str) -> None:
    """The same properties for HTML pages, read by selectors or as text."""
    check_ingest(pages, zone, ".html", table)


def check_ingest(pages: list[bytes], zone: str, suffix: str, table: str) -> None:
    with tempfile.TemporaryDirectory() as folder:
        config = load_config(write_seeds(Path(folder), pages, suffix, table), environ={}, timezone=zone)
        result = ingest(config, NOW)
        published = result.articles(config.site_key)
        for article in published:
            assert_clean_article(article, config.max_title_chars)
            if article.link is not None:  # only clean, absolute http(s) links
                assert re.fullmatch(r"https?://[^\s#]+", article.link) and "utm_" not in article.link, article.link
                assert_clean_text(article.link, "link")
        for name, slug in result.ledger.categories.items():
            assert_clean_text(name, "category name")
        for problem in result.problems:
            assert problem.source.endswith(suffix), problem
        # What was written is what was meant, and reads back the same.
        on_disk = stored_ledger(config.ledger_path)
        assert on_disk == result.ledger
        # A second run with a later clock finds nothing new and moves nothing.
        again = ingest(config, LATER)
        assert again.new == () and again.changed == ()
        assert [(a.id, a.published, a.updated) for a in again.articles(config.site_key)] == [
            (a.id, a.published, a.updated) for a in published
        ]


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(page=page_bytes())
def test_articles_command_survives_any_page(page: bytes) -> None:
    """The command exits 0 and prints JSON even when every page is broken;
    warnings go to stderr with the file's name, never a traceback."""
    with tempfile.TemporaryDirectory() as folder:
        seeds = write_seeds(Path(folder), [page])
        result = CliRunner().invoke(main, ["articles", "--json", "--seeds", str(seeds)], env={"SOURCE_DATE_EPOCH": str(int(NOW.timestamp()))})
        assert result.exit_code == 0, result.output
        assert result.exception is None
        listed = json.loads(result.stdout)
        assert all(item["published"].endswith("Z") for item in listed)
        assert "Traceback" not in result.stderr
        for line in result.stderr.splitlines():
            assert line.startswith("feedsvc: warning: ") and "000_page.txt" in line, line


@pytest.mark.parametrize("zone", ZONES)
@pytest.mark.parametrize("date", ["01/01/0001", "01/01/0999", "01/01/1000", "01/02/1000", "12/31/9999", "12/30/9999"])
def test_dates_at_the_ends_of_the_calendar_keep_the_ledger_readable(tmp_path: Path, zone: str, date: str) -> None:
    """A year the timestamp formats cannot write with four digits is not
    published: the card counts as undated, and the ledger still loads."""
    seeds = write_seeds(tmp_path, [f"Port Opens\n\nPort Opens\n\nA new lane opened.\n\n{date} Logistics\n".encode()])
    result = CliRunner().invoke(
        main, ["articles", "--json", "--seeds", str(seeds)], env={"SOURCE_DATE_EPOCH": str(int(NOW.timestamp())), "FEEDSVC_TIMEZONE": zone}
    )
    assert result.exit_code == 0, result.output
    (article,) = json.loads(result.stdout)
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", article["published"]), article
    stored_ledger(seeds / "ledger.jsonl")


@pytest.mark.parametrize("epoch", ["99999999999999", "-99999999999", "253402300800", "-40000000000"])
def test_a_clock_out_of_range_is_a_one_line_error(tmp_path: Path, epoch: str) -> None:
    seeds = write_seeds(tmp_path, [b"Port Opens\n\nPort Opens\n\nA new lane opened.\n"])
    result = CliRunner().invoke(main, ["articles", "--seeds", str(seeds)], env={"SOURCE_DATE_EPOCH": epoch})
    assert result.exit_code == 1 and "SOURCE_DATE_EPOCH" in result.output, result.output
    assert not (seeds / "ledger.jsonl").exists()


HOSTILE_NAMES = [b"000_\xff\xfe.txt", b"001_line\nbreak.txt", b"002_\x1b[31mred.txt", b"003_\xed\xa0\x80.txt"]


@pytest.mark.parametrize("name", HOSTILE_NAMES, ids=repr)
def test_a_page_file_with_a_hostile_name_is_skipped_and_named_safely(tmp_path: Path, name: bytes) -> None:
    """A name that is not UTF-8 text, or holds control characters, cannot go
    into the ledger or a warning as it is: the page is skipped and named
    with escapes; the other pages and the build go on."""
    seeds = write_seeds(tmp_path, [b"Port Opens\n\nPort Opens\n\nA new lane opened.\n"])
    with open(os.path.join(os.fsencode(seeds), name), "wb") as page:
        page.write(b"Rail Opens\n\nRail Opens\n\nA new rail line opened.\n")
    (seeds / "004_caf\u00e9.txt").write_bytes(b"Cafe Opens\n\nCafe Opens\n\nA cafe opened at the port.\n")
    env = {"SOURCE_DATE_EPOCH": str(int(NOW.timestamp()))}
    listed = CliRunner().invoke(main, ["articles", "--json", "--seeds", str(seeds)], env=env)
    assert listed.exit_code == 0, listed.output
    assert {item["title"] for item in json.loads(listed.stdout)} == {"Port Opens", "Cafe Opens"}
    (warning,) = listed.stderr.splitlines()
    assert "rename the file" in warning and warning.isprintable()
    out = tmp_path / "out"
    built = CliRunner().invoke(main, ["build", "--seeds", str(seeds), "--out", str(out)], env=env)
    assert built.exit_code == 0, built.output
    assert check_tree(out, load_config(seeds, environ={}).base_url).problems == []
