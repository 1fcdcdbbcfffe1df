"""The history on disk: append-only JSON lines under a seal, split into
segments, with a disposable SQLite cache. Loss is never silent: a cut, a
removed, reordered or hand-edited line is refused with the cache and
without it; a hand edit has a documented way in (`ledger reseal`); a
version-1 ledger is converted by the first writing command and exported
back byte for byte."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import sqlite3
from pathlib import Path

import feedparser
import pytest
from click.testing import CliRunner, Result

from feedsvc.cli import main
from feedsvc.config import CACHE_FOLDER
from feedsvc.store import history

from conftest import NOW_EPOCH, copy_seeds

V1 = Path(__file__).parent / "data" / "ledger_v1"
HOUR = 3600


def feedsvc(*args: str, epoch: int = NOW_EPOCH, **env: str) -> Result:
    clean = {name: None for name in os.environ if name.startswith("FEEDSVC_")}
    return CliRunner().invoke(main, list(args), env={**clean, "SOURCE_DATE_EPOCH": str(epoch), **env})


def ok(result: Result) -> Result:
    assert result.exit_code == 0, result.output
    return result


def listing(seeds: Path, epoch: int = NOW_EPOCH, *extra: str) -> list[dict]:
    return json.loads(ok(feedsvc("articles", "--json", *extra, "--seeds", str(seeds), epoch=epoch)).stdout)


def history_files(seeds: Path) -> dict[str, bytes]:
    return {path.name: path.read_bytes() for path in sorted(seeds.glob("ledger*")) if not path.name.endswith(".lock")}


def drop_cache(seeds: Path) -> None:
    shutil.rmtree(seeds / CACHE_FOLDER, ignore_errors=True)


def story(title: str) -> str:
    return f"{title}\n\n{title}\n\nWhat happened in {title.lower()}.\n\n"


@pytest.fixture
def recorded(seeds: Path) -> Path:
    """The sample site, recorded, then one more page a day later."""
    listing(seeds)
    (seeds / "010_later.txt").write_text(story("A Later Story"))
    listing(seeds, NOW_EPOCH + 24 * HOUR)
    return seeds


# Loss is never silent


@pytest.mark.parametrize("cache", ["with the cache", "on a fresh checkout"])
def test_a_history_cut_at_a_line_boundary_is_refused(recorded: Path, tmp_path: Path, cache: str) -> None:
    ledger = recorded / "ledger.jsonl"
    lines = ledger.read_bytes().splitlines(keepends=True)
    ledger.write_bytes(b"".join(lines[:11]))  # head -n 11
    if cache == "on a fresh checkout":
        drop_cache(recorded)
    before = history_files(recorded)
    out = tmp_path / "out"
    result = feedsvc("build", "--seeds", str(recorded), "--out", str(out))
    assert result.exit_code == 1
    assert f"{ledger}: line 11 of {len(lines)} is the last one; the history was cut short" in result.output
    assert history_files(recorded) == before and not out.exists()
    verified = feedsvc("ledger", "verify", "--seeds", str(recorded))
    assert verified.exit_code == 1 and "cut short" in verified.output


@pytest.mark.parametrize("cache", ["with the cache", "on a fresh checkout"])
@pytest.mark.parametrize("damage", ["a removed line", "two lines swapped", "a hand-edited title"])
def test_a_changed_history_is_refused(recorded: Path, damage: str, cache: str) -> None:
    ledger = recorded / "ledger.jsonl"
    lines = ledger.read_bytes().splitlines(keepends=True)
    if damage == "a removed line":
        del lines[5]
    elif damage == "two lines swapped":
        lines[4], lines[5] = lines[5], lines[4]
    else:
        article = next(n for n, line in enumerate(lines) if b'"kind":"article"' in line)
        lines[article] = lines[article].replace(b'"title":"', b'"title":"Edited: ', 1)
    ledger.write_bytes(b"".join(lines))
    if cache == "on a fresh checkout":
        drop_cache(recorded)
    before = history_files(recorded)
    (recorded / "011_new.txt").write_text(story("Something New"))
    result = feedsvc("articles", "--seeds", str(recorded), epoch=NOW_EPOCH + 48 * HOUR)
    assert result.exit_code == 1 and str(ledger) in result.output
    assert "ledger verify" in result.output and "ledger reseal" in result.output
    assert history_files(recorded) == before


def test_a_deliberate_hand_edit_goes_in_through_reseal(recorded: Path, tmp_path: Path) -> None:
    ledger = recorded / "ledger.jsonl"
    data = ledger.read_bytes()
    edited = data.replace(b'"title":"A Later Story"', b'"title":"A Later Story, Corrected"')
    assert edited != data
    ledger.write_bytes(edited)
    assert feedsvc("ledger", "verify", "--seeds", str(recorded)).exit_code == 1
    resealed = ok(feedsvc("ledger", "reseal", "--seeds", str(recorded)))
    assert f"sealed {len(edited.splitlines())} lines" in resealed.output
    assert "match the seal" in ok(feedsvc("ledger", "verify", "--seeds", str(recorded))).output
    titles = [article["title"] for article in listing(recorded, NOW_EPOCH + 48 * HOUR)]
    assert "A Later Story, Corrected" in titles


def test_reseal_refuses_a_line_that_makes_no_sense(recorded: Path) -> None:
    ledger = recorded / "ledger.jsonl"
    ledger.write_bytes(ledger.read_bytes() + b'{"kind":"nonsense"}\n')
    before = history_files(recorded)
    result = feedsvc("ledger", "reseal", "--seeds", str(recorded))
    assert result.exit_code == 1 and "unknown kind" in result.output
    assert history_files(recorded) == before


def test_an_unfinished_append_is_ignored_by_readers_and_removed_by_the_next_writer(recorded: Path) -> None:
    ledger = recorded / "ledger.jsonl"
    sealed = ledger.read_bytes()
    expected = listing(recorded, NOW_EPOCH + 24 * HOUR)
    ledger.write_bytes(sealed + b'{"kind":"article","id":"half-writ')  # a writer killed mid-line
    looked = ok(feedsvc("build", "--seeds", str(recorded), "--diff"))
    assert ledger.read_bytes().startswith(sealed) and len(ledger.read_bytes()) > len(sealed)  # a look writes nothing
    assert "no change" in looked.output or looked.output.strip() != ""
    again = feedsvc("articles", "--json", "--seeds", str(recorded), epoch=NOW_EPOCH + 48 * HOUR)
    assert again.exit_code == 0
    assert "interrupted run" in again.stderr
    assert ledger.read_bytes() == sealed
    assert json.loads(again.stdout) == expected


def killed_before_its_seal(seeds: Path, epoch: int) -> None:
    """Run `feedsvc articles` in a child process that dies, as kill -9
    would, just before it writes the seal that commits its lines: they are
    on disk, unsealed, and nothing of the run's own cleanup ran."""
    pid = os.fork()
    if pid == 0:
        try:
            write_seal = history.History.write_seal

            def dying(self: history.History, seal: history.Seal) -> None:
                if seal.lines:
                    os._exit(0)
                write_seal(self, seal)

            history.History.write_seal = dying  # type: ignore[method-assign]
            feedsvc("articles", "--seeds", str(seeds), epoch=epoch)
        finally:
            os._exit(1)  # it never came to the seal
    assert os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]) == 0, "the run did not reach its seal"


