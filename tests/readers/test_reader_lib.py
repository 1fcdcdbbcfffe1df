"""The `reader` library (lemon24/reader) subscribed to the overall feed in
all three formats and to one category feed: every format stores the same
entries, a second update costs only 304s, and a new scrape with one new
article and one edited summary gives exactly one new entry and one entry
updated in place."""

from __future__ import annotations

from contextlib import closing
from pathlib import Path

import feedparser
from lxml import etree
import pytest

from .harness import Server, json_items, opml_feeds, wait_for_change
from .readerlib import entries, errors, open_reader, update
from .watch import plain

pytestmark = pytest.mark.readers

OVERALL = ("/feeds/all.atom", "/feeds/all.rss", "/feeds/all.json")
NEW_TITLE = "Rotterdam Opens a Customs Fast Lane for Rail Freight"
NEW_SUMMARY = "The port authority said trains with pre-cleared containers will skip the inland queue from next month."
EDIT = "Officials later confirmed that the inquiry will report before the end of the year."
# The server looks at its seeds folder at most once a second in each worker.


def subscriptions(server: Server) -> list[str]:
    category = next(url for url in opml_feeds(server) if "/category/" in url)
    return [server.absolute(path) for path in OVERALL] + [category]


def test_every_format_stores_the_same_entries_and_updates_cost_304s(sample_server: Server, tmp_path: Path) -> None:
    urls = subscriptions(sample_server)
    with closing(open_reader(tmp_path / "reader.sqlite")) as reader:
        for url in urls:
            reader.add_feed(url)
        first = update(reader)
        assert not errors(first), errors(first)
        served = [item["id"] for item in json_items(sample_server)]
        held = {url: entries(reader, url) for url in urls}
        overall = {url: {(e.id, e.title, e.published) for e in held[url]} for url in urls[:3]}
        assert len(set(map(frozenset, overall.values()))) == 1, "the three formats store different entries"
        assert sorted(e.id for e in held[urls[0]]) == sorted(served)
        for url in urls[:3]:
            texts = {e.id: plain(e.summary) for e in held[url]}
            assert texts == {e.id: plain(e.summary) for e in held[urls[0]]}, f"{url}: summaries differ from Atom's"
        category = [item["id"] for item in json_items(sample_server, urls[3][len(sample_server.url) - 1 :].replace(".atom", ".json"))]
        assert sorted(e.id for e in held[urls[3]]) == sorted(category) and set(category) <= set(served)

        sample_server.logged("python-reader", len(urls))
        second = update(reader)
        assert not errors(second), errors(second)
        assert all(result.value is None for result in second.values()), f"second update found changes: {second}"
        answered = sample_server.logged("python-reader", 2 * len(urls))[len(urls) :]
        assert sorted((path, status) for status, _, path, _ in answered) == sorted((url[len(sample_server.url) - 1 :], 304) for url in urls)
        assert {url: entries(reader, url) for url in urls} == held


def test_new_page_gives_one_new_entry_and_updates_the_edited_one_in_place(fresh_server: Server, tmp_path: Path) -> None:
    urls = subscriptions(fresh_server)
    with closing(open_reader(tmp_path / "reader.sqlite")) as reader:
        for url in urls:
            reader.add_feed(url)
        assert not errors(update(reader))
        before = {url: {e.id: e for e in entries(reader, url)} for url in urls}
        etag = fresh_server.get("/feeds/all.atom").headers["ETag"]

        edited_title = rescrape_front_page(fresh_server.seeds)
        wait_for_change(fresh_server, "/feeds/all.atom", etag)
        results = update(reader)
        assert not errors(results), errors(results)

        in_category = fresh_server.absolute(f"/feeds/category/{category_slug(fresh_server, NEW_TITLE)}.atom") == urls[3]
        for url in urls:
            after = {e.id: e for e in entries(reader, url)}
            added = set(after) - set(before[url])
            expected_new = 1 if url in urls[:3] or in_category else 0
            counted = results[url].value  # None: the server answered 304
            assert len(added) == expected_new == (counted.new if counted else 0), f"{url}: new entries {added}"
            if added:
                assert after[added.pop()].title == NEW_TITLE
            assert set(before[url]) <= set(after), f"{url}: lost entries"
            changed = {i for i in before[url] if before[url][i] != after[i]}
            edited = {i for i in before[url] if before[url][i].title == edited_title}
            assert changed == edited and (len(edited) == 1 or url == urls[3]), f"{url}: changed {changed}, edited {edited}"
            for entry_id in edited:
                old, new = before[url][entry_id], after[entry_id]
                assert plain(new.summary) == plain(old.summary) + " " + EDIT, f"{url}: edit did not arrive"
                assert new.published == old.published and new.title == old.title
                assert old.updated is None or new.updated > old.updated, f"{url}: updated did not move"
            assert (counted.modified if counted else 0) == len(edited)


def rescrape_front_page(seeds: Path) -> str:
    """Save a new scrape of page 000: a new article on top, and the first
    article's summary edited. Written aside and renamed, as a scraper
    should. Returns the edited article's title."""
    page = next(iter(sorted(seeds.glob("000_*.txt"))))
    blocks = page.read_text(encoding="utf-8").split("\n\n")
    title, repeat, summary = blocks[:3]
    assert title == repeat and summary.endswith("."), "page 000 no longer starts with a full card"
    blocks[2] = summary + " " + EDIT
    text = f"{NEW_TITLE}\n\n{NEW_TITLE}\n\n{NEW_SUMMARY}\n\n" + "\n\n".join(blocks)
    partial = seeds / ".000_rescraped.txt.part"
    partial.write_text(text, encoding="utf-8")
    partial.replace(seeds / "000_rescraped.txt")
    return title


def category_slug(server: Server, title: str) -> str:
    """The category slug of the entry titled `title`: its Atom term names
    the category, and the OPML lists that category's feed."""
    parsed = feedparser.parse(server.get("/feeds/all.atom").body)
    (entry,) = [e for e in parsed.entries if e.title == title]
    feeds = {outline.get("title").rpartition(": ")[2]: outline.get("xmlUrl") for outline in etree.fromstring(server.get("/feeds.opml").body).iter("outline")}
    return feeds[entry.tags[0].term].rsplit("/", 1)[1].removesuffix(".atom")
