"""feedparser, the parser under most Python feed readers, reads every Atom
and RSS document the server publishes, and a second fetch that sends the
ETag and Last-Modified it got is answered 304."""

from __future__ import annotations

import json
from collections import Counter
import os
import subprocess
import sys
from pathlib import Path
from typing import Iterator

import feedparser
import pytest

from .conftest import SAMPLE_EPOCH, copy_sample_seeds
from .harness import Server, serving, subscription_feeds

pytestmark = pytest.mark.readers

# Small enough that the 18 sample articles spill into RFC 5005 archives.
FEED_SIZE = 5


@pytest.fixture(scope="module")
def archived_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    folder = tmp_path_factory.mktemp("archived")
    seeds = copy_sample_seeds(folder / "seeds")
    extra = {"SOURCE_DATE_EPOCH": SAMPLE_EPOCH, "FEEDSVC_FEED_SIZE": str(FEED_SIZE)}
    with serving(seeds, folder / "logs", extra) as server:
        yield server


def xml_feeds(server: Server) -> list[str]:
    return [url for url in subscription_feeds(server) if not url.endswith(".json")]


def parse(url: str, **conditions: str) -> feedparser.FeedParserDict:
    parsed = feedparser.parse(url, **conditions)
    assert "status" in parsed, f"{url}: feedparser could not fetch it: {parsed.get('bozo_exception')!r}"
    return parsed


def walk_archives(url: str) -> Iterator[tuple[str, feedparser.FeedParserDict]]:
    """A subscription feed, then each archive its prev-archive links lead to."""
    seen = set()
    while url and url not in seen:
        seen.add(url)
        parsed = parse(url)
        yield url, parsed
        url = next((link.href for link in parsed.feed.get("links", []) if link.rel == "prev-archive"), None)


def test_every_atom_and_rss_document_parses_without_bozo(archived_server: Server) -> None:
    documents = 0
    for feed in xml_feeds(archived_server):
        for url, parsed in walk_archives(feed):
            assert parsed.status == 200 and parsed.href == url, f"{url}: status {parsed.status}, ended at {parsed.href}"
            assert parsed.bozo == 0, f"{url}: bozo: {parsed.get('bozo_exception')!r}"
            assert parsed.version in {"atom10", "rss20"}, f"{url}: read as {parsed.version!r}"
            assert parsed.entries, f"{url}: no entries"
            for entry in parsed.entries:
                assert entry.id.startswith("urn:uuid:") and entry.title and entry.link.startswith(archived_server.url)
                dates = ("published_parsed", "updated_parsed") if parsed.version == "atom10" else ("published_parsed",)
                assert all(name in entry for name in dates), f"{url}: {entry.id} lacks a date"
            documents += 1
    # The subscription feeds and at least one archive behind them.
    assert documents > len(xml_feeds(archived_server))


def test_archives_rebuild_every_article_exactly_once(archived_server: Server, tmp_path: Path) -> None:
    """A reader that follows prev-archive links (RFC 5005) ends up with every
    article, each once, in both formats."""
    expected = {article["iri"] for article in ingest_articles(archived_server.seeds)}
    for fmt in ("atom", "rss"):
        ids = [entry.id for _, parsed in walk_archives(archived_server.absolute(f"/feeds/all.{fmt}")) for entry in parsed.entries]
        assert len(ids) == len(expected) and set(ids) == expected, f"{fmt}: {len(ids)} entries for {len(expected)} articles"
    first = parse(archived_server.absolute("/feeds/all.atom"))
    assert len(first.entries) == FEED_SIZE


def test_second_fetch_with_etag_and_last_modified_gets_304(sample_server: Server) -> None:
    feeds = xml_feeds(sample_server)
    for url in feeds:
        first = parse(url)
        assert first.status == 200 and first.etag and first.modified, f"{url}: no ETag or Last-Modified"
        again = parse(url, etag=first.etag, modified=first.modified)
        assert again.status == 304 and not again.entries, f"{url}: second fetch answered {again.status}"
        by_date = parse(url, modified=first.modified)
        assert by_date.status == 304, f"{url}: If-Modified-Since alone answered {by_date.status}"
    answered = Counter((path, status) for status, _, path, _ in sample_server.logged("feedparser", 3 * len(feeds)))
    expected = Counter()
    for url in feeds:
        path = url[len(sample_server.url) - 1 :]
        expected.update({(path, 200): 1, (path, 304): 2})
    assert answered == expected, f"the server's log says {answered}"


def ingest_articles(seeds: Path) -> list[dict]:
    """What the ingest layer publishes for `seeds`, without writing anything."""
    environ = {**os.environ, "SOURCE_DATE_EPOCH": SAMPLE_EPOCH, "FEEDSVC_READ_ONLY": "1"}
    done = subprocess.run([sys.executable, "-m", "feedsvc.cli", "articles", "--json", "--seeds", str(seeds)], env=environ, capture_output=True, text=True, check=True)
    return json.loads(done.stdout)