def test_a_first_run_killed_before_its_seal_is_taken_back_by_the_next(seeds: Path, tmp_path: Path) -> None:
    untouched = copy_seeds(tmp_path / "untouched")
    expected = listing(untouched, NOW_EPOCH + HOUR)
    killed_before_its_seal(seeds, NOW_EPOCH)
    assert (seeds / "ledger.jsonl").stat().st_size > 0
    # A reader ignores the unsealed lines; the next writer removes them.
    read_only = feedsvc("articles", "--json", "--seeds", str(seeds), epoch=NOW_EPOCH + HOUR, FEEDSVC_READ_ONLY="1")
    assert json.loads(ok(read_only).stdout) == expected
    again = feedsvc("articles", "--json", "--seeds", str(seeds), epoch=NOW_EPOCH + HOUR)
    assert again.exit_code == 0, again.output
    assert "interrupted run" in again.stderr
    assert json.loads(again.stdout) == expected
    assert history_files(seeds) == history_files(untouched)


def test_a_run_killed_after_starting_several_segments_leaves_none_of_them(
    recorded: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(history, "SEGMENT_BYTES", 2_000)
    untouched = tmp_path / "untouched"
    shutil.copytree(recorded, untouched)
    for seeds in (recorded, untouched):
        (seeds / "011_many.txt").write_text("".join(story(f"Story Number {n}") for n in range(12)))
    killed_before_its_seal(recorded, NOW_EPOCH + 48 * HOUR)
    sealed = json.loads((recorded / "ledger.seal").read_bytes())["segments"]
    assert len(set(history_files(recorded)) - {name for name, _, _ in sealed} - {"ledger.seal"}) >= 2
    for epoch in (NOW_EPOCH + 49 * HOUR, NOW_EPOCH + 72 * HOUR):
        assert listing(recorded, epoch) == listing(untouched, epoch)
        (recorded / f"{epoch}.txt").write_text(story(f"Filed At {epoch}"))
        (untouched / f"{epoch}.txt").write_text(story(f"Filed At {epoch}"))
    ok(feedsvc("ledger", "verify", "--seeds", str(recorded)))
    assert history_files(recorded) == history_files(untouched)


# The cache is disposable


# The tables of the first release of the cache, holding an article the history never had.
EARLIER_CACHE = """
CREATE TABLE meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE records (id TEXT PRIMARY KEY, seq INTEGER NOT NULL, published TEXT NOT NULL, category TEXT NOT NULL, line TEXT NOT NULL);
INSERT INTO meta VALUES ('format', '1');
INSERT INTO records VALUES ('stale', 1, '2020-01-01T00:00:00Z', 'Stale', '{}');
"""


@pytest.mark.parametrize("harm", ["deleted", "damaged", "from an earlier version"])
def test_the_cache_is_rebuilt_from_the_history(recorded: Path, harm: str) -> None:
    expected = listing(recorded, NOW_EPOCH + 24 * HOUR)
    cache_files = list((recorded / CACHE_FOLDER).glob("*.sqlite"))
    assert cache_files
    if harm != "damaged":
        drop_cache(recorded)
    for path in cache_files if harm != "deleted" else []:
        if harm == "damaged":
            path.write_bytes(b"this is not a database" * 100)
        else:
            path.parent.mkdir(exist_ok=True)
            with contextlib.closing(sqlite3.connect(path)) as db:
                db.executescript(EARLIER_CACHE)
    again = feedsvc("articles", "--json", "--seeds", str(recorded), epoch=NOW_EPOCH + 48 * HOUR)
    assert again.exit_code == 0 and again.stderr == ""
    assert json.loads(again.stdout) == expected


@pytest.mark.parametrize("run", ["read-only", "writing", "writing, then with the cache deleted"])
def test_a_history_without_its_site_line_lists_the_ids_its_feeds_publish(recorded: Path, tmp_path: Path, run: str) -> None:
    out = tmp_path / "out"
    ok(feedsvc("build", "--seeds", str(recorded), "--out", str(out), epoch=NOW_EPOCH + 24 * HOUR))
    published = {entry.id for entry in feedparser.parse((out / "feeds" / "all.atom").read_bytes()).entries}
    expected = listing(recorded, NOW_EPOCH + 24 * HOUR)
    ledger = recorded / "ledger.jsonl"
    kept = [line for line in ledger.read_bytes().splitlines(keepends=True) if b'"kind":"site"' not in line]
    ledger.write_bytes(b"".join(kept))  # as a history written before it named the site_key
    ok(feedsvc("ledger", "reseal", "--seeds", str(recorded)))
    read_only = {"FEEDSVC_READ_ONLY": "1"} if run == "read-only" else {}
    found = json.loads(ok(feedsvc("articles", "--json", "--seeds", str(recorded), epoch=NOW_EPOCH + 48 * HOUR, **read_only)).stdout)
    if run == "writing, then with the cache deleted":
        drop_cache(recorded)
        found = listing(recorded, NOW_EPOCH + 48 * HOUR)
    assert found == expected
    assert {article["iri"] for article in found} == published


def test_the_cache_can_live_elsewhere(seeds: Path, tmp_path: Path) -> None:
    elsewhere = tmp_path / "local disk"
    result = feedsvc("articles", "--seeds", str(seeds), FEEDSVC_CACHE=str(elsewhere))
    assert result.exit_code == 0, result.output
    assert list(elsewhere.glob("*.sqlite")) and not (seeds / CACHE_FOLDER).exists()


# Segments


def test_a_long_history_is_split_into_segments_that_read_back_whole(seeds: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(history, "SEGMENT_BYTES", 8_000)
    listing(seeds)
    for day in range(1, 6):
        (seeds / f"0{10 + day}_day.txt").write_text("".join(story(f"Day {day} Story {n}") for n in range(8)))
        listing(seeds, NOW_EPOCH + day * 24 * HOUR)
    files = history_files(seeds)
    segments = [name for name, _, _ in json.loads(files["ledger.seal"])["segments"]]
    assert segments[0] == "ledger.jsonl" and len(segments) >= 3
    assert set(files) == {"ledger.seal", *segments}  # every committed file is named ledger*
    assert segments[1:] == [f"ledger.{n}.jsonl" for n in range(2, len(segments) + 1)]
    assert all(len(body) < 8_000 + 4_000 for body in files.values())  # closed soon after the limit
    expected = listing(seeds, NOW_EPOCH + 6 * 24 * HOUR)
    assert len(expected) == 18 + 40
    drop_cache(seeds)
    assert listing(seeds, NOW_EPOCH + 6 * 24 * HOUR) == expected
    (seeds / segments[1]).unlink()
    missing = feedsvc("articles", "--seeds", str(seeds))
    assert missing.exit_code == 1 and segments[1] in missing.output and "missing" in missing.output


# Migration from a version-1 ledger


@pytest.fixture
def v1_site(tmp_path: Path) -> Path:
    seeds = copy_seeds(tmp_path / "seeds")
    shutil.copyfile(V1 / "ledger.jsonl", seeds / "ledger.jsonl")
    return seeds


def test_reading_a_version_1_ledger_writes_nothing(v1_site: Path, tmp_path: Path) -> None:
    before = history_files(v1_site)
    for command in (["build", "--check", "--out", str(tmp_path / "out")], ["build", "--diff"], ["preview"]):
        result = feedsvc(*command, "--seeds", str(v1_site), epoch=1_700_000_300)
        assert result.exit_code in (0, 1), result.output
        assert "Traceback" not in result.output
        assert history_files(v1_site) == before, command


def test_the_first_writing_command_converts_a_version_1_ledger_losing_nothing(v1_site: Path) -> None:
    result = ok(feedsvc("articles", "--json", "--all", "--seeds", str(v1_site), epoch=1_700_000_300))
    assert "converted the version-1 ledger" in result.stderr
    assert json.loads(result.stdout) == json.loads((V1 / "articles.json").read_text())
    assert json.loads((v1_site / "ledger.jsonl").read_bytes().split(b"\n", 1)[0]) == {"feedsvc_ledger": 2}
    assert (v1_site / "ledger.seal").exists()
    exported = ok(feedsvc("ledger", "export", "--seeds", str(v1_site))).stdout_bytes
    assert exported == (V1 / "ledger.jsonl").read_bytes()
    drop_cache(v1_site)
    assert ok(feedsvc("ledger", "export", "--seeds", str(v1_site))).stdout_bytes == exported


def test_compact_keeps_everything_and_shortens_the_history(recorded: Path) -> None:
    article = listing(recorded)[0]["id"]
    for step in range(3):
        ok(feedsvc("takedown", article, "--seeds", str(recorded), epoch=NOW_EPOCH + (50 + step) * HOUR))
        (recorded / f"02{step}_more.txt").write_text(story(f"More {step}"))
    listing(recorded, NOW_EPOCH + 60 * HOUR)
    exported = ok(feedsvc("ledger", "export", "--seeds", str(recorded))).stdout_bytes
    lines_before = (recorded / "ledger.jsonl").read_bytes().count(b"\n")
    result = ok(feedsvc("ledger", "compact", "--seeds", str(recorded)))
    lines_after = (recorded / "ledger.jsonl").read_bytes().count(b"\n")
    assert f"{lines_before} lines compacted to {lines_after}" in result.output and lines_after < lines_before
    assert ok(feedsvc("ledger", "export", "--seeds", str(recorded))).stdout_bytes == exported
    assert "match the seal" in ok(feedsvc("ledger", "verify", "--seeds", str(recorded))).output
