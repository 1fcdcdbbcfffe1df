"""kill -9 at random moments, many times over: of `feedsvc build` while it
writes the ledger and the tree, and of a server worker while it rebuilds.
Every time, the tree passes `feedsvc check`, the ledger loads, and no entry
it ever held is lost or changes its first-seen time."""

from __future__ import annotations

import datetime as dt
import os
import random
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from feedsvc.publish import export
from feedsvc.publish.manifest import PENDING_NAME, state_folder
from feedsvc.publish.check import check_tree
from feedsvc.config import load_config
from feedsvc.core.models import Ledger
from feedsvc.core.text import article_id, title_key
from feedsvc.site.routes import article_path

from processes import kill_when

from .servers import Gunicorn
from .test_hostile_requests import NOW, NOW_EPOCH, copy_site

from conftest import stored_ledger

BASE_URL = "http://127.0.0.1:8000/"
BUILD_KILLS = 20
WORKER_KILLS = 12
SEED = 20251009  # fixed, so a failure can be replayed


def bulk_page(first: int, count: int, edit: int = 0) -> str:
    """`count` new cards from number `first`, then `edit` earlier cards
    again with new wording (an edit to an article already published)."""
    cards = []
    for n in range(first, first + count):
        title = f"Corridor Report Number {n} Opens"
        cards.append(f"{title}\n\n{title}\n\nThe corridor carried freight lot {n} across the border.\n\n{1 + n % 9:02d}/{10 + n % 9}/2024 Region {n % 7}\n")
    for n in range(edit):
        title = f"Corridor Report Number {n} Opens"
        cards.append(f"{title}\n\n{title}\n\nThe corridor carried freight lot {n} again, revised {first}.\n\n{1 + n % 9:02d}/{10 + n % 9}/2024 Region {n % 7}\n")
    return "".join(cards)


# Small feeds, so every build also fills archives. Each round below adds
# fewer articles than an archive holds: see the known limit further down.
FEED_SIZE, ARCHIVE_SIZE = 10, 50


def environment(epoch: int) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FEEDSVC_")}
    env.update(SOURCE_DATE_EPOCH=str(epoch), FEEDSVC_FEED_SIZE=str(FEED_SIZE), FEEDSVC_ARCHIVE_SIZE=str(ARCHIVE_SIZE))
    return env


def build_command(seeds: Path, out: Path) -> list[str]:
    return [sys.executable, "-m", "feedsvc.cli", "build", "--seeds", str(seeds), "--out", str(out), "--base-url", BASE_URL]


def assert_nothing_lost(before: Ledger, after: Ledger, when: str) -> None:
    missing = set(before.records) - set(after.records)
    assert not missing, f"{when}: the ledger lost {len(missing)} article(s)"
    moved = [i for i, r in before.records.items() if after.records[i].first_seen != r.first_seen or after.records[i].published != r.published]
    assert not moved, f"{when}: first-seen or published moved for {moved[:3]}"
    assert set(before.pages) <= set(after.pages), f"{when}: the ledger forgot a page"


# The known limit pinned below: archives link both ways, so while a build
# adds two archives to one feed, the first renamed links to one not yet
# written. Nothing a reader can reach links to either until the build ends.
_ARCHIVE_LINK_AHEAD = re.compile(r"rel=(prev|next)-archive '[^']*/archive/\d+\.(atom|rss)' does not resolve")


# The other documented window: the formats of one feed are renamed one after
# the other, so a kill between two renames leaves them one build apart. Only
# files the killed build had listed in its journal may show it.
_FORMATS_APART = "ids differ from the other format of this feed"


def assert_tree_checks(out: Path, when: str, allow_killed_build_windows: bool = False) -> None:
    report = check_tree(out, BASE_URL)
    assert report.documents > 0, when
    problems = report.problems
    if allow_killed_build_windows:
        being_written = export.read_pending(state_folder(load_config(out.parent / "seeds", environ={}), out))
        problems = [p for p in problems if not ("/archive/" in p.source and _ARCHIVE_LINK_AHEAD.search(p.message))]
        problems = [p for p in problems if not (p.source in being_written and p.message.startswith(_FORMATS_APART))]
    assert problems == [], f"{when}: " + "; ".join(str(p) for p in problems[:5])


