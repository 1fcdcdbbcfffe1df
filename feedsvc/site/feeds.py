"""Feed documents as bytes: Atom 1.0 and RSS 2.0 (through feedgen), JSON
Feed 1.1 and OPML 2.0. Pure: it is handed data and returns bytes; which
articles go into which document is decided in core.publish.

How the bytes are made, and why:
- Each article's Atom entry and RSS item are rendered once (see
  `entries`), and documents are assembled by splicing those bytes into a
  head that feedgen renders with no entries. An article sits in two feeds
  (the whole site and its category), so rendering it once is what keeps a
  cold build of a large site fast. feedgen's entry elements carry no
  namespace of their own: inside the Atom head, whose root declares the
  Atom namespace as default, they are Atom elements; RSS items need none.
- Nothing here reads the clock or a library version: the generator is named
  explicitly and every date comes from the data, so the same input gives
  the same bytes.
- RFC 5005 (`fh:archive`, `prev-archive`, `next-archive`, `current`) and
  RFC 6721 (`at:deleted-entry`) are added through a small feedgen extension,
  so their namespaces are declared on the root element.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field

from feedgen.ext.base import BaseExtension
from feedgen.feed import FeedGenerator
from lxml import etree

from feedsvc.config import GENERATOR, Config
from feedsvc.core.models import Withdrawal
from feedsvc.site import routes as urls
from feedsvc.site.entries import HTML_TYPE, Entry, json_item, render_entry, rfc3339, xml_safe

__all__ = ["Entry", "FeedHead", "Outline", "atom_feed", "json_feed", "json_item", "opml", "render_entry", "rss_feed"]

ATOM_NS = "http://www.w3.org/2005/Atom"
HISTORY_NS = "http://purl.org/syndication/history/1.0"
TOMBSTONES_NS = "http://purl.org/atompub/tombstones/1.0"
JSON_FEED_VERSION = "https://jsonfeed.org/version/1.1"
RSS_DOCS = "https://www.rssboard.org/rss-specification"
OPML_DOCS = "http://opml.org/spec2.opml"

ATOM_TYPE = "application/atom+xml"
RSS_TYPE = "application/rss+xml"


@dataclass(frozen=True)
class FeedHead:
    """Everything about one feed document except its entries.

    `self_url` is the document's own URL; `current_url` is set on archive
    documents (RFC 5005) and points at the subscription feed.
    """

    id: str
    title: str
    subtitle: str
    updated: dt.datetime
    self_url: str
    html_url: str
    current_url: str | None = None
    prev_archive_url: str | None = None
    next_archive_url: str | None = None
    tombstones: tuple[Withdrawal, ...] = field(default=())

    @property
    def is_archive(self) -> bool:
        return self.current_url is not None



@dataclass(frozen=True)
class Outline:
    """One feed listed in the OPML subscription list."""

    title: str
    xml_url: str
    html_url: str



def asset_url(config: Config, value: str | None) -> str | None:
    """An icon or logo setting: absolute URLs as given, paths under the site."""
    if not value:
        return None
    if value.startswith(("http://", "https://")):
        return value
    return urls.absolute(config.site_url, value)



class _History(BaseExtension):
    """feedgen extension for what feedgen has no setter for: RFC 5005
    archive marking and links (in RSS, as atom:link), RFC 6721 tombstones
    and, in RSS, the WebSub hub link."""

    def __init__(self) -> None:
        self.head: FeedHead | None = None
        self.hub: str | None = None

    def extend_ns(self) -> dict[str, str]:
        namespaces = {}
        if self.head.is_archive:
            namespaces["fh"] = HISTORY_NS
        if self.head.tombstones:
            namespaces["at"] = TOMBSTONES_NS
        return namespaces

    def extend_atom(self, feed: etree._Element) -> etree._Element:
        if self.head.is_archive:
            etree.SubElement(feed, f"{{{HISTORY_NS}}}archive")
        for gone in self.head.tombstones:
            etree.SubElement(feed, f"{{{TOMBSTONES_NS}}}deleted-entry", ref=gone.iri, when=rfc3339(gone.when))
        return feed

    def extend_rss(self, feed: etree._Element) -> etree._Element:
        channel = feed[0]
        for rel, href in _navigation(self.head, self.hub):
            etree.SubElement(channel, f"{{{ATOM_NS}}}link", rel=rel, href=href)
        if self.head.is_archive:
            etree.SubElement(channel, f"{{{HISTORY_NS}}}archive")
        return feed


def _navigation(head: FeedHead, hub: str | None) -> list[tuple[str, str]]:
    """The links besides self and alternate, in a fixed order."""
    links = []
    if hub:
        links.append(("hub", hub))
    if head.current_url:
        links.append(("current", head.current_url))
    if head.prev_archive_url:
        links.append(("prev-archive", head.prev_archive_url))
    if head.next_archive_url:
        links.append(("next-archive", head.next_archive_url))
    return links


def _generator(config: Config, head: FeedHead, self_type: str) -> FeedGenerator:
    feed = FeedGenerator()
    feed.register_extension("history", _History, atom=True, rss=True)
    feed.history.head = head
    feed.history.hub = config.websub_hub
    feed.id(head.id)
    feed.title(xml_safe(head.title))
    feed.subtitle(xml_safe(head.subtitle or head.title))  # also the RSS description
    feed.updated(head.updated)  # also RSS lastBuildDate; feedgen would use the clock
    feed.author(_author(config))
    feed.link(href=head.self_url, rel="self", type=self_type)
    feed.link(href=head.html_url, rel="alternate", type=HTML_TYPE)  # also the RSS <link>
    feed.language(config.language)
    # Named explicitly, without a version, so a library upgrade does not
    # change every feed's bytes.
    feed.generator(GENERATOR)
    feed.docs(RSS_DOCS)
    icon, logo = asset_url(config, config.icon), asset_url(config, config.logo)
    if icon:
        feed.icon(icon)
    if logo or icon:
        feed.logo(logo or icon)  # also the RSS <image>
    return feed


def _author(config: Config) -> dict[str, str]:
    author = {"name": xml_safe(config.author_name)}
    if config.author_email:
        author["email"] = config.author_email
    return author


def _splice(head: bytes, closing: bytes, parts: list[bytes]) -> bytes:
    if not head.endswith(closing):
        raise ValueError("unexpected feed head: " + head[-40:].decode("utf-8", "replace"))
    return b"".join([head[: -len(closing)], *parts, closing])


def atom_feed(config: Config, head: FeedHead, entries: list[Entry]) -> bytes:
    feed = _generator(config, head, ATOM_TYPE)
    for rel, href in _navigation(head, config.websub_hub):
        feed.link(href=href, rel=rel, type=None if rel == "hub" else ATOM_TYPE)
    return _splice(feed.atom_str(), b"</feed>", [entry.atom for entry in entries])


def rss_feed(config: Config, head: FeedHead, entries: list[Entry]) -> bytes:
    feed = _generator(config, head, RSS_TYPE)
    return _splice(feed.rss_str(), b"</channel></rss>", [entry.rss for entry in entries])


def json_feed(config: Config, head: FeedHead, items: list[dict]) -> bytes:
    document = {
        "version": JSON_FEED_VERSION,
        "title": head.title,
        "home_page_url": head.html_url,
        "feed_url": head.self_url,
        "description": head.subtitle or head.title,
    }
    icon = asset_url(config, config.icon)
    if icon:
        document["icon"] = icon
        document["favicon"] = icon
    author = {"name": config.author_name}
    if config.author_email:
        author["url"] = "mailto:" + config.author_email
    document["authors"] = [author]
    document["language"] = config.language
    if config.websub_hub:
        document["hubs"] = [{"type": "WebSub", "url": config.websub_hub}]
    document["items"] = items
    return json.dumps(document, ensure_ascii=False, indent=1).encode("utf-8") + b"\n"


def opml(config: Config, title: str, outlines: list[Outline]) -> bytes:
    """OPML 2.0 subscription list. It carries no dates: it changes only when
    the list of feeds does, so its bytes stay put between articles."""
    root = etree.Element("opml", version="2.0")
    head = etree.SubElement(root, "head")
    etree.SubElement(head, "title").text = xml_safe(title)
    etree.SubElement(head, "ownerName").text = xml_safe(config.author_name)
    etree.SubElement(head, "docs").text = OPML_DOCS
    body = etree.SubElement(root, "body")
    for outline in outlines:
        etree.SubElement(
            body,
            "outline",
            type="rss",
            text=xml_safe(outline.title),
            title=xml_safe(outline.title),
            xmlUrl=outline.xml_url,
            htmlUrl=outline.html_url,
        )
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)
