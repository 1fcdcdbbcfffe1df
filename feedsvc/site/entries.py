"""One article as feeds carry it: its Atom entry and RSS item (feedgen's
markup, rendered once per article) and its JSON Feed item. Pure: data in,
bytes out.

- Entry markup is feedgen's: its shape is taken from feedgen once and
  filled with each article's values, escaped as lxml escapes them (see
  `render_entry`), because building an lxml tree per entry would cost most
  of a large build. The tests hold it byte for byte to `feedgen_entry`.
- Entry id (Atom id, RSS guid with isPermaLink="false", JSON id) is the
  article's permanent IRI, the same in every feed. Its link is the absolute
  URL of the article page, built from the configured base URL.
- The summary's paragraphs become escaped `<p>` elements: Atom
  `<content type="html">`, RSS `<description>`, JSON `content_html`; JSON
  also has `content_text` with paragraphs separated by a blank line.
- Dates are handed to feedgen as datetimes, never strings (it would parse
  strings with dateutil, which is slow).
"""

from __future__ import annotations

import datetime as dt
import functools
import html
import re
from dataclasses import dataclass

from feedgen.entry import FeedEntry
from lxml import etree

from feedsvc.config import Config
from feedsvc.core.models import Article
from feedsvc.site import routes as urls

HTML_TYPE = "text/html"
DC_NS = "http://purl.org/dc/elements/1.1/"

# Characters XML 1.0 cannot carry. Ingest already removed them from page
# text; this is the last line of defence for text that reached an Article
# another way, since lxml refuses them and the entry patterns below would
# pass them through.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
_CONTROL_BYTES = bytes([*range(0x00, 0x09), 0x0B, 0x0C, *range(0x0E, 0x20)])


def xml_safe(text: str) -> str:
    # Checking the UTF-8 bytes is cheaper than a regex search, and this
    # runs on every title and summary.
    try:
        data = text.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate
        return _NOT_XML.sub("", text)
    clean = len(data.translate(None, _CONTROL_BYTES)) == len(data)
    if clean and b"\xef\xbf\xbe" not in data and b"\xef\xbf\xbf" not in data:
        return text
    return _NOT_XML.sub("", text)


def rfc3339(moment: dt.datetime) -> str:
    return moment.isoformat()



@dataclass(frozen=True)
class Entry:
    """One article rendered once: its Atom entry and RSS item as bytes."""

    atom: bytes
    rss: bytes



UNTITLED = "(untitled)"


def entry_title(article: Article) -> str:
    """The title as feeds carry it. Ingest never yields an empty title, but
    feedgen refuses one, so a record that lost its title still renders."""
    title = xml_safe(article.title)
    return title if title.strip() else UNTITLED


def summary_html(article: Article) -> str:
    """The summary as HTML: one escaped <p> per paragraph."""
    escaped = html.escape(xml_safe(article.summary), quote=False)
    paragraphs = [p for p in escaped.split("\n\n") if p]
    return "<p>" + "</p>\n<p>".join(paragraphs) + "</p>" if paragraphs else ""


def summary_text(article: Article) -> str:
    return "\n\n".join(xml_safe(p) for p in article.paragraphs)


def article_url(config: Config, article: Article) -> str:
    return urls.absolute(config.site_url, urls.article_path(article.id))



def feedgen_entry(config: Config, article: Article) -> Entry:
    """The Atom entry and RSS item of one article, as feedgen renders them."""
    entry = FeedEntry()
    entry.id(article.iri)  # also the RSS guid, isPermaLink="false"
    entry.title(entry_title(article))
    if article.link:
        # A subscriber opens the original article; feedsvc's own page is related.
        entry.link(href=article.link, rel="alternate")  # also the RSS <link>
        entry.link(href=article_url(config, article), rel="related", type=HTML_TYPE)
    else:
        entry.link(href=article_url(config, article), rel="alternate", type=HTML_TYPE)
    entry.content(summary_html(article), type="html")  # RSS: escaped <description>
    entry.published(article.published)
    entry.updated(article.updated)
    # Readers show the term, so it is the category's name, as is the label.
    name = xml_safe(article.category)
    entry.category(term=name, scheme=categories_url(config), label=name)
    atom = entry.atom_entry()
    if article.link:
        _mark_related(atom, article_url(config, article))
    return Entry(_serialize(atom), _serialize(_with_creator(entry.rss_entry(), config)))


def _mark_related(atom: etree._Element, own_url: str) -> None:
    """feedgen drops the rel and type of entry links (and reads a link
    without rel as alternate), so the link to feedsvc's own page is marked
    here; two alternate links of one type would be invalid Atom."""
    for link in atom.iter("link", "{http://www.w3.org/2005/Atom}link"):
        if link.get("href") == own_url:
            link.set("rel", "related")
            link.set("type", HTML_TYPE)


def categories_url(config: Config) -> str:
    """The Atom category scheme, and the RSS category domain: the site's categories."""
    return urls.absolute(config.site_url, "/categories/")


def _with_creator(item: etree._Element, config: Config) -> etree._Element:
    """The item's author as dc:creator: RSS's own <author> must be an
    e-mail address, and readers without one show a placeholder."""
    etree.SubElement(item, f"{{{DC_NS}}}creator").text = xml_safe(config.author_name)
    return item


def _serialize(element: etree._Element) -> bytes:
    # UTF-8 without a declaration: the bytes are spliced into a UTF-8 document.
    return etree.tostring(element, encoding="utf-8")


