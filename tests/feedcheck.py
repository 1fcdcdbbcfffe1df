"""Checks that a feed document is valid, with real parsers: the RFC 4287
RELAX NG grammar plus the rules it cannot express, the RSS 2.0 profile,
JSON Feed 1.1's required fields, feedparser without a bozo flag, and the
`reader` library for JSON Feed (feedparser 6.0 cannot read JSON)."""

from __future__ import annotations

import datetime as dt
import email.utils
import functools
import json
import re
from importlib import resources

import feedparser
from lxml import etree

# The RFC 4287 grammar the package ships (feedsvc/publish/atom.rng): the
# checker here is independent of feedsvc check, but the grammar is shared.
GRAMMAR = resources.files("feedsvc.publish").joinpath("atom.rng")
ATOM = "{http://www.w3.org/2005/Atom}"
HISTORY = "{http://purl.org/syndication/history/1.0}"
TOMBSTONES = "{http://purl.org/atompub/tombstones/1.0}"
NS = {
    "a": "http://www.w3.org/2005/Atom",
    "fh": "http://purl.org/syndication/history/1.0",
    "at": "http://purl.org/atompub/tombstones/1.0",
}

# RFC 3339 date-time with a mandatory offset.
RFC3339 = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|[+-]\d\d:\d\d)")
# RFC 822 as the RSS Board profile recommends: day name, 4-digit year, numeric zone.
RFC822 = re.compile(r"(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d\d (?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d{4} \d\d:\d\d:\d\d [+-]\d{4}")
ABSOLUTE_IRI = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*:\S+")


@functools.cache
def atom_grammar() -> etree.RelaxNG:
    return etree.RelaxNG(etree.fromstring(GRAMMAR.read_bytes()))


def rfc3339(text: str) -> dt.datetime:
    assert RFC3339.fullmatch(text), f"not an RFC 3339 date with an offset: {text!r}"
    moment = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    assert moment.tzinfo is not None
    return moment


def rfc822(text: str) -> dt.datetime:
    assert RFC822.fullmatch(text), f"not an RFC 822 date: {text!r}"
    return email.utils.parsedate_to_datetime(text)


def check_atom(body: bytes) -> etree._Element:
    """Parse an Atom document and assert it is valid; return its root."""
    root = etree.fromstring(body)
    grammar = atom_grammar()
    assert grammar.validate(root), str(grammar.error_log)
    assert root.tag == ATOM + "feed"
    for element in root.iter(ATOM + "updated", ATOM + "published"):
        rfc3339(element.text)
    for gone in root.iter(TOMBSTONES + "deleted-entry"):
        rfc3339(gone.get("when"))
        assert ABSOLUTE_IRI.fullmatch(gone.get("ref"))
    for element in root.iter(ATOM + "id"):
        assert ABSOLUTE_IRI.fullmatch(element.text), f"id is not an absolute IRI: {element.text!r}"
    entries = root.findall(ATOM + "entry")
    assert root.find(ATOM + "author") is not None or all(e.find(ATOM + "author") is not None for e in entries)
    selves = [link for link in root.findall(ATOM + "link") if link.get("rel") == "self"]
    assert len(selves) == 1, "a feed needs exactly one rel=self link"
    for link in root.iter(ATOM + "link"):
        assert link.get("href").startswith(("http://", "https://")), link.get("href")
    assert not feedparser.parse(body).bozo
    return root


def check_rss(body: bytes) -> etree._Element:
    """Parse an RSS 2.0 document and assert the RSS Board profile; return the channel."""
    root = etree.fromstring(body)
    assert root.tag == "rss" and root.get("version") == "2.0"
    (channel,) = root.findall("channel")
    for required in ("title", "link", "description"):
        assert channel.findtext(required), f"channel lacks {required}"
    assert channel.findtext("link").startswith(("http://", "https://"))
    selves = [link for link in channel.findall(ATOM + "link") if link.get("rel") == "self"]
    assert len(selves) == 1, "an RSS channel needs exactly one atom:link rel=self"
    for name in ("lastBuildDate", "pubDate"):
        if channel.find(name) is not None:
            rfc822(channel.findtext(name))
    for item in channel.findall("item"):
        assert item.findtext("title") or item.findtext("description")
        guid = item.find("guid")
        assert guid is not None and guid.get("isPermaLink") == "false"
        assert ABSOLUTE_IRI.fullmatch(guid.text)
        rfc822(item.findtext("pubDate"))
        assert item.findtext("link").startswith(("http://", "https://"))
    assert not feedparser.parse(body).bozo
    return channel


def check_json(body: bytes) -> dict:
    """Parse a JSON Feed 1.1 document and assert its required fields."""
    document = json.loads(body)
    assert document["version"] == "https://jsonfeed.org/version/1.1"
    assert isinstance(document["title"], str) and document["title"]
    assert isinstance(document["items"], list)
    for item in document["items"]:
        assert isinstance(item["id"], str) and ABSOLUTE_IRI.fullmatch(item["id"])
        assert isinstance(item.get("content_html", item.get("content_text")), str), "an item needs content"
        for name in ("date_published", "date_modified"):
            if name in item:
                rfc3339(item[name])
    return document


def check(path: str, body: bytes):
    """Check any feed document by its path's extension."""
    if path.endswith(".atom"):
        return check_atom(body)
    if path.endswith(".rss"):
        return check_rss(body)
    return check_json(body)


def ids(path: str, body: bytes) -> list[str]:
    """The entry ids of a feed document, in document order."""
    if path.endswith(".atom"):
        return [e.findtext(ATOM + "id") for e in etree.fromstring(body).iter(ATOM + "entry")]
    if path.endswith(".rss"):
        return [item.findtext("guid") for item in etree.fromstring(body).iter("item")]
    return [item["id"] for item in json.loads(body)["items"]]


def links(body: bytes) -> dict[str, str]:
    """rel -> href of the feed-level links of an Atom or RSS document."""
    root = etree.fromstring(body)
    parent = root if root.tag == ATOM + "feed" else root.find("channel")
    return {link.get("rel", "alternate"): link.get("href") for link in parent.findall(ATOM + "link")}


def is_archive(body: bytes) -> bool:
    root = etree.fromstring(body)
    parent = root if root.tag == ATOM + "feed" else root.find("channel")
    return parent.find(HISTORY + "archive") is not None


def feed_updated(path: str, body: bytes) -> dt.datetime:
    root = etree.fromstring(body)
    if path.endswith(".atom"):
        return rfc3339(root.findtext(ATOM + "updated"))
    return rfc822(root.find("channel").findtext("lastBuildDate"))
