"""Parse an HTML listing page and turn it, or one element of it, into the
text a browser shows. Pure: it is handed the decoded page, touches no file
and fetches nothing.

The parser never goes to the network: lxml's HTML parser loads no DTD and
expands no external entity, and without `huge_tree` libxml2 keeps its
limits on nesting depth and text size, so a hostile page costs bounded
time and memory. Trees are walked with an explicit stack, never by
recursion, so deep nesting cannot exhaust Python's stack either.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Callable

from lxml import etree
from lxml import html as lxml_html

from feedsvc.core.links import clean_link
from feedsvc.core.text import clean_line

# Elements a browser lays out as blocks: each becomes its own paragraph.
BLOCKS = frozenset(
    "address article aside blockquote body caption center dd details dialog dir div dl dt fieldset figcaption "
    "figure footer form h1 h2 h3 h4 h5 h6 header hgroup hr html legend li main menu nav ol p pre section "
    "summary table tbody thead tfoot tr ul".split()
)
# Never shown as text.
UNSHOWN = frozenset("head script style template noscript iframe object embed svg math select option textarea".split())
# Page furniture in text mode: menus, sidebars, footers and forms.
FURNITURE = frozenset("nav aside footer form".split())
FURNITURE_ROLES = frozenset("navigation banner contentinfo complementary search menu menubar".split())
_HIDDEN_STYLE = re.compile(r"display\s*:\s*none|visibility\s*:\s*hidden", re.IGNORECASE)
_SPACES = re.compile(r"[ \t\n\r\f]+")
_READ_MORE = re.compile(r"^read more\W*$", re.IGNORECASE)
_BLANK_LINES = re.compile(r"\n\s*\n")


class HtmlError(ValueError):
    """The bytes hold no HTML document lxml can read."""


def parse_document(text: str) -> etree._Element:
    """The page's element tree, read without touching the network."""
    parser = lxml_html.HTMLParser(
        encoding="utf-8", no_network=True, remove_comments=True, remove_pis=True, huge_tree=False, default_doctype=False
    )
    try:
        root = lxml_html.document_fromstring(text.encode("utf-8", errors="replace"), parser=parser)
    except (etree.ParserError, etree.XMLSyntaxError, ValueError) as error:
        raise HtmlError(str(error) or "no HTML document") from None
    if root is None:
        raise HtmlError("no HTML document")
    return root


def page_base(root: etree._Element, page_url: str | None) -> str | None:
    """What relative links resolve against: `<base href>`, then the
    canonical link, then the `page_url` setting."""
    fallback = page_url
    canonical = _first_href(root, "//link[@href][contains(concat(' ', normalize-space(@rel), ' '), ' canonical ')]")
    if canonical:
        fallback, _ = clean_link(canonical, page_url)
        fallback = fallback or page_url
    base = _first_href(root, "//base[@href]")
    if base:
        resolved, _ = clean_link(base, fallback)
        if resolved:
            return resolved
    return fallback


def _first_href(root: etree._Element, path: str) -> str | None:
    found = root.xpath(path)
    return found[0].get("href") if found else None


def is_hidden(element: etree._Element) -> bool:
    if element.get("hidden") is not None or element.get("aria-hidden", "").strip().lower() == "true":
        return True
    if element.tag == "input" and element.get("type", "").lower() == "hidden":
        return True
    return bool(_HIDDEN_STYLE.search(element.get("style", "")))


def is_furniture(element: etree._Element) -> bool:
    """Menus, sidebars, footers, forms, and a page header outside any
    article (a header inside one often holds the article's title)."""
    if element.tag in FURNITURE or element.get("role", "").strip().lower() in FURNITURE_ROLES:
        return True
    return element.tag == "header" and not any(a.tag in ("article", "main") for a in element.iterancestors())


@dataclass(frozen=True)
class Anchor:
    """A link on the page: its text and its href as written."""

    text: str
    href: str


@dataclass(frozen=True)
class Shown:
    """The text a browser shows, and the anchors met on the way."""

    text: str
    anchors: list[Anchor] = field(default_factory=list)


def shown_text(
    element: etree._Element, drop_furniture: bool = False, rewrite: Callable[[etree._Element], str | None] | None = None
) -> Shown:
    """The text of `element` as a browser shows it: each block its own
    paragraph (a blank line between blocks), inline elements on their line,
    `<br>` a line break, scripts, styles and hidden elements dropped.
    `rewrite` may replace an element by a text block of its own."""
    out: list[str] = []
    anchors: list[Anchor] = []
    # Each entry: an element to open, or a string to write on the way out.
    stack: list[etree._Element | str] = [element]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            out.append(item)
            continue
        tail = _SPACES.sub(" ", item.tail) if item.tail and item is not element else ""
        tag = item.tag if isinstance(item.tag, str) else ""
        if not tag or tag in UNSHOWN or is_hidden(item) or (drop_furniture and is_furniture(item)):
            out.append(tail)
            continue
        replacement = rewrite(item) if rewrite else None
        if replacement is not None:
            out.append(f"\n\n{replacement}\n\n{tail}")
            continue
        if tag == "br":
            out.append("\n" + tail)
            continue
        block = tag in BLOCKS
        if tag == "a" and item.get("href"):
            anchors.append(Anchor(one_line(item.text_content()), item.get("href")))
        stack.append(("\n\n" if block else "") + tail)
        stack.extend(reversed(list(item)))
        out.append(("\n\n" if block else "") + (_SPACES.sub(" ", item.text) if item.text else ""))
    return Shown("\n".join(clean_line(line) for line in "".join(out).split("\n")), anchors)


def paragraphs(text: str) -> list[str]:
    """The paragraphs of shown text, each on one line."""
    return [" ".join(p.split()) for p in _BLANK_LINES.split(text) if p.strip()]


def one_line(text: str) -> str:
    return clean_line(" ".join(text.split()))


def reads_as_read_more(text: str) -> bool:
    return bool(_READ_MORE.match(text))
