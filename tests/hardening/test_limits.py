"""Page size, title length and cards per page have configurable limits.
Going past one is reported and skips only what it must; pages just under
the size limit are read in bounded memory, and the work done grows in
proportion to the page, never faster."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import tracemalloc
from pathlib import Path

import pytest
from click.testing import CliRunner

from feedsvc.cli import main
from feedsvc.config import load_config
from feedsvc.store.ingest import ingest
from feedsvc.core.text import clean_line

from .test_fuzz_ingest import NOW, write_seeds

MB = 1024 * 1024


def card(n: int, title: str | None = None, category: str = "Logistics") -> str:
    title = title or f"Port Story Number {n}"
    return f"{title}\n\n{title}\n\nThe port opened lane {n} for freight.\n\n01/02/2025 {category}\nRead More\n"


def run_articles(seeds: Path, **settings: int) -> tuple[list[dict], list[str]]:
    environ = {"SOURCE_DATE_EPOCH": str(int(NOW.timestamp()))}
    environ.update({f"FEEDSVC_{name.upper()}": str(value) for name, value in settings.items()})
    result = CliRunner().invoke(main, ["articles", "--json", "--seeds", str(seeds)], env=environ)
    assert result.exit_code == 0, result.output
    assert "Traceback" not in result.stderr
    return json.loads(result.stdout), result.stderr.splitlines()


def titles(listed: list[dict]) -> set[str]:
    return {item["title"] for item in listed}


# The limits, through the command line and FEEDSVC_* settings


def test_a_page_over_the_size_limit_is_skipped_and_named(tmp_path: Path) -> None:
    small = card(1).encode()
    big = (card(2) + "x" * 3000 + "\n").encode()
    seeds = write_seeds(tmp_path, [small, big])
    listed, warnings = run_articles(seeds, max_page_bytes=len(big) - 1)
    assert titles(listed) == {"Port Story Number 1"}
    (warning,) = warnings
    assert "001_page.txt" in warning and f"{len(big)} bytes" in warning and "limit" in warning


def test_a_page_exactly_at_the_size_limit_is_read(tmp_path: Path) -> None:
    page = card(1).encode()
    listed, warnings = run_articles(write_seeds(tmp_path, [page]), max_page_bytes=len(page))
    assert titles(listed) == {"Port Story Number 1"} and warnings == []


def test_a_title_over_the_limit_drops_that_card_only(tmp_path: Path) -> None:
    at_limit, over = "T" * 40, "U" * 41
    page = card(1) + card(2, at_limit) + card(3, over) + card(4)
    listed, warnings = run_articles(write_seeds(tmp_path, [page.encode()]), max_title_chars=40)
    assert titles(listed) == {"Port Story Number 1", at_limit, "Port Story Number 4"}
    (warning,) = warnings
    # The dropped card is named by file and line.
    line = page.split("\n").index(over) + 1
    assert f"000_page.txt: line {line}:" in warning and "41-character title" in warning


def test_cards_past_the_limit_are_skipped_and_reported(tmp_path: Path) -> None:
    page = "".join(card(n) for n in range(1, 9))
    listed, warnings = run_articles(write_seeds(tmp_path, [page.encode()]), max_cards_per_page=5)
    assert titles(listed) == {f"Port Story Number {n}" for n in range(1, 6)}
    (warning,) = warnings
    assert "000_page.txt" in warning and "more than 5 cards" in warning


def test_exactly_as_many_cards_as_the_limit_is_no_problem(tmp_path: Path) -> None:
    page = "".join(card(n) for n in range(1, 6))
    listed, warnings = run_articles(write_seeds(tmp_path, [page.encode()]), max_cards_per_page=5)
    assert len(listed) == 5 and warnings == []


@pytest.mark.parametrize("setting", ["max_page_bytes", "max_title_chars", "max_cards_per_page"])
@pytest.mark.parametrize("value", ["0", "-1", "lots", "1e9"])
def test_a_nonsense_limit_is_a_one_line_error(tmp_path: Path, setting: str, value: str) -> None:
    seeds = write_seeds(tmp_path, [card(1).encode()])
    result = CliRunner().invoke(main, ["articles", "--seeds", str(seeds)], env={f"FEEDSVC_{setting.upper()}": value})
    assert result.exit_code == 1
    assert setting in result.output and "Traceback" not in result.output


# Work grows with the page, never faster. Counted in lines of Python
# executed, which is exact and repeatable where a stopwatch is neither.


def lines_executed(call) -> int:
    count = 0

    def tracer(frame, event, arg):
        nonlocal count
        if event == "line":
            count += 1
        return tracer

    sys.settrace(tracer)
    try:
        call()
    finally:
        sys.settrace(None)
    return count


def ingest_work(folder: Path, page: str, **settings: int) -> int:
    folder.mkdir()
    config = load_config(write_seeds(folder, [page.encode()]), environ={}, **settings)
    return lines_executed(lambda: ingest(config, NOW, write=False))


def test_cards_with_a_category_each_cost_linear_work(tmp_path: Path) -> None:
    """Thousands of cards, each in its own category and every category
    slugifying alike: twice the cards is twice the work, not four times."""

    def page(count: int) -> str:
        return "".join(card(n, category=f"Ports {chr(0x2600 + n)}") for n in range(count))

    single = ingest_work(tmp_path / "single", page(1000))
    double = ingest_work(tmp_path / "double", page(2000))
    assert double < 2.3 * single, (single, double)


def test_nothing_past_the_card_limit_is_parsed(tmp_path: Path) -> None:
    """Paragraphs beyond the card limit cost nothing: the parse stops there."""
    short = ingest_work(tmp_path / "short", "ab\n\n" * 2_000, max_cards_per_page=50)
    long = ingest_work(tmp_path / "long", "ab\n\n" * 20_000, max_cards_per_page=50)
    assert long < 1.1 * short, (short, long)


def test_cleaning_a_line_of_megabytes_allocates_a_few_copies_of_it() -> None:
    line = "Word and more words, " * 300_000
    tracemalloc.start()
    try:
        cleaned = clean_line(line)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert cleaned == line.strip()
    assert peak < 4 * len(line), (peak, len(line))


# Memory on pages just under the size limit, measured in a fresh process:
# the build's peak resident memory over what it had before building.

LIMIT = 6_000_000
MEMORY_PROBE = textwrap.dedent(
    """
    import datetime as dt, json, resource, sys
    from pathlib import Path
    from feedsvc.publish import export
    from feedsvc.config import load_config
    from feedsvc.site.model import Site  # loaded before the baseline, as every build loads it
    seeds, out, limit = Path(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3])
    config = load_config(seeds, environ={}, max_page_bytes=limit)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    result = export.build(config, out, dt.datetime(2025, 10, 9, tzinfo=dt.timezone.utc), force=True, allow_empty=True)
    after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"grew": (after - before) * 1024, "articles": result.articles, "problems": result.problems}))
    """
)


def just_under_limit(kind: str) -> bytes:
    room = LIMIT - 100
    if kind == "one line of words":
        return b"word " * (room // 5)
    if kind == "one card with a one-line summary of megabytes":
        return b"Big Story\n\nBig Story\n\n" + b"word " * (room // 5 - 10) + b"end.\n"
    if kind == "ten thousand cards":
        return "".join(card(n) for n in range(10_000)).encode()
    if kind == "a paragraph of two million short lines":
        return b"ab\n" * (room // 3)
    if kind == "a million two-line paragraphs":
        return b"ab\n\n" * (room // 4)
    raise ValueError(kind)


EXPECTED_ARTICLES = {
    "one line of words": 0,
    "one card with a one-line summary of megabytes": 1,
    "ten thousand cards": 10_000,
    "a paragraph of two million short lines": 0,
    "a million two-line paragraphs": 1,
}


@pytest.mark.parametrize("kind", sorted(EXPECTED_ARTICLES))
def test_pages_just_under_the_size_limit_build_in_bounded_memory(tmp_path: Path, kind: str) -> None:
    page = just_under_limit(kind)
    assert len(page) <= LIMIT
    seeds = write_seeds(tmp_path, [page])
    out = tmp_path / "out"
    # The timeout only stops a hung run; nothing here is timed.
    done = subprocess.run(
        [sys.executable, "-c", MEMORY_PROBE, str(seeds), str(out), str(LIMIT)],
        capture_output=True, text=True, timeout=300, env=dict(os.environ, PYTHONHASHSEED="0"),
    )
    assert done.returncode == 0, done.stderr
    probe = json.loads(done.stdout)
    assert probe["articles"] == EXPECTED_ARTICLES[kind]
    assert not any("bytes is over" in problem for problem in probe["problems"])
    assert probe["grew"] < 64 * MB + 32 * len(page), f"{kind}: {probe['grew'] / MB:.0f} MB for a {len(page) / MB:.1f} MB page"
    assert (out / "feeds" / "all.atom").is_file()
