"""The ledger file: sorted JSON lines, written only when something changed,
never overwritten when it cannot be read, and shared safely by several
processes at once."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from feedsvc.store import ledger as ledger_file
from feedsvc.store import lines as codec
from feedsvc.core import marks
from feedsvc.config import Config, load_config
from feedsvc.errors import LedgerError
from feedsvc.store.ingest import ingest

from conftest import NOW_EPOCH, copy_seeds, stored_ledger


def lines_of(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_history_is_canonical_json_lines(config: Config, now) -> None:
    ingest(config, now)
    data = config.ledger_path.read_bytes()
    assert data.endswith(b"\n")
    raw = data.decode("utf-8").splitlines()
    entries = [json.loads(line) for line in raw]
    assert entries[0] == {"feedsvc_ledger": 2}
    assert entries[1] == {"kind": "site", "site_key": config.site_key, "created": ledger_file.stamp(now)}
    # One object per line, keys sorted, compact, non-ASCII kept readable.
    for line, entry in zip(raw, entries):
        assert line == json.dumps(entry, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    kinds = [entry["kind"] for entry in entries[1:]]
    assert kinds == sorted(kinds, key=["site", "page", "category", "alias", "split", "article"].index)
    pages = [(e["name"], e["sha256"]) for e in entries if e.get("kind") == "page"]
    assert pages == sorted(pages) and len(pages) == 2
    seqs = [e["seq"] for e in entries if e.get("kind") == "article"]
    assert seqs == list(range(1, 19))


def test_ledger_holds_what_the_issue_lists(config: Config, now) -> None:
    ingest(config, now)
    article = next(e for e in lines_of(config.ledger_path) if e.get("kind") == "article")
    for field in ["first_seen", "published", "category", "title", "summary", "content_hash", "updated", "withdrawn", "note", "pages"]:
        assert field in article
    page = next(e for e in lines_of(config.ledger_path) if e.get("kind") == "page")
    assert page["first_seen"] == "2025-10-09T08:53:20Z"


def test_a_change_writes_the_bytes_a_full_encoding_gives(config: Config, now) -> None:
    ingest(config, now)
    (config.seeds / "009_new.txt").write_text("New Story\n\nNew Story\n\nSomething to write.\n")
    result = ingest(config, now.replace(year=2026))
    assert result.written and result.new
    # Every line, old or new, is the canonical encoding of its entry.
    for line in config.ledger_path.read_bytes().splitlines():
        assert line.decode() == json.dumps(json.loads(line), ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def test_a_run_appends_only_what_it_changed(config: Config, now) -> None:
    ingest(config, now)
    path = config.ledger_path
    before = path.read_bytes()
    taken = next(e["id"] for e in lines_of(path) if e.get("kind") == "article")
    later = now.replace(year=2026)
    ingest(config, later, change=lambda current: marks.takedown(current, taken, later))
    after = path.read_bytes()
    # What git shows is pure additions: the old history is a prefix.
    assert after.startswith(before)
    [added] = [json.loads(line) for line in after[len(before) :].splitlines()]
    assert (added["kind"], added["id"], added["withdrawn"]) == ("article", taken, ledger_file.stamp(later))


def test_no_rewrite_when_nothing_changed(config: Config, now) -> None:
    ingest(config, now)
    path = config.ledger_path
    os.utime(path, ns=(1_000_000_000, 1_000_000_000))  # any write would move it
    before = path.read_bytes()
    result = ingest(config, now.replace(year=2030))
    assert result.written is False
    assert path.read_bytes() == before
    assert path.stat().st_mtime_ns == 1_000_000_000
    assert not [p for p in path.parent.iterdir() if p.name.endswith(".tmp")]


def test_first_run_writes_and_reports_it(config: Config, now) -> None:
    result = ingest(config, now)
    assert result.written and len(result.new) == 18 and config.ledger_path.exists()


def test_dry_run_writes_nothing(config: Config, now) -> None:
    result = ingest(config, now, write=False)
    assert len(result.articles(config.site_key)) == 18
    assert not config.ledger_path.exists()


def test_articles_survive_the_deletion_of_all_their_pages(config: Config, seeds: Path, now) -> None:
    first = ingest(config, now).articles(config.site_key)
    for page in seeds.glob("*.txt"):
        page.unlink()
    again = ingest(config, now.replace(year=2026))
    assert again.articles(config.site_key) == first
    assert again.pages_read == 0


def valid_ledger(config: Config, now) -> bytes:
    ingest(config, now)
    return config.ledger_path.read_bytes()


CORRUPTIONS = {
    "truncated": (lambda data: data[: len(data) - 40], "line {cut} of {last} is the last one"),
    "garbage line": (lambda data: data.replace(b"\n", b"\nnot json\n", 1), "line 2"),
    "blank line": (lambda data: data.replace(b"\n", b"\n\n", 1), "line 2"),
    "unknown version": (lambda data: data.replace(b'"feedsvc_ledger":2', b'"feedsvc_ledger":3', 1), "line 1"),
    "no header": (lambda data: data.split(b"\n", 1)[1], "line 1"),
    "unknown kind": (lambda data: data.replace(b'"kind":"page"', b'"kind":"pager"', 1), "line 3"),
    "missing field": (lambda data: data.replace(b'"first_seen":"2025-10-09T08:53:20Z",', b"", 1), "line 3"),
    "naive timestamp": (lambda data: data.replace(b'08:53:20Z"', b'08:53:20"', 2).replace(b'08:53:20"', b'08:53:20Z"', 1), "line 3"),
    "a changed title": (lambda data: data.replace(b"Body Found", b"Body Lost", 1), "does not match its seal"),
    "a deleted line": (lambda data: b"\n".join(line for n, line in enumerate(data.split(b"\n")) if n != 2), "line {cut} of {last}"),
    "invalid utf-8": (lambda data: data.replace(b"Logistics", b"Logistics\xff", 1), "line"),
}


@pytest.mark.parametrize("kind", CORRUPTIONS)
def test_unreadable_ledger_is_an_error_naming_file_and_line_and_is_left_untouched(config: Config, now, kind: str) -> None:
    corrupt, where = CORRUPTIONS[kind]
    path = config.ledger_path
    whole = valid_ledger(config, now)
    data = corrupt(whole)
    where = where.format(last=whole.count(b"\n"), cut=data.count(b"\n"))
    path.write_bytes(data)
    os.utime(path, ns=(1_000_000_000, 1_000_000_000))
    (config.seeds / "009_new.txt").write_text("New Story\n\nNew Story\n\nSomething to write.\n")
    with pytest.raises(LedgerError) as error:
        ingest(config, now.replace(year=2026))
    message = str(error.value)
    assert message.startswith(str(path)) and where in message and "\n" not in message
    assert path.read_bytes() == data
    assert path.stat().st_mtime_ns == 1_000_000_000


def test_category_without_slug_line_is_an_error(config: Config, now) -> None:
    data = b"\n".join(line for line in valid_ledger(config, now).split(b"\n") if b'"kind":"category"' not in line)
    with pytest.raises(LedgerError, match="has no slug line"):
        codec.replay(enumerate(data.splitlines(), start=1), "ledger.jsonl")


def test_missing_or_empty_ledger_is_empty(tmp_path: Path) -> None:
    assert stored_ledger(tmp_path / "none.jsonl").records == {}
    (tmp_path / "empty.jsonl").write_bytes(b"")
    assert stored_ledger(tmp_path / "empty.jsonl").records == {}


def test_ledger_can_live_outside_the_seeds_folder(seeds: Path, tmp_path: Path, now) -> None:
    elsewhere = tmp_path / "state" / "ledger.jsonl"
    config = load_config(seeds, environ={"FEEDSVC_LEDGER": str(elsewhere)})
    ingest(config, now)
    assert elsewhere.exists() and not (seeds / "ledger.jsonl").exists()


# Several processes at once.

WRITERS = 6


def unique_page(n: int) -> str:
    return f"Story Only Writer {n} Saw\n\nStory Only Writer {n} Saw\n\nWriter {n} alone had this page.\n"


def test_concurrent_writers_agree_and_lose_nothing(tmp_path: Path) -> None:
    """Six `feedsvc articles` processes, each with its own clock and its own
    seeds folder (the shared sample pages plus one page of its own), update
    one ledger that does not exist yet, all at the same moment."""
    ledger = tmp_path / "shared" / "ledger.jsonl"
    procs = []
    for n in range(WRITERS):
        seeds = copy_seeds(tmp_path / f"seeds{n}")
        (seeds / f"100_writer{n}.txt").write_text(unique_page(n), encoding="utf-8")
        env = {k: v for k, v in os.environ.items() if not k.startswith("FEEDSVC_")}
        env["SOURCE_DATE_EPOCH"] = str(NOW_EPOCH + 1000 * n)
        command = [sys.executable, "-m", "feedsvc.cli", "articles", "--json", "--seeds", str(seeds), "--ledger", str(ledger)]
        procs.append(subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE))
    outputs = []
    for proc in procs:
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err.decode()
        outputs.append({a["id"]: a for a in json.loads(out)})

    final = stored_ledger(ledger)
    titles = {record.title for record in final.records.values()}
    # Nothing lost: every writer's own story is in the ledger.
    assert {f"Story Only Writer {n} Saw" for n in range(WRITERS)} <= titles
    assert len(final.records) == 18 + WRITERS
    # Everyone agrees on the shared articles' first sight and dates.
    shared = [record.id for record in final.records.values() if not record.title.startswith("Story Only Writer")]
    for ident in shared:
        seen = {(o[ident]["first_seen"], o[ident]["published"], o[ident]["updated"]) for o in outputs}
        assert len(seen) == 1
        assert seen.pop()[0] == final.records[ident].first_seen.strftime("%Y-%m-%dT%H:%M:%SZ")
    first_seen = {record.first_seen.timestamp() for record in final.records.values() if record.id in shared}
    assert len(first_seen) == 1 and int(first_seen.pop()) in {NOW_EPOCH + 1000 * n for n in range(WRITERS)}
    # Each writer's story was first seen by that writer, at its own clock.
    for record in final.records.values():
        if record.title.startswith("Story Only Writer"):
            n = int(record.title.split()[3])
            assert int(record.first_seen.timestamp()) == NOW_EPOCH + 1000 * n
    assert not [p for p in ledger.parent.iterdir() if p.name.endswith(".tmp")]


def test_a_page_rewritten_with_the_same_size_and_time_is_read_again(config: Config, now) -> None:
    page = config.seeds / "009_same.txt"
    page.write_text("Old Story\n\nOld Story\n\nFirst words.\n")
    ingest(config, now)
    ingest(config, now.replace(year=2026))  # pages are remembered by their stat now
    stat = page.stat()
    page.write_text("New Story\n\nNew Story\n\nOther words.\n")  # as many bytes
    os.utime(page, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert page.stat().st_size == stat.st_size and page.stat().st_mtime_ns == stat.st_mtime_ns
    titles = {a.title for a in ingest(config, now.replace(year=2027)).articles(config.site_key)}
    assert "New Story" in titles