def render_entry(config: Config, article: Article) -> Entry:
    """The Atom entry and RSS item of one article: feedgen's bytes.

    feedgen builds an lxml tree per entry, which costs most of a large
    build. The shape of its output is fixed, so it is taken once from
    feedgen itself (`_EntryShape`) and filled with each article's escaped
    values; the result is byte for byte what feedgen gives, which the tests
    check on hostile text. Anything the shape cannot hold (an empty title
    or summary, where feedgen leaves elements out or empty) goes to feedgen.
    """
    values = _values(config, article) if article.link is None else None
    if values is None:  # the shape holds one link; articles with a source have two
        return feedgen_entry(config, article)
    shape = _entry_shape()
    return Entry(shape.atom.fill(values), shape.rss.fill(values))


def _text(value: str) -> str:
    """Escaped as libxml2 escapes element text."""
    return value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("\r", "&#13;")


def _attribute(value: str) -> str:
    """Escaped as libxml2 escapes a double-quoted attribute value."""
    return (
        _text(value)
        .replace('"', "&quot;")
        .replace("\n", "&#10;")
        .replace("\t", "&#9;")
    )


_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def rfc822(moment: dt.datetime) -> str:
    """An RFC 822 date as feedgen writes it (C locale), without touching
    the process locale."""
    offset = "+0000" if moment.tzinfo is dt.timezone.utc else moment.strftime("%z")
    return (
        f"{_DAYS[moment.weekday()]}, {moment.day:02d} {_MONTHS[moment.month - 1]} {moment.year} "
        f"{moment.hour:02d}:{moment.minute:02d}:{moment.second:02d} {offset}"
    )


def _values(config: Config, article: Article) -> dict[str, str] | None:
    """The escaped value of every slot, or None when feedgen's output would
    not have the usual shape."""
    title, content, label = entry_title(article), summary_html(article), xml_safe(article.category)
    if not (title and content and label and article.iri and xml_safe(config.author_name)):
        return None
    if article.published.year < 1000 or article.updated.year < 1000:
        return None  # strftime pads such years differently on some platforms
    url = article_url(config, article)
    return {
        "id": _text(article.iri),
        "title": _text(title),
        "link": _text(url),
        "href": _attribute(url),
        "content": _text(content),
        "term": _attribute(label),
        "scheme": _attribute(categories_url(config)),
        "label": _attribute(label),
        "label_text": _text(label),
        "creator": _text(xml_safe(config.author_name)),
        "published": article.published.isoformat(),
        "updated": article.updated.isoformat(),
        "pubdate": rfc822(article.published),
    }


class _Pattern:
    """Serialized markup with a named slot wherever a value goes."""

    def __init__(self, markup: str, markers: dict[str, str]) -> None:
        template = markup.replace("{", "{{").replace("}", "}}")
        for slot, marker in markers.items():
            template = template.replace(marker, "{" + slot + "}")
        self.template = template

    def fill(self, values: dict[str, str]) -> bytes:
        return self.template.format_map(values).encode("utf-8")


@dataclass(frozen=True)
class _EntryShape:
    atom: _Pattern
    rss: _Pattern


@functools.cache
def _entry_shape() -> _EntryShape:
    """Let feedgen render an entry whose every value is a distinct marker,
    and cut its output at the markers."""
    published = dt.datetime(1901, 2, 3, 4, 5, 6, tzinfo=dt.timezone.utc)
    updated = dt.datetime(1902, 3, 4, 5, 6, 7, tzinfo=dt.timezone.utc)
    entry = FeedEntry()
    entry.id("urn:x-slot:id")
    entry.title("x-slot-title")
    entry.link(href="http://x-slot/link", rel="alternate", type=HTML_TYPE)
    entry.content("x-slot-content", type="html")
    entry.published(published)
    entry.updated(updated)
    entry.category(term="x-slot-term", scheme="http://x-slot/scheme", label="x-slot-label")
    atom = _serialize(entry.atom_entry()).decode("utf-8")
    item = entry.rss_entry()
    etree.SubElement(item, f"{{{DC_NS}}}creator").text = "x-slot-creator"
    rss = _serialize(item).decode("utf-8")
    common = {
        "id": "urn:x-slot:id",
        "title": "x-slot-title",
        "content": "x-slot-content",
    }
    atom_markers = {
        **common,
        "href": "http://x-slot/link",
        "term": "x-slot-term",
        "scheme": "http://x-slot/scheme",
        "label": "x-slot-label",
        "published": published.isoformat(),
        "updated": updated.isoformat(),
    }
    rss_markers = {
        **common,
        "link": "http://x-slot/link",
        "label_text": "x-slot-label",
        "scheme": "http://x-slot/scheme",
        "creator": "x-slot-creator",
        "pubdate": rfc822(published),
    }
    # Every value must appear exactly once, or the cut would be wrong; a
    # feedgen release that changes this fails here, loudly, at first use.
    for markup, markers in ((atom, atom_markers), (rss, rss_markers)):
        if any(markup.count(marker) != 1 for marker in markers.values()):
            raise RuntimeError("feedgen's entry markup has an unexpected shape")
    return _EntryShape(_Pattern(atom, atom_markers), _Pattern(rss, rss_markers))


def json_item(config: Config, article: Article) -> dict:
    item = {
        "id": article.iri,
        "url": article.link or article_url(config, article),
        "title": entry_title(article),
        "content_html": summary_html(article),
        "content_text": summary_text(article),
        "date_published": rfc3339(article.published),
        "date_modified": rfc3339(article.updated),
        "tags": [xml_safe(article.category)],
    }
    if article.link:  # JSON Feed has no related link: feedsvc's page goes in an extension
        item["_feedsvc"] = {"article_page": article_url(config, article)}
    return item

