"""newsboat, run the way cron runs it (`newsboat -x reload`, no terminal),
subscribed to the overall feed and every category feed: its sqlite cache
holds exactly the served entries, once each, and a second reload costs only
304s and changes nothing."""

from __future__ import annotations

from pathlib import Path

import pytest

from .conftest import need
from .harness import Newsboat, Server, json_items, opml_feeds
from .watch import plain

pytestmark = pytest.mark.readers


def served_ids(server: Server, atom_url: str) -> set[str]:
    path = atom_url[len(server.url) - 1 :].removesuffix(".atom") + ".json"
    return {item["id"] for item in json_items(server, path)}


def test_cache_holds_exactly_the_served_entries(sample_server: Server, tmp_path: Path) -> None:
    need("newsboat")
    atom = opml_feeds(sample_server)
    urls = atom + [sample_server.absolute("/feeds/all.rss")]
    newsboat = Newsboat(tmp_path / "newsboat", urls)
    newsboat.reload()
    assert not newsboat.feed_errors(), f"newsboat could not read {newsboat.feed_errors()}"

    everything = served_ids(sample_server, atom[0])
    assert {entry.id for entry in newsboat.entries()} == everything
    items = {item["id"]: item for item in json_items(sample_server)}
    for entry in newsboat.entries():
        assert entry.title == items[entry.id]["title"]
        assert plain(entry.summary) == plain(items[entry.id]["content_html"])
    # newsboat matches guids across feeds: an article listed in the overall
    # feed, in its category feed and in the RSS feed is stored once.
    counts = newsboat.guid_counts()
    assert sum(counts.values()) == len(everything) and set(counts.values()) == {1}, counts

    # Which feed an item is filed under moves between reloads (newsboat
    # fetches in parallel and the last feed to list a guid keeps it); the
    # item itself must not change.
    held = sorted(newsboat.entries(), key=lambda entry: entry.id)
    newsboat.reload()
    assert sorted(newsboat.entries(), key=lambda entry: entry.id) == held, "a reload with nothing new changed the cache"
    # newsboat 2.21 keeps a feed's ETag and Last-Modified only from its
    # second fetch on (on the first, the feed's cache row does not exist
    # yet), so the third reload is the first that can be conditional.
    sample_server.logged("newsboat", 2 * len(urls))
    newsboat.reload()
    assert sorted(newsboat.entries(), key=lambda entry: entry.id) == held
    third = sample_server.logged("newsboat", 3 * len(urls))[2 * len(urls) :]
    answered = sorted((path, status) for status, _, path, _ in third)
    assert answered == sorted((url[len(sample_server.url) - 1 :], 304) for url in urls), answered
