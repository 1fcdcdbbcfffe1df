"""sfeed, the small Unix feed parser that follows no redirects: every feed
URL answers 200 directly, sfeed parses every entry of every Atom and RSS
feed, and `sfeed_update` run from an sfeedrc ends with exactly the served
entries per feed."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
from pathlib import Path

import pytest

from .conftest import need
from .harness import Server, fetch, json_items, sfeed_rows, subscription_feeds

pytestmark = pytest.mark.readers

# sfeed's TSV columns.
TIMESTAMP, TITLE, LINK, CONTENT, CONTENT_TYPE, ID, AUTHOR, ENCLOSURE, CATEGORY = range(9)


def xml_feeds(server: Server) -> list[str]:
    return [url for url in subscription_feeds(server) if not url.endswith(".json")]


def served(server: Server, url: str) -> dict[str, dict]:
    """The entries the server publishes at `url`, from its JSON Feed twin."""
    path = url[len(server.url) - 1 :].rsplit(".", 1)[0] + ".json"
    return {item["id"]: item for item in json_items(server, path)}


def epoch(stamp: str) -> int:
    return int(dt.datetime.fromisoformat(stamp).timestamp())


def test_sfeed_parses_every_entry_of_every_feed(sample_server: Server) -> None:
    need("sfeed")
    for url in xml_feeds(sample_server):
        reply = fetch(url)
        assert reply.status == 200, f"{url} answered {reply.status}; sfeed follows no redirects"
        rows = sfeed_rows(reply.body)
        expected = served(sample_server, url)
        assert len(rows) == len(expected), f"{url}: sfeed read {len(rows)} entries, {len(expected)} served"
        for row in rows:
            item = expected[row[ID]]
            assert row[TITLE] == item["title"] and row[LINK] == item["url"], url
            assert int(row[TIMESTAMP]) == epoch(item["date_published"]), f"{url}: {row[ID]} dated {row[TIMESTAMP]}"
            assert row[CONTENT], f"{url}: {row[ID]} has no content"


def test_sfeed_update_fetches_every_feed_directly(sample_server: Server, tmp_path: Path) -> None:
    need("sfeed")
    need("curl")
    urls = xml_feeds(sample_server)
    names = {url: url[len(sample_server.url) :].replace("/", "_") for url in urls}
    rc = tmp_path / "sfeedrc"
    lines = [f'sfeedpath="{tmp_path / "feeds"}"', "feeds() {"] + [f'\tfeed "{names[url]}" "{url}"' for url in urls] + ["}"]
    rc.write_text("\n".join(lines) + "\n", encoding="utf-8")
    (tmp_path / "feeds").mkdir()
    done = subprocess.run(
        ["sfeed_update", str(rc)],
        env={**os.environ, "HOME": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=120,
        start_new_session=True,  # sfeed_update signals its own process group on errors
    )
    assert done.returncode == 0, f"sfeed_update failed:\n{done.stdout}{done.stderr}"
    for url in urls:
        stored = (tmp_path / "feeds" / names[url]).read_text(encoding="utf-8").splitlines()
        ids = [line.split("\t")[ID] for line in stored]
        assert sorted(ids) == sorted(served(sample_server, url)), f"{url}: sfeed_update stored {len(ids)} entries"
    # sfeed_update's curl sends no User-Agent at all; gunicorn logs "-".
    answered = [(path, status) for status, _, path, _ in sample_server.logged("-", len(urls))]
    assert sorted(answered) == sorted((url[len(sample_server.url) - 1 :], 200) for url in urls), answered