def test_kill_9_of_a_build_at_any_moment_leaves_a_whole_tree_and_ledger(tmp_path: Path, rng: random.Random) -> None:
    seeds, out = copy_site(tmp_path), tmp_path / "out"
    (seeds / "010_bulk.txt").write_text(bulk_page(0, 300))
    subprocess.run(build_command(seeds, out), env=environment(NOW_EPOCH), check=True, capture_output=True)
    assert_tree_checks(out, "after the first build")
    ever = stored_ledger(seeds / "ledger.jsonl")

    interrupted = 0
    for round_ in range(BUILD_KILLS):
        # New articles, edits to old ones, and a page that disappears.
        # A new category too, small enough to need no archive yet.
        desk = "".join(f"Desk {round_} Note {n}\n\nDesk {round_} Note {n}\n\nA short note.\n\n03/0{1 + n}/2025 Desk {round_}\n" for n in range(3))
        (seeds / f"{20 + round_:03d}_round.txt").write_text(bulk_page(1000 + 100 * round_, 40, edit=30) + desk)
        (seeds / f"{19 + round_:03d}_round.txt").unlink(missing_ok=round_ == 0)
        moment = kill_moment(rng, seeds, out)
        build = subprocess.Popen(build_command(seeds, out), env=environment(NOW_EPOCH + 60 * (round_ + 1)), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        interrupted += kill_when(build, moment)
        when = f"after kill {round_ + 1}"
        now = stored_ledger(seeds / "ledger.jsonl")  # raises if it does not load
        assert_nothing_lost(ever, now, when)
        ever = now
        assert_tree_checks(out, when, allow_killed_build_windows=True)
    assert interrupted, "no kill landed while a build ran"

    # Once left alone, a build finishes and publishes everything.
    final = subprocess.run(build_command(seeds, out), env=environment(NOW_EPOCH + 86_400), capture_output=True, text=True)
    assert final.returncode == 0, final.stderr
    checked = subprocess.run([sys.executable, "-m", "feedsvc.cli", "check", str(out), "--base-url", BASE_URL], capture_output=True, text=True)
    assert checked.returncode == 0, checked.stdout
    last = stored_ledger(seeds / "ledger.jsonl")
    assert_nothing_lost(ever, last, "after the final build")
    published = {p.parent.name for p in (out / "articles").glob("*/index.html")}
    assert published == {i for i, r in last.records.items() if r.withdrawn is None}
    leftovers = [p.name for p in out.rglob(".*.tmp")]
    assert leftovers == [], f"temporary files left behind: {leftovers[:5]}"


def kill_moment(rng: random.Random, seeds: Path, out: Path):
    """A point of a build's progress, chosen at random: as it starts, once
    it has written the ledger, once it starts writing the tree, or after
    some of the tree's files have been renamed into place."""
    ledger = seeds / "ledger.jsonl"
    ledger_before = ledger.stat().st_mtime_ns
    files_before = {p: p.stat().st_mtime_ns for p in out.rglob("*") if p.is_file()}
    renamed = rng.randint(1, 120)

    def files_changed() -> int:
        return sum(1 for p in out.rglob("*") if p.is_file() and files_before.get(p) != _mtime(p))

    return rng.choice(
        [
            lambda: True,
            lambda: _mtime(ledger) != ledger_before,
            lambda: (state_folder(load_config(seeds, environ={}), out) / PENDING_NAME).exists(),
            lambda: files_changed() >= renamed,
        ]
    )


def _mtime(path: Path) -> int | None:
    try:
        return path.stat().st_mtime_ns
    except FileNotFoundError:
        return None


def test_kill_9_of_a_server_worker_loses_no_ledger_entry(tmp_path: Path) -> None:
    rng = random.Random(SEED + 1)
    seeds = copy_site(tmp_path)
    server = Gunicorn(seeds, tmp_path / "gunicorn.log", environ={"SOURCE_DATE_EPOCH": str(NOW_EPOCH)})
    try:
        ever = stored_ledger(seeds / "ledger.jsonl")
        titles = []
        for round_ in range(WORKER_KILLS):
            page = bulk_page(2000 + 100 * round_, 30, edit=0)
            (seeds / f"{30 + round_:03d}_landed.txt").write_text(page)
            titles.append(f"Corridor Report Number {2000 + 100 * round_} Opens")
            # Workers notice a page within a poll, read it once it has
            # settled for a second, then ingest: kill anywhere in that.
            deadline = time.monotonic() + rng.uniform(0.0, 3.0)
            while time.monotonic() < deadline:
                server.get("/feeds/all.atom")  # requests are what make a worker look
                time.sleep(0.05)
            workers = server.workers()
            assert workers, "the server has no workers"
            os.kill(rng.choice(workers), signal.SIGKILL)
            now = stored_ledger(seeds / "ledger.jsonl")
            assert_nothing_lost(ever, now, f"after worker kill {round_ + 1}")
            ever = now
        # The master replaces the killed workers, and every page is served.
        paths = [article_path(article_id(title_key(title))) for title in titles]
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            missing = [path for path in paths if server.get(path).status != 200]
            if len(server.workers()) == 2 and not missing and server.get("/healthz").status == 200:
                break
            time.sleep(0.2)
        else:
            health = server.get("/healthz")
            raise AssertionError(
                f"the server did not recover: workers {server.workers()}, healthz {health.status} {health.body!r}, "
                f"missing {missing}:\n{server.log()[-3000:]}"
            )
    finally:
        server.stop()
    last = stored_ledger(seeds / "ledger.jsonl")
    assert_nothing_lost(ever, last, "at the end")
    for title in titles:
        assert any(r.title == title for r in last.records.values()), title
    # The ledger the workers left builds a tree that passes the check.
    out = tmp_path / "out"
    subprocess.run(build_command(seeds, out), env=environment(NOW_EPOCH + 3600), check=True, capture_output=True)
    assert_tree_checks(out, "a build from the workers' ledger")


class Killed(BaseException):
    """Stands for kill -9 at one exact moment of a build."""


@pytest.mark.xfail(
    strict=True,
    reason="known limit: archives link both ways (prev and next), so a build that adds two or more archives "
    "to one feed has a moment where the newest links to one not yet written",
)
def test_a_build_stopped_between_two_new_archives_leaves_a_tree_that_checks(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    seeds, out = copy_site(tmp_path), tmp_path / "out"
    config = load_config(seeds, environ={}, feed_size=FEED_SIZE, archive_size=20, base_url=BASE_URL)
    export.build(config, out, NOW)
    (seeds / "010_bulk.txt").write_text(bulk_page(0, 60))  # three blocks of 20: new archives
    commit = export.Tree.commit

    def commit_then_die(tree, temporary: str, file: str) -> None:
        commit(tree, temporary, file)
        if "/archive/" in file and file.endswith(".rss"):
            raise Killed(file)

    monkeypatch.setattr(export.Tree, "commit", commit_then_die)
    with pytest.raises(Killed):
        export.build(config, out, NOW + dt.timedelta(minutes=1))
    assert_tree_checks(out, "stopped right after the first new archive")
