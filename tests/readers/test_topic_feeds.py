"""Real readers subscribed to a topic feed and to the overall feed, served
by gunicorn: newsboat's cache and the `reader` library hold each article
once, under the id the overall feed gives it, and a change of the topic's
settings brings subscribers only the entries that were not there before."""

from __future__ import annotations

import json
from contextlib import closing
from pathlib import Path
from typing import Iterator

import pytest

from .conftest import SAMPLE_EPOCH, copy_sample_seeds, need
from .harness import Newsboat, Server, json_items, serving, wait_for_change
from .readerlib import entries, errors, open_reader, update

pytestmark = pytest.mark.readers

OVERALL = "/feeds/all.atom"
TOPIC = "/feeds/topic/wco"
TOPIC_TABLE = '\n[[topics]]\nname = "World Customs Organization"\nslug = "wco"\ninclude = {include}\nexclude = ["gender"]\n'
WORDS = ["WCO", "World Customs Organization"]


def set_topic(seeds: Path, include: list[str]) -> None:
    """The sample settings with the WCO topic, written aside and renamed."""
    toml = seeds / "feedsvc.toml"
    sample = toml.read_text(encoding="utf-8").split("\n[[topics]]")[0]
    partial = seeds / ".feedsvc.toml.part"
    partial.write_text(sample + TOPIC_TABLE.format(include=json.dumps(include)), encoding="utf-8")
    partial.replace(toml)


@pytest.fixture
def topic_server(tmp_path: Path) -> Iterator[Server]:
    seeds = copy_sample_seeds(tmp_path / "seeds")
    set_topic(seeds, WORDS)
    with serving(seeds, tmp_path / "logs", {"SOURCE_DATE_EPOCH": SAMPLE_EPOCH}, workers=1) as server:
        yield server


def served(server: Server, feed: str) -> set[str]:
    return {item["id"] for item in json_items(server, feed + ".json")}


def widen_topic(server: Server) -> tuple[set[str], set[str]]:
    """Add "customs" to the topic's words; wait until the server publishes
    the change. Returns the topic's ids before and after."""
    before = served(server, TOPIC)
    etag = server.get(TOPIC + ".atom").headers["ETag"]
    set_topic(server.seeds, [*WORDS, "customs"])
    wait_for_change(server, TOPIC + ".atom", etag)
    after = served(server, TOPIC)
    assert before < after, "the wider topic holds no new article"
    return before, after


def test_newsboat_holds_each_article_once_from_the_topic_and_the_overall_feed(topic_server: Server, tmp_path: Path) -> None:
    need("newsboat")
    urls = [topic_server.absolute(path) for path in (OVERALL, TOPIC + ".atom", TOPIC + ".rss")]
    newsboat = Newsboat(tmp_path / "newsboat", urls)
    newsboat.reload()
    assert not newsboat.feed_errors(), f"newsboat could not read {newsboat.feed_errors()}"
    everything, topic = served(topic_server, "/feeds/all"), served(topic_server, TOPIC)
    assert topic and topic < everything
    assert {entry.id for entry in newsboat.entries()} == everything
    counts = newsboat.guid_counts()
    assert set(counts.values()) == {1} and sum(counts.values()) == len(everything), counts

    held = sorted(newsboat.entries(), key=lambda entry: entry.id)
    widen_topic(topic_server)
    newsboat.reload()
    # The newly matching articles were already there, under the same ids.
    assert sorted(newsboat.entries(), key=lambda entry: entry.id) == held
    assert set(newsboat.guid_counts().values()) == {1}


def test_reader_stores_the_topic_entries_as_the_overall_feed_has_them(topic_server: Server, tmp_path: Path) -> None:
    urls = [topic_server.absolute(path) for path in (OVERALL, TOPIC + ".atom", TOPIC + ".json")]
    overall_url, topic_urls = urls[0], urls[1:]
    with closing(open_reader(tmp_path / "reader.sqlite")) as reader:
        for url in urls:
            reader.add_feed(url)
        assert not errors(update(reader))
        overall = {entry.id: entry for entry in entries(reader, overall_url)}
        assert set(overall) == served(topic_server, "/feeds/all")
        for url in topic_urls:
            held = entries(reader, url)
            assert len(held) == len({entry.id for entry in held}), f"{url}: an entry stored twice"
            assert {entry.id for entry in held} == served(topic_server, TOPIC)
            for entry in held:
                assert (entry.title, entry.published) == (overall[entry.id].title, overall[entry.id].published)
        before = {url: {entry.id: entry for entry in entries(reader, url)} for url in topic_urls}

        old, new = widen_topic(topic_server)
        results = update(reader)
        assert not errors(results), errors(results)
        assert results[overall_url].value is None, "the overall feed did not change"
        for url in topic_urls:
            after = {entry.id: entry for entry in entries(reader, url)}
            added = set(after) - set(before[url])
            # Only entries that were not there before; none changed.
            assert added == new - old and results[url].value.new == len(added), url
            assert results[url].value.modified == 0 and all(after[i] == before[url][i] for i in before[url])
            assert added <= set(overall)
