"""One feed document checked as a strict validator would: Atom against
RFC 4287 (its RELAX NG grammar, plus the rules the grammar cannot
express), RSS 2.0, JSON Feed 1.1 and OPML 2.0, each with its ids unique.
What `check` needs across documents (ids, links) is returned as a
`Document`. Reads bytes only."""

from __future__ import annotations

import datetime as dt
import email.utils
import json
import re
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from urllib.parse import urljoin

from lxml import etree

from feedsvc.core.models import Problem

ATOM = "http://www.w3.org/2005/Atom"
TOMBSTONES = "http://purl.org/atompub/tombstones/1.0"
JSON_FEED_VERSION = "https://jsonfeed.org/version/1.1"
FEED_SUFFIXES = (".atom", ".rss", ".json", ".opml")

# RFC 3339 date-time as RFC 4287 section 3.3 requires it: upper-case T and
# Z, seconds present, and a zone always.
_RFC3339 = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})")
# RFC 3987 section 2.2: an absolute IRI starts with a scheme and a colon.
_ABSOLUTE_IRI = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*:[^\s<>\"{}|\\^`]+")
_ABSOLUTE_URL = re.compile(r"https?://[^\s<>\"]+")
_A = f"{{{ATOM}}}"


@dataclass
class Document:
    """What the cross-document checks need from one checked file."""

    file: str
    ids: list[str]
    links: list[tuple[str, str, int | None]]  # (what, absolute URL, line)


@lru_cache(maxsize=1)
def atom_schema() -> etree.RelaxNG:
    """RFC 4287 Appendix B, shipped with the package."""
    grammar = resources.files("feedsvc").joinpath("publish/atom.rng").read_bytes()
    return etree.RelaxNG(etree.fromstring(grammar))


def check_file(file: str, data: bytes, problems: list[Problem]) -> Document | None:
    if file.endswith(".json"):
        return check_json_feed(file, data, problems)
    try:
        parser = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=True)
        tree = etree.fromstring(data, parser).getroottree()
    except etree.XMLSyntaxError as error:
        problems.append(Problem(file, f"not well-formed XML (truncated?): {error.msg}", error.lineno))
        return None
    if file.endswith(".atom"):
        return check_atom(file, tree, problems)
    if file.endswith(".rss"):
        return check_rss(file, tree, problems)
    return check_opml(file, tree, problems)


# Atom


def check_atom(file: str, tree: etree._ElementTree, problems: list[Problem]) -> Document | None:
    feed = tree.getroot()
    if feed.tag != _A + "feed":
        problems.append(Problem(file, f"not an Atom feed: the root element is {feed.tag}"))
        return None
    schema = atom_schema()
    if not schema.validate(tree):
        for error in schema.error_log:
            problems.append(Problem(file, f"RFC 4287 grammar: {error.message}", error.line))
    for element in feed.iter(_A + "updated", _A + "published"):
        _rfc3339(file, element.text, f"atom:{etree.QName(element).localname}", element.sourceline, problems)
    for deleted in feed.iter(f"{{{TOMBSTONES}}}deleted-entry"):
        _rfc3339(file, deleted.get("when"), "at:deleted-entry when", deleted.sourceline, problems)
    for element in feed.iter(_A + "id"):
        text = (element.text or "").strip()
        if not _ABSOLUTE_IRI.fullmatch(text):
            problems.append(Problem(file, f"atom:id {text!r} is not an absolute IRI (RFC 4287 4.2.6)", element.sourceline))
    entries = feed.findall(_A + "entry")
    if feed.find(_A + "author") is None:
        for entry in entries:
            if entry.find(_A + "author") is None and entry.find(f"{_A}source/{_A}author") is None:
                problems.append(Problem(file, "entry has no atom:author and neither has the feed (RFC 4287 4.1.1)", entry.sourceline))
    selfs = [link for link in feed.findall(_A + "link") if link.get("rel") == "self"]
    if len(selfs) != 1:
        problems.append(Problem(file, f"the feed has {len(selfs)} link rel=\"self\"; it needs exactly one"))
    ids, links = [], []
    for link in feed.findall(_A + "link"):
        links.append((f"feed link rel={link.get('rel', 'alternate')}", link.get("href", ""), link.sourceline))
    for entry in entries:
        ids.append((entry.findtext(_A + "id") or "").strip())
        alternates = [link for link in entry.findall(_A + "link") if link.get("rel", "alternate") == "alternate"]
        if entry.find(_A + "content") is None and not alternates:
            problems.append(Problem(file, "entry has neither atom:content nor a link rel=\"alternate\" (RFC 4287 4.1.2)", entry.sourceline))
        for link in entry.findall(_A + "link"):
            links.append(("entry link", link.get("href", ""), link.sourceline))
    _unique(file, ids, problems)
    return Document(file, ids, [(what, urljoin(self_href(feed), href), line) for what, href, line in links])


def self_href(feed: etree._Element) -> str:
    for link in feed.findall(_A + "link"):
        if link.get("rel") == "self":
            return link.get("href", "")
    return ""


def _rfc3339(file: str, text: str | None, what: str, line: int | None, problems: list[Problem]) -> None:
    value = (text or "").strip()
    if not _RFC3339.fullmatch(value):
        problems.append(Problem(file, f"{what} {value!r} is not an RFC 3339 date-time with a zone", line))
        return
    try:
        dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        problems.append(Problem(file, f"{what} {value!r} is not a real date and time", line))


