"""Four builds on one seeds folder at once, each with its own clock, over
an empty ledger, with a server starting beside them: every build exits 0,
all publish the same first-seen times (so the same bytes, topic feeds
included), and the server serves exactly what they wrote."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import pytest

from feedsvc.publish.check import check_tree

from .servers import Gunicorn
from .test_crashes import ARCHIVE_SIZE, BASE_URL, FEED_SIZE, build_command, bulk_page, environment
from .test_hostile_requests import NOW_EPOCH, copy_site

from conftest import stored_ledger

CLOCKS = [NOW_EPOCH, NOW_EPOCH + 1_000, NOW_EPOCH + 2_000, NOW_EPOCH + 3_000]
SERVER_CLOCK = NOW_EPOCH + 4_000
# A topic feed: whoever runs first records when its settings were first seen.
TOPIC = '\n[[topics]]\nname = "The Wharf"\ninclude = ["wharf", "WCO"]\n'


def undated_page(count: int) -> str:
    """Cards without a trailer: their published time is their first-seen time."""
    return "".join(f"Undated Story {n} From The Wharf\n\nThe wharf reported story {n} today.\n\n" for n in range(count))


def published_files(out: Path) -> dict[str, bytes]:
    return {p.relative_to(out).as_posix(): p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file() and not p.name.startswith(".")}


@pytest.mark.parametrize("topics", [False, True], ids=["categories", "topics"])
def test_four_builds_and_a_server_at_once_agree(tmp_path: Path, topics: bool) -> None:
    seeds = copy_site(tmp_path)
    if topics:
        with (seeds / "feedsvc.toml").open("a", encoding="utf-8") as settings:
            settings.write(TOPIC)
    (seeds / "010_bulk.txt").write_text(bulk_page(0, 200))
    (seeds / "011_undated.txt").write_text(undated_page(60))
    assert not (seeds / "ledger.jsonl").exists()
    outs = [tmp_path / f"out{n}" for n in range(len(CLOCKS))]
    builds = [
        subprocess.Popen(build_command(seeds, out), env=environment(clock), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for out, clock in zip(outs, CLOCKS)
    ]
    # The server's own first ingest races the builds for the empty ledger.
    sizes = {"SOURCE_DATE_EPOCH": str(SERVER_CLOCK), "FEEDSVC_FEED_SIZE": str(FEED_SIZE), "FEEDSVC_ARCHIVE_SIZE": str(ARCHIVE_SIZE)}
    server = Gunicorn(seeds, tmp_path / "gunicorn.log", environ=sizes)
    try:
        for build in builds:
            _, stderr = build.communicate(timeout=300)
            assert build.returncode == 0, stderr

        ledger = stored_ledger(seeds / "ledger.jsonl")
        first_seen = {record.first_seen for record in ledger.records.values()}
        # Every page was there from the start: whoever ran first saw all of it.
        assert len(first_seen) == 1, first_seen
        assert int(first_seen.pop().timestamp()) in CLOCKS + [SERVER_CLOCK]

        trees = [published_files(out) for out in outs]
        assert ("feeds/topic/the-wharf.atom" in trees[0]) == topics == (seeds / "topics.json").exists()
        for out, tree in zip(outs[1:], trees[1:]):
            assert tree.keys() == trees[0].keys(), out
            differing = [name for name in tree if tree[name] != trees[0][name]]
            assert differing == [], f"{out.name} differs from out0 in {differing[:5]}"
        for out in outs:
            assert check_tree(out, BASE_URL).problems == []

        # The server agrees, byte for byte, once it has looked at the ledger.
        deadline = time.monotonic() + 30
        while True:
            served = {name: server.get("/" + name.removesuffix("index.html")) for name in trees[0]}
            differing = [name for name, reply in served.items() if reply.status != 200 or reply.body != trees[0][name]]
            if not differing or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        assert differing == [], f"the server serves other bytes for {differing[:5]}"
    finally:
        server.stop()
