"""Topic feeds: the settings that define them, which articles they hold as
articles are edited, how their timestamps follow edits and changes of
their settings, and how they are served and exported like category feeds.
Feeds are read back with lxml, the RELAX NG grammar and feedparser."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import feedparser
import lxml.html
import pytest
from click.testing import CliRunner
from lxml import etree

from feedcheck import check, feed_updated, ids
from feedsvc.cli import main
from feedsvc.config import load_config
from feedsvc.core.models import TopicKey
from feedsvc.errors import ConfigError
from feedsvc.publish.check import check_tree
from feedsvc.serve.app import create_app
from feedsvc.site import routes as urls
from feedsvc.site.model import Site
from feedsvc.store import topics as topic_record
from feedsvc.store.ingest import ingest
from sitebuild import card, write_page

from conftest import copy_seeds

DAY = dt.timedelta(days=1)
START = dt.datetime(2025, 3, 1, 9, 0, tzinfo=dt.timezone.utc)
WCO = TopicKey("wco")
SITE = 'site_key = "topic-tests"\nsite_title = "Topic Tests"\n'
WCO_TOPIC = """
[[topics]]
name = "World Customs Organization"
slug = "wco"
include = {include}
exclude = ["gender"]
"""


def settings(seeds: Path, include: list[str] = ("WCO", "World Customs Organization"), extra: str = "") -> None:
    (seeds / "feedsvc.toml").write_text(SITE + WCO_TOPIC.format(include=json.dumps(list(include))) + extra, encoding="utf-8")


def new_seeds(tmp_path: Path, **kwargs: object) -> Path:
    seeds = tmp_path / "seeds"
    seeds.mkdir()
    settings(seeds, **kwargs)
    return seeds


def publish(seeds: Path, now: dt.datetime, **overrides: object) -> Site:
    """The site as `feedsvc build` and the server publish it at `now`:
    ingest, bring the record of topics up to date, build the site."""
    config = load_config(seeds, environ={}, **overrides)
    result = ingest(config, now)
    return Site.from_ingest(config, result, topic_marks=topic_record.settle(config, result.ledger, now))


def titles(site: Site, key: object = WCO, fmt: str = "atom") -> list[str]:
    return sorted(entry.title for entry in feedparser.parse(site.render(urls.feed_path(key, fmt)).body).entries)


def feed_ids(site: Site, key: object, fmt: str) -> set[str]:
    path = urls.feed_path(key, fmt)
    return set(ids(path, site.render(path).body))


def stamps(site: Site, key: object = WCO) -> set[dt.datetime]:
    """The updated time in the bytes and the Last-Modified of every format."""
    found = set()
    for fmt in ("atom", "rss"):
        resource = site.render(urls.feed_path(key, fmt))
        found |= {feed_updated(urls.feed_path(key, fmt), resource.body), resource.last_modified}
    found.add(site.render(urls.feed_path(key, "json")).last_modified)
    return found


BRUSSELS = "Customs Chiefs Meet in Brussels"
RAIL = "Rail Freight Grows Again"


def brussels(summary: str = "The WCO council met on Monday.") -> str:
    return card(BRUSSELS, summary, dt.date(2025, 2, 1), "Customs")


def rail(summary: str = "Volumes rose in January.") -> str:
    return card(RAIL, summary, dt.date(2025, 2, 2), "Logistics")


# Settings


def test_a_topic_takes_its_slug_from_its_name_and_may_share_a_category_slug(tmp_path):
    seeds = new_seeds(tmp_path, extra='\n[[topics]]\nname = "Customs"\ninclude = ["customs"]\n')
    config = load_config(seeds, environ={})
    assert [(t.name, t.slug, t.fields) for t in config.topics] == [
        ("World Customs Organization", "wco", ("title", "summary")),
        ("Customs", "customs", ("title", "summary")),
    ]
    write_page(seeds, "001_page.txt", [brussels(), rail()])
    site = publish(seeds, START)
    # The category and the topic named Customs live at paths of their own.
    assert titles(site, "customs") == titles(site, TopicKey("customs")) == [BRUSSELS]
    assert urls.feed_path("customs", "atom") != urls.feed_path(TopicKey("customs"), "atom")


@pytest.mark.parametrize(
    ("topics", "named"),
    [
        ('[[topics]]\nname = "A"\ninclude = []\n', "topics.include"),
        ('[[topics]]\nname = "A"\nexclude = ["x"]\n', "topics.include"),
        ('[[topics]]\nname = "A"\ninclude = ["  "]\n', "topics.include"),
        ('[[topics]]\nname = "A"\nslug = "x"\ninclude = ["a"]\n[[topics]]\nname = "B"\nslug = "x"\ninclude = ["b"]\n', "topics.slug 'x'"),
        ('[[topics]]\nname = "Ports"\ninclude = ["a"]\n[[topics]]\nname = "ports"\ninclude = ["b"]\n', "topics.slug 'ports'"),
        ('[[topics]]\nname = "A"\ninclude = ["a"]\nfields = ["body"]\n', "topics.fields"),
        ('[[topics]]\nname = "A"\ninclude = ["a"]\nfields = []\n', "topics.fields"),
        ('[[topics]]\nname = "A"\ninclude = ["a"]\nslug = "../up"\n', "topics.slug"),
        ('[[topics]]\nname = "A"\ninclude = "a"\n', "topics.include"),
        ('[[topics]]\ninclude = ["a"]\n', "topics.name"),
        ('[[topics]]\nname = "A"\nincludes = ["a"]\n', 'did you mean "include"'),
    ],
)
def test_an_invalid_topic_is_a_configuration_error_naming_the_setting(tmp_path, topics, named):
    (tmp_path / "feedsvc.toml").write_text(topics, encoding="utf-8")
    with pytest.raises(ConfigError) as error:
        load_config(tmp_path, environ={})
    assert named in str(error.value) and "feedsvc.toml" in str(error.value)
    result = CliRunner().invoke(main, ["articles", "--seeds", str(tmp_path)])
    assert result.exit_code == 1 and named in result.output


# Matching


@pytest.mark.parametrize(
    ("topic", "cards", "expected"),
    [
        # Any case, whole words only.
        ('include = ["WCO"]', [card("The wco Meets", "x"), card("WCOs Galore", "x")], ["The wco Meets"]),
        # A phrase, in the summary.
        ('include = ["World Customs Organization"]', [card("Brussels Meeting", "The world customs organization said."), card("Trade Talk", "World trade.")], ["Brussels Meeting"]),
        # An exclude word anywhere in the fields wins.
        ('include = ["WCO"]\nexclude = ["gender"]', [card("WCO Report", "On Gender parity."), card("WCO Plan", "x")], ["WCO Plan"]),
        # The category is looked at only when asked for.
        ('include = ["customs"]', [card("Port News", "x", dt.date(2025, 1, 1), "Customs")], []),
        ('include = ["customs"]\nfields = ["title", "category"]', [card("Port News", "x", dt.date(2025, 1, 1), "Customs")], ["Port News"]),
        # Only the fields asked for.
        ('include = ["tariff"]\nfields = ["title"]', [card("Tariff Talk", "x"), card("Other", "A tariff.")], ["Tariff Talk"]),
        # Only articles in the categories named, in any case.
        (
            'include = ["port"]\ncategories = ["CUSTOMS"]',
            [card("Port A", "x", dt.date(2025, 1, 1), "Customs"), card("Port B", "x", dt.date(2025, 1, 2), "Logistics")],
            ["Port A"],
        ),
    ],
)
def test_words_and_phrases_match_as_category_keywords_do(tmp_path, topic, cards, expected):
    seeds = tmp_path / "seeds"
    seeds.mkdir()
    (seeds / "feedsvc.toml").write_text(f'{SITE}\n[[topics]]\nname = "T"\n{topic}\n', encoding="utf-8")
    write_page(seeds, "001_page.txt", cards)
    site = publish(seeds, START)
    for fmt in ("atom", "rss"):
        assert titles(site, TopicKey("t"), fmt) == sorted(expected)
    items = json.loads(site.render(urls.feed_path(TopicKey("t"), "json")).body)["items"]
    assert sorted(item["title"] for item in items) == sorted(expected)


# Membership through edits


def test_an_edit_moves_an_article_into_and_out_of_a_topic_and_dates_the_feed(tmp_path):
    seeds = new_seeds(tmp_path)
    write_page(seeds, "001_day0.txt", [brussels(), rail()])
    day0 = publish(seeds, START)
    assert titles(day0) == [BRUSSELS]
    assert stamps(day0) == {START}

    # A newer scrape: the rail story now mentions the WCO.
    write_page(seeds, "002_day1.txt", [brussels(), rail("Volumes rose, the World Customs Organization said.")])
    day1 = publish(seeds, START + DAY)
    assert titles(day1) == [BRUSSELS, RAIL]
    assert stamps(day1) == {START + DAY}

    # The Brussels story loses its mention: it leaves the topic, and the
    # feed changes then, though none of its remaining entries did.
    write_page(seeds, "003_day2.txt", [brussels("The council met on Monday."), rail("Volumes rose, the World Customs Organization said.")])
    day2 = publish(seeds, START + 2 * DAY)
    assert titles(day2) == [RAIL]
    assert stamps(day2) == {START + 2 * DAY}
    assert day2.render(urls.html_path(WCO)).last_modified == START + 2 * DAY
    # An exclude word keeps it out even with the mention back.
    write_page(seeds, "004_day3.txt", [brussels("The WCO council met on gender parity."), rail("Volumes rose, the World Customs Organization said.")])
    day3 = publish(seeds, START + 3 * DAY)
    assert titles(day3) == [RAIL]

    # The overall feed holds both all along, under the same ids.
    everything = feed_ids(day3, None, "atom")
    for day in (day0, day1, day2, day3):
        assert feed_ids(day, WCO, "atom") <= everything
    # A later run with nothing new publishes the same bytes and times: the
    # move is remembered beside the ledger, not recomputed from the clock.
    day4 = publish(seeds, START + 4 * DAY)
    for fmt in urls.FORMATS:
        path = urls.feed_path(WCO, fmt)
        assert day4.render(path) == day3.render(path)


def test_archives_of_a_topic_carry_a_move_out_of_it(tmp_path):
    seeds = new_seeds(tmp_path)
    cards = [card(f"Customs Story Number {n}", f"Story {n} about the WCO.", dt.date(2025, 1, n), "Customs") for n in range(1, 6)]
    write_page(seeds, "001_page.txt", cards)
    before = publish(seeds, START, feed_size=2, archive_size=2)
    cards[0] = card("Customs Story Number 1", "Story 1, edited.", dt.date(2025, 1, 1), "Customs")
    write_page(seeds, "002_page.txt", cards)
    after = publish(seeds, START + DAY, feed_size=2, archive_size=2)

    path = urls.archive_path(WCO, 1, "atom")
    archived = [entry.title for entry in feedparser.parse(after.render(path).body).entries]
    assert "Customs Story Number 1" not in titles(after) + archived  # edited out of the topic
    check(path, after.render(path).body)
    assert before.render(path).body != after.render(path).body
    assert after.render(path).last_modified == START + DAY
    fingerprints = {t.path: t.fingerprint for t in before.targets()}
    assert all(fingerprints[t.path] != t.fingerprint for t in after.targets() if t.path.startswith("/feeds/topic/wco"))


def test_a_takedown_leaves_the_topic_with_a_deleted_entry(tmp_path, monkeypatch):
    seeds = new_seeds(tmp_path)
    write_page(seeds, "001_page.txt", [brussels(), rail("The WCO counted the trains.")])
    before = publish(seeds, START)
    (victim,) = [a for a in before.articles if a.title == BRUSSELS]
    monkeypatch.setenv("SOURCE_DATE_EPOCH", str(int((START + DAY).timestamp())))
    assert CliRunner().invoke(main, ["takedown", "--seeds", str(seeds), victim.id]).exit_code == 0
    after = publish(seeds, START + 2 * DAY)
    assert titles(after) == [RAIL]
    atom = etree.fromstring(after.render(urls.feed_path(WCO, "atom")).body)
    gone = atom.findall("{http://purl.org/atompub/tombstones/1.0}deleted-entry")
    assert [(g.get("ref"), g.get("when")) for g in gone] == [(victim.iri, (START + DAY).isoformat())]
    assert stamps(after) == {START + DAY}


# A change of a topic's settings


def test_a_change_of_settings_republishes_the_topic_from_the_whole_history(tmp_path):
    seeds = new_seeds(tmp_path, include=["WCO"])
    tariffs = card("New Tariff Rules Take Effect", "Importers must file earlier.", dt.date(2025, 1, 5), "Trade")
    write_page(seeds, "001_page.txt", [brussels(), rail(), tariffs])
    before = publish(seeds, START)
    assert titles(before) == [BRUSSELS]

    settings(seeds, include=["WCO", "tariff"])
    after = publish(seeds, START + DAY)
    assert titles(after) == [BRUSSELS, "New Tariff Rules Take Effect"]
    # The tariff story was first seen on day 0: only the recorded change
    # of settings dates the feed, so If-Modified-Since readers refetch.
    assert stamps(after) == {START + DAY}
    for fmt in urls.FORMATS:
        # Every id is the overall feed's, and a subscriber gets exactly the
        # entry that was not there before.
        assert feed_ids(after, WCO, fmt) <= feed_ids(after, None, fmt)
        assert feed_ids(after, WCO, fmt) - feed_ids(before, WCO, fmt) == {a.iri for a in after.articles if a.title.startswith("New Tariff")}
    assert after.render(urls.INDEX_PATH).last_modified == START + DAY  # it lists the topic's count
    recorded = json.loads((seeds / "topics.json").read_text(encoding="utf-8"))["topics"]["wco"]
    assert recorded["since"] == "2025-03-02T09:00:00Z"

    # The same settings again, and the same words reordered and re-cased,
    # are no change: the time first seen stays.
    later = publish(seeds, START + 2 * DAY)
    settings(seeds, include=["TARIFF", "wco"])
    reordered = publish(seeds, START + 3 * DAY)
    for fmt in urls.FORMATS:
        path = urls.feed_path(WCO, fmt)
        assert later.render(path) == after.render(path) == reordered.render(path)


def test_a_topic_that_matches_nothing_serves_a_valid_empty_feed(tmp_path):
    seeds = new_seeds(tmp_path, include=["no such word"])
    write_page(seeds, "001_page.txt", [brussels(), rail()])
    client = create_app(load_config(seeds, environ={}), poll_seconds=0, settle_seconds=0).test_client()
    for fmt in urls.FORMATS:
        response = client.get(urls.feed_path(WCO, fmt))
        assert response.status_code == 200
        check(urls.feed_path(WCO, fmt), response.data)
        assert ids(urls.feed_path(WCO, fmt), response.data) == []
    page = client.get(urls.html_path(WCO))
    assert page.status_code == 200 and b"World Customs Organization" in page.data
    # Listed with the others, so it can be subscribed to before it has articles.
    opml = etree.fromstring(client.get(urls.OPML_PATH).data)
    assert "http://127.0.0.1:8000/feeds/topic/wco.atom" in [o.get("xmlUrl") for o in opml.iter("outline")]
    index = lxml.html.fromstring(client.get("/").data)
    assert index.xpath('//section[@class="topics"]//a[@class="topic"]/text()') == ["World Customs Organization"]
    assert index.xpath('//section[@class="topics"]//span[@class="count"]/text()') == ["0 articles"]


# Served and exported like category feeds


def test_a_topic_feed_is_served_with_the_caching_headers_and_revalidates(tmp_path, monkeypatch):
    seeds = new_seeds(tmp_path, include=["WCO"])
    write_page(seeds, "001_page.txt", [brussels(), rail("The tariff on rail freight fell.")])
    monkeypatch.setenv("SOURCE_DATE_EPOCH", str(int(START.timestamp())))
    client = create_app(lambda: load_config(seeds, environ={}), poll_seconds=0, settle_seconds=0).test_client()
    topic, category = client.get(urls.feed_path(WCO, "atom")), client.get(urls.feed_path("customs", "atom"))
    names = {"Cache-Control", "Vary", "Access-Control-Allow-Origin", "X-Content-Type-Options", "Content-Type"}
    assert {n: topic.headers[n] for n in names} == {n: category.headers[n] for n in names}
    assert topic.headers["ETag"] and topic.headers["Last-Modified"] == "Sat, 01 Mar 2025 09:00:00 GMT"
    since = {"If-Modified-Since": topic.headers["Last-Modified"]}
    assert client.get(urls.feed_path(WCO, "atom"), headers=since).status_code == 304

    # A day later the settings change; a reader that sends only
    # If-Modified-Since gets the republished feed.
    monkeypatch.setenv("SOURCE_DATE_EPOCH", str(int((START + DAY).timestamp())))
    settings(seeds, include=["WCO", "tariff"])
    again = client.get(urls.feed_path(WCO, "atom"), headers=since)
    assert again.status_code == 200 and again.headers["Last-Modified"] == "Sun, 02 Mar 2025 09:00:00 GMT"
    assert sorted(e.title for e in feedparser.parse(again.data).entries) == [BRUSSELS, RAIL]
    assert client.get(urls.feed_path(WCO, "atom"), headers={"If-Modified-Since": again.headers["Last-Modified"]}).status_code == 304


def test_a_topic_removed_from_the_settings_answers_410(tmp_path, monkeypatch):
    seeds = new_seeds(tmp_path)
    write_page(seeds, "001_page.txt", [brussels(), rail()])
    monkeypatch.setenv("SOURCE_DATE_EPOCH", str(int(START.timestamp())))
    client = create_app(lambda: load_config(seeds, environ={}), poll_seconds=0, settle_seconds=0).test_client()
    assert client.get(urls.feed_path(WCO, "atom")).status_code == 200

    (seeds / "feedsvc.toml").write_text(SITE, encoding="utf-8")
    for path in [*(urls.feed_path(WCO, fmt) for fmt in urls.FORMATS), urls.html_path(WCO)]:
        response = client.get(path)
        assert response.status_code == 410, path
        assert response.headers["Content-Type"] == "text/plain; charset=utf-8"
    assert client.get(urls.feed_path(TopicKey("never-existed"), "atom")).status_code == 404
    assert b"/feeds/topic/" not in client.get(urls.OPML_PATH).data and b'class="topic"' not in client.get("/").data

    # Back in the settings, it is served again.
    settings(seeds)
    assert client.get(urls.feed_path(WCO, "atom")).status_code == 200


def test_a_read_only_server_picks_up_the_record_of_topics_written_elsewhere(tmp_path, monkeypatch):
    seeds = new_seeds(tmp_path)
    write_page(seeds, "001_page.txt", [brussels(), rail()])
    publish(seeds, START)  # CI: the ledger and the record, committed
    committed = (seeds / "topics.json").read_bytes()
    (seeds / "topics.json").unlink()  # not pulled yet
    monkeypatch.setenv("SOURCE_DATE_EPOCH", str(int((START + DAY).timestamp())))
    client = create_app(load_config(seeds, environ={"FEEDSVC_READ_ONLY": "1"}), poll_seconds=0, settle_seconds=0).test_client()
    # Without the record, the topic is new to this server: dated by its run.
    assert client.get(urls.feed_path(WCO, "atom")).headers["Last-Modified"] == "Sun, 02 Mar 2025 09:00:00 GMT"
    assert not (seeds / "topics.json").exists()
    (seeds / "topics.json").write_bytes(committed)
    assert client.get(urls.feed_path(WCO, "atom")).headers["Last-Modified"] == "Sat, 01 Mar 2025 09:00:00 GMT"


def test_the_export_writes_topic_feeds_that_check_and_keeps_a_removed_one_valid(tmp_path, monkeypatch):
    seeds = copy_seeds(tmp_path / "seeds")
    sample = (seeds / "feedsvc.toml").read_text(encoding="utf-8")
    (seeds / "feedsvc.toml").write_text(sample + WCO_TOPIC.format(include='["WCO", "World Customs Organization"]'), encoding="utf-8")
    out = tmp_path / "out"
    monkeypatch.setenv("SOURCE_DATE_EPOCH", str(int(START.timestamp())))
    runner = CliRunner()
    assert runner.invoke(main, ["build", "--seeds", str(seeds), "--out", str(out)]).exit_code == 0
    assert check_tree(out).problems == []
    assert (out / "topics/wco/index.html").is_file()
    overall = {fmt: set(ids(f"all.{fmt}", (out / f"feeds/all.{fmt}").read_bytes())) for fmt in urls.FORMATS}
    for fmt in urls.FORMATS:
        found = ids(f"wco.{fmt}", (out / f"feeds/topic/wco.{fmt}").read_bytes())
        assert found and len(found) == len(set(found)) and set(found) <= overall[fmt]
    assert (seeds / "topics.json").is_file()
    # Nothing new: nothing written.
    again = runner.invoke(main, ["build", "--seeds", str(seeds), "--out", str(out)])
    assert "0 files written" in again.output

    (seeds / "feedsvc.toml").write_text(sample, encoding="utf-8")
    assert runner.invoke(main, ["build", "--seeds", str(seeds), "--out", str(out)]).exit_code == 0
    assert check_tree(out).problems == []
    assert ids("wco.atom", (out / "feeds/topic/wco.atom").read_bytes()) == []
    assert b"/feeds/topic/" not in (out / "feeds.opml").read_bytes()


def test_a_site_without_topics_keeps_no_record_of_them(seeds, now):
    publish(seeds, now)
    assert not (seeds / "topics.json").exists()


def test_a_damaged_record_of_topics_is_refused_and_left_alone(tmp_path):
    seeds = new_seeds(tmp_path)
    write_page(seeds, "001_page.txt", [brussels()])
    (seeds / "topics.json").write_text("{not json", encoding="utf-8")
    result = CliRunner().invoke(main, ["build", "--seeds", str(seeds), "--out", str(tmp_path / "out")])
    assert result.exit_code == 1 and "topics.json" in result.output and "delete it" in result.output
    assert (seeds / "topics.json").read_text(encoding="utf-8") == "{not json"
