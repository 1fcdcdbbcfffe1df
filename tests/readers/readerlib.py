"""The `reader` library (lemon24/reader) as a subscriber: a database of its
own, subscriptions, updates, and its stored entries as `Seen` records."""

from __future__ import annotations

import logging
from contextlib import closing
from pathlib import Path

from reader import Reader, UpdateResult, make_reader

from .watch import Seen


# reader 3.26 hands feedparser the response headers in a plain dict, where
# feedparser looks for a lower-case "content-type" and so warns, for every
# server, that none was sent. test_feedparser.py shows the header is there.
logging.getLogger("reader.parser.feedparser").setLevel(logging.ERROR)


def open_reader(database: Path) -> Reader:
    return make_reader(str(database))


def update(reader: Reader) -> dict[str, UpdateResult]:
    """Update every subscription now, not when reader's schedule says; the
    simulated days pass in seconds."""
    return {result.url: result for result in reader.update_feeds_iter(scheduled=False)}


def errors(results: dict[str, UpdateResult]) -> dict[str, str]:
    return {url: repr(result.error) for url, result in results.items() if result.error}


def body(entry) -> str:
    """The entry's text: Atom and JSON Feed carry content, RSS a description."""
    html = [c.value for c in entry.content if c.type == "text/html"]
    if html:
        return html[0]
    if entry.content:
        return entry.content[0].value
    return entry.summary or ""


def entries(reader: Reader, feed_url: str) -> list[Seen]:
    return [Seen(e.id, e.title or "", body(e), e.published, e.updated) for e in reader.get_entries(feed=feed_url)]


def snapshot(database: Path, feed_url: str) -> list[Seen]:
    with closing(open_reader(database)) as reader:
        return entries(reader, feed_url)