def _unique(file: str, ids: list[str], problems: list[Problem]) -> None:
    seen: set[str] = set()
    for value in ids:
        if value in seen:
            problems.append(Problem(file, f"id {value!r} appears more than once"))
        seen.add(value)


# RSS


def check_rss(file: str, tree: etree._ElementTree, problems: list[Problem]) -> Document | None:
    rss = tree.getroot()
    if rss.tag != "rss" or rss.get("version") != "2.0":
        problems.append(Problem(file, 'not an RSS 2.0 document: the root must be <rss version="2.0">'))
        return None
    channels = rss.findall("channel")
    if len(channels) != 1:
        problems.append(Problem(file, f"RSS needs exactly one channel, found {len(channels)}"))
        return None
    channel = channels[0]
    for name in ("title", "link", "description"):
        element = channel.find(name)
        if element is None or (name != "description" and not (element.text or "").strip()):
            problems.append(Problem(file, f"channel has no {name}, which RSS 2.0 requires"))
    for name in ("pubDate", "lastBuildDate"):
        element = channel.find(name)
        if element is not None:
            _rfc822(file, element.text, f"channel {name}", element.sourceline, problems)
    selfs = [link for link in channel.findall(_A + "link") if link.get("rel") == "self"]
    if len(selfs) > 1:
        problems.append(Problem(file, f"the channel has {len(selfs)} atom:link rel=\"self\"; it may have one"))
    ids, links = [], []
    for link in channel.findall(_A + "link"):
        links.append((f"channel atom:link rel={link.get('rel', 'alternate')}", link.get("href", ""), link.sourceline))
    for item in channel.findall("item"):
        if item.find("title") is None and item.find("description") is None:
            problems.append(Problem(file, "item has neither title nor description", item.sourceline))
        date = item.find("pubDate")
        if date is not None:
            _rfc822(file, date.text, "item pubDate", date.sourceline, problems)
        guid = item.find("guid")
        if guid is not None:
            value = (guid.text or "").strip()
            ids.append(value)
            permalink = guid.get("isPermaLink", "true")
            if permalink not in {"true", "false"}:
                problems.append(Problem(file, f"guid isPermaLink={permalink!r} must be true or false", guid.sourceline))
            elif permalink == "true" and not _ABSOLUTE_URL.fullmatch(value):
                problems.append(Problem(file, f"guid {value!r} is not a URL, so it needs isPermaLink=\"false\"", guid.sourceline))
        link = item.find("link")
        if link is not None:
            links.append(("item link", (link.text or "").strip(), link.sourceline))
    _unique(file, ids, problems)
    return Document(file, ids, links)


def _rfc822(file: str, text: str | None, what: str, line: int | None, problems: list[Problem]) -> None:
    value = (text or "").strip()
    parsed = email.utils.parsedate_tz(value)
    if parsed is None or parsed[9] is None:
        problems.append(Problem(file, f"{what} {value!r} is not an RFC 822 date with a zone", line))
        return
    try:
        email.utils.parsedate_to_datetime(value)
    except (ValueError, TypeError):
        problems.append(Problem(file, f"{what} {value!r} is not a real date and time", line))


# JSON Feed


def check_json_feed(file: str, data: bytes, problems: list[Problem]) -> Document | None:
    try:
        feed = json.loads(data)
    except (ValueError, UnicodeDecodeError) as error:
        problems.append(Problem(file, f"not valid JSON (truncated?): {error}"))
        return None
    if not isinstance(feed, dict):
        problems.append(Problem(file, "a JSON Feed is a JSON object"))
        return None
    if feed.get("version") != JSON_FEED_VERSION:
        problems.append(Problem(file, f"version {feed.get('version')!r} is not {JSON_FEED_VERSION!r}"))
    if not isinstance(feed.get("title"), str) or not feed["title"].strip():
        problems.append(Problem(file, "title, which JSON Feed requires, is missing or empty"))
    items = feed.get("items")
    if not isinstance(items, list):
        problems.append(Problem(file, "items, which JSON Feed requires, is missing or not a list"))
        return None
    links = [(f"feed {key}", feed[key], None) for key in ("feed_url", "home_page_url") if isinstance(feed.get(key), str)]
    ids = []
    for number, item in enumerate(items, 1):
        where = f"item {number}"
        if not isinstance(item, dict):
            problems.append(Problem(file, f"{where} is not an object"))
            continue
        if not isinstance(item.get("id"), str) or not item["id"]:
            problems.append(Problem(file, f"{where} has no id string"))
        else:
            ids.append(item["id"])
        if not isinstance(item.get("content_html"), str) and not isinstance(item.get("content_text"), str):
            problems.append(Problem(file, f"{where} has neither content_html nor content_text"))
        for key in ("date_published", "date_modified"):
            if key in item:
                value = item[key]
                _rfc3339(file, value if isinstance(value, str) else repr(value), f"{where} {key}", None, problems)
        if isinstance(item.get("url"), str):
            links.append((f"{where} url", item["url"], None))
    _unique(file, ids, problems)
    return Document(file, ids, links)


# OPML


def check_opml(file: str, tree: etree._ElementTree, problems: list[Problem]) -> Document | None:
    root = tree.getroot()
    if root.tag != "opml" or root.find("body") is None:
        problems.append(Problem(file, "not an OPML document: it needs <opml> with a <body>"))
        return None
    links = []
    for outline in root.iter("outline"):
        for attribute in ("xmlUrl", "htmlUrl"):
            if outline.get(attribute):
                links.append((f"outline {attribute}", outline.get(attribute), outline.sourceline))
    return Document(file, [], links)
