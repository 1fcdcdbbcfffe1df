"""The feed formats: every document valid by the grammar and real parsers,
entries carrying what subscribers need, text escaped, bytes repeatable."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import locale

import feedparser
import lxml.html
import pytest
from feedgen.util import formatRFC2822
from hypothesis import given, settings
from hypothesis import strategies as st
from lxml import etree
from reader import make_reader

from feedsvc.site import entries
from feedsvc.site import routes as urls
from feedsvc.config import Config
from feedsvc.core.models import Withdrawal
from feedsvc.core.publish import recorded_change
from feedsvc.publish.export import build
from feedsvc.site.model import Site

from feedcheck import ATOM, NS, check, check_atom, check_json, check_rss, ids, links
from sitebuild import ingested_site, make_article, make_site

FEED_SUFFIXES = (".atom", ".rss", ".json")


@pytest.fixture
def small(config):
    """The sample site with feeds small enough to have archives."""
    return dataclasses.replace(config, feed_size=5, archive_size=4)


@pytest.fixture
def sample(small, now):
    return ingested_site(small, now)[0]


def feed_targets(site):
    return [t for t in site.targets() if t.path.endswith(FEED_SUFFIXES)]


@pytest.mark.parametrize("suffix", FEED_SUFFIXES)
def test_every_feed_document_of_the_sample_site_is_valid(sample, suffix):
    documents = [t.path for t in feed_targets(sample) if t.path.endswith(suffix)]
    assert any("/archive/" in path for path in documents) or suffix == ".json"
    for path in documents:
        resource = sample.render(path)
        check(path, resource.body)
        assert resource.content_type == urls.content_type_for(path)


def test_json_feeds_are_read_by_a_real_reader(sample, tmp_path):
    paths = [t.path for t in feed_targets(sample) if t.path.endswith(".json")]
    for path in paths:
        (tmp_path / urls.file_for(path).replace("/", "_")).write_bytes(sample.render(path).body)
    with make_reader(":memory:", feed_root=str(tmp_path)) as reader:
        for path in paths:
            name = urls.file_for(path).replace("/", "_")
            reader.add_feed(name)
            reader.update_feed(name)
            got = [entry.id for entry in reader.get_entries(feed=name)]
            assert sorted(got) == sorted(ids(path, sample.render(path).body))
            assert reader.get_feed(name).version == "json11"


@pytest.mark.parametrize("slug", [None, "customs", "logistics"])
def test_the_same_entry_ids_in_all_three_formats(sample, slug):
    found = {fmt: ids(path, sample.render(path).body) for fmt in urls.FORMATS for path in [urls.feed_path(slug, fmt)]}
    assert found["atom"] == found["rss"] == found["json"]
    assert found["atom"]
    parsed = feedparser.parse(sample.render(urls.feed_path(slug, "atom")).body)
    assert [entry.id for entry in parsed.entries] == found["atom"]


def test_an_entry_carries_title_summary_dates_category_and_link(config, now):
    site, _ = ingested_site(config, now)
    article = site.articles[0]
    atom = check_atom(site.render("/feeds/all.atom").body)
    entry = atom.find(ATOM + "entry")
    assert entry.findtext(ATOM + "id") == article.iri
    assert entry.findtext(ATOM + "title") == article.title
    content = entry.find(ATOM + "content")
    assert content.get("type") == "html"
    paragraphs = lxml.html.fragments_fromstring(content.text)
    assert [p.tag for p in paragraphs] == ["p"] * len(article.paragraphs)
    assert [p.text_content() for p in paragraphs] == article.paragraphs
    assert entry.findtext(ATOM + "published") == article.published.isoformat()
    assert entry.findtext(ATOM + "updated") == article.updated.isoformat()
    category = entry.find(ATOM + "category")
    # Readers that show the term show the category's name, not its slug.
    assert (category.get("term"), category.get("label")) == (article.category, article.category)
    assert category.get("scheme") == urls.absolute(config.site_url, "/categories/")
    expected_link = urls.absolute(config.site_url, urls.article_path(article.id))
    assert entry.find(ATOM + "link").get("href") == expected_link
    assert site.render(urls.article_path(article.id)) is not None

    item = check_rss(site.render("/feeds/all.rss").body).find("item")
    assert item.findtext("guid") == article.iri
    assert item.findtext("link") == expected_link
    assert item.findtext("category") == article.category
    assert item.findtext("description") == content.text

    json_item = check_json(site.render("/feeds/all.json").body)["items"][0]
    assert json_item["id"] == article.iri
    assert json_item["url"] == expected_link
    assert json_item["content_text"] == "\n\n".join(article.paragraphs)
    assert json_item["tags"] == [article.category]


def test_feed_metadata_comes_from_the_config(config, now):
    configured = dataclasses.replace(
        config,
        site_title="Ports & Rails",
        site_subtitle="Daily <news>",
        language="de",
        author_name="Desk",
        author_email="desk@example.org",
        icon="/icon.png",
        logo="https://cdn.example.org/logo.png",
        base_url="https://news.example.org/sub/",
    )
    site, _ = ingested_site(configured, now)
    root = check_atom(site.render("/feeds/all.atom").body)
    assert root.get("{http://www.w3.org/XML/1998/namespace}lang") == "de"
    assert root.findtext(ATOM + "title") == "Ports & Rails"
    assert root.findtext(ATOM + "subtitle") == "Daily <news>"
    assert root.findtext(ATOM + "icon") == "https://news.example.org/sub/icon.png"
    assert root.findtext(ATOM + "logo") == "https://cdn.example.org/logo.png"
    assert root.findtext(f"{ATOM}author/{ATOM}email") == "desk@example.org"
    generator = root.find(ATOM + "generator")
    assert generator.text == "feedsvc" and generator.get("version") is None
    assert links(site.render("/feeds/all.atom").body)["self"] == "https://news.example.org/sub/feeds/all.atom"
    assert links(site.render("/feeds/all.atom").body)["alternate"] == "https://news.example.org/sub/"
    channel = check_rss(site.render("/feeds/all.rss").body)
    assert channel.findtext("language") == "de"
    assert channel.findtext("generator") == "feedsvc"
    assert channel.findtext("image/url") == "https://cdn.example.org/logo.png"
    document = check_json(site.render("/feeds/all.json").body)
    assert document["language"] == "de"
    assert document["feed_url"] == "https://news.example.org/sub/feeds/all.json"
    assert document["home_page_url"] == "https://news.example.org/sub/"


@pytest.mark.parametrize("hub", [None, "https://hub.example.org/"])
def test_websub_hub_links_only_when_configured(config, now, hub):
    site, _ = ingested_site(dataclasses.replace(config, websub_hub=hub), now)
    for fmt in ("atom", "rss"):
        body = site.render(urls.feed_path(None, fmt)).body
        check(urls.feed_path(None, fmt), body)
        assert links(body).get("hub") == hub
    document = check_json(site.render("/feeds/all.json").body)
    assert document.get("hubs") == ([{"type": "WebSub", "url": hub}] if hub else None)


HOSTILE = [
    "<script>alert('x')</script>",
    "AT&T &amp; Co",
    "Quote \"double\" and 'single' > less <",
    "Shipping 🚢 and emoji 👩‍👩‍👧",
    "شحن الحاويات عبر الموانئ",
    "mixed \u202edirection\u202c marks",
    "]]> CDATA end",
    "{braces} and {{doubled}} %s",
    "ascii\x00null\x1fcontrol",
]


@pytest.mark.parametrize("title", HOSTILE)
def test_hostile_text_survives_escaping_in_every_format(config, title):
    summary = f"{title}\n\nSecond {title}"
    article = make_article(config, 1, title=title, summary=summary, category=f"Cat {title[:10]}")
    site = make_site(config, [article])
    expected = entries.xml_safe(title)
    for fmt in urls.FORMATS:
        path = urls.feed_path(None, fmt)
        body = site.render(path).body
        check(path, body)
        if fmt == "json":
            assert json.loads(body)["items"][0]["title"] == expected
        elif fmt == "atom":
            assert feedparser.parse(body).entries[0].title == expected
        else:
            # RSS does not say whether a title is text or HTML, and feedparser
            # guesses HTML when the text holds an entity; the XML is exact.
            assert etree.fromstring(body).findtext("channel/item/title") == expected
    atom = etree.fromstring(site.render("/feeds/all.atom").body)
    content = atom.find(f"{ATOM}entry/{ATOM}content").text
    assert content.startswith("<p>") and "<script>" not in content


@settings(max_examples=150, deadline=None)
@given(
    title=st.text(min_size=1, max_size=60),
    summary=st.text(min_size=1, max_size=200),
    category=st.text(min_size=1, max_size=20),
    minutes=st.integers(min_value=0, max_value=60 * 24 * 365 * 50),
)
def test_entries_are_byte_for_byte_what_feedgen_renders(title, summary, category, minutes):
    config = Config()  # not the fixture: hypothesis runs the body many times
    moment = dt.datetime(1990, 1, 1, tzinfo=dt.timezone.utc) + dt.timedelta(minutes=minutes)
    article = make_article(config, 3, title=title, summary=summary, category=category, published=moment)
    assert entries.render_entry(config, article) == entries.feedgen_entry(config, article)


@pytest.mark.parametrize(
    "moment",
    [
        dt.datetime(2025, 1, 5, 0, 0, tzinfo=dt.timezone.utc),
        dt.datetime(1999, 12, 31, 23, 59, 59, tzinfo=dt.timezone.utc),
        dt.datetime(2024, 2, 29, 7, 8, 9, tzinfo=dt.timezone(dt.timedelta(hours=5, minutes=30))),
        dt.datetime(2030, 7, 4, 12, 0, tzinfo=dt.timezone(-dt.timedelta(hours=8))),
    ],
)
def test_rfc822_dates_match_feedgen(moment):
    assert entries.rfc822(moment) == formatRFC2822(moment)


def test_rfc822_ignores_the_process_locale():
    moment = dt.datetime(2025, 3, 3, tzinfo=dt.timezone.utc)
    old = locale.setlocale(locale.LC_TIME)
    try:
        for name in ("de_DE.UTF-8", "fr_FR.UTF-8", "C.UTF-8"):
            try:
                locale.setlocale(locale.LC_TIME, name)
            except locale.Error:
                continue
            assert entries.rfc822(moment) == "Mon, 03 Mar 2025 00:00:00 +0000"
    finally:
        locale.setlocale(locale.LC_TIME, old)


@pytest.mark.parametrize(
    "changes",
    [
        {"summary": ""},
        {"summary": "\n\n"},
        {"title": "\x01\x02"},
    ],
)
def test_entries_feedgen_renders_differently_still_make_valid_feeds(config, changes):
    site = make_site(config, [make_article(config, 1, **changes), make_article(config, 2)])
    for fmt in urls.FORMATS:
        path = urls.feed_path(None, fmt)
        check(path, site.render(path).body)
        assert len(ids(path, site.render(path).body)) == 2


@pytest.mark.parametrize(
    ("text", "expected"),
    [("plain", "plain"), ("a\x00b\x08c", "abc"), ("lone \ud800 surrogate", "lone  surrogate"), ("x\ufffe\uffffy", "xy"), ("tab\tnl\ncr\r", "tab\tnl\ncr\r")],
)
def test_xml_safe_drops_only_what_xml_cannot_carry(text, expected):
    assert entries.xml_safe(text) == expected


def test_same_input_gives_the_same_bytes(small, now):
    first, _ = ingested_site(small, now)
    again = Site.of(small, list(reversed(first.articles)), first.withdrawals, first.categories)
    for target in first.targets():
        assert first.render(target.path).body == again.render(target.path).body, target.path


def test_a_later_build_of_the_same_ledger_gives_the_same_bytes(small, now, tmp_path):
    # Feed times come from the ledger, never from the clock: building again
    # a year later, with nothing new, publishes the same bytes.
    first, later = tmp_path / "first", tmp_path / "later"
    build(small, first, now)
    build(small, later, now + dt.timedelta(days=400))
    assert published(later) == published(first)


def published(out):
    return {path.relative_to(out): path.read_bytes() for path in out.rglob("*") if path.is_file() and not path.name.startswith(".")}


def test_opml_lists_the_overall_feed_and_each_category(sample, small):
    resource = sample.render(urls.OPML_PATH)
    assert resource.content_type.startswith("text/x-opml")
    root = etree.fromstring(resource.body)
    assert root.tag == "opml" and root.get("version") == "2.0"
    assert root.findtext("head/title") == small.site_title
    outlines = root.findall("body/outline")
    slugs = [info.slug for info in sample.category_infos()]
    assert [o.get("xmlUrl") for o in outlines] == [
        urls.absolute(small.site_url, urls.feed_path(slug, "atom")) for slug in [None, *slugs]
    ]
    for outline in outlines:
        assert outline.get("type") == "rss" and outline.get("text") and outline.get("title")
        assert outline.get("htmlUrl").startswith(small.site_url)
        path = "/" + outline.get("xmlUrl")[len(small.site_url) :]
        check_atom(sample.render(path).body)


def test_deleted_entries_pass_the_grammar(config):
    kept = make_article(config, 1)
    gone = Withdrawal(make_article(config, 2).iri, kept.category_slug, recorded_change(kept) + dt.timedelta(hours=1))
    site = make_site(config, [kept], [gone])
    root = check_atom(site.render("/feeds/all.atom").body)
    (deleted,) = root.findall("at:deleted-entry", NS)
    assert deleted.get("ref") == gone.iri
    assert deleted.get("when") == gone.when.isoformat()


def test_readers_show_the_category_name_and_the_rss_author(sample, small):
    # feedparser shows what feed readers built on it show: the Atom term,
    # and the RSS item's author.
    for fmt in ("atom", "rss"):
        parsed = feedparser.parse(sample.render(urls.feed_path(None, fmt)).body)
        names = {name for name in sample.names.values()}
        assert {entry.tags[0].term for entry in parsed.entries} <= names, fmt
    rss = feedparser.parse(sample.render(urls.feed_path(None, "rss")).body)
    assert {entry.author for entry in rss.entries} == {small.author_name}
