"""Turn an HTML listing page into article cards, by the site's CSS selectors
or, in text mode, by reading the page's visible text with the card grammar.
Pure: no I/O, no clock; the day the page was first seen is handed in for
dates without a year."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace

from lxml import etree
from lxml.cssselect import CSSSelector

from feedsvc.core.dates import read_date
from feedsvc.core.html import HtmlError, one_line, page_base, paragraphs, parse_document, reads_as_read_more, shown_text
from feedsvc.core.links import clean_link
from feedsvc.core.models import HtmlSettings, Problem, RawItem
from feedsvc.core.parse import Limits, parse_page
from feedsvc.core.text import title_key

SELECTOR_SETTINGS = ("card", "title", "summary", "date", "category", "link")


def selector(css: str) -> CSSSelector:
    """A compiled selector; cssselect's SelectorError (a SyntaxError) when
    `css` is not one."""
    return CSSSelector(css, translator="html")


def parse_html_page(
    text: str,
    page: str,
    page_number: int,
    settings: HtmlSettings,
    first_seen: dt.date,
    zone: dt.tzinfo,
    limits: Limits = Limits(),
) -> tuple[list[RawItem], list[Problem]]:
    """The cards of one HTML page, in listing order, and what was wrong with it."""
    try:
        root = parse_document(text)
    except HtmlError as error:
        return [], [Problem(page, f"skipped: cannot read it as HTML: {error}")]
    base = page_base(root, settings.page_url)
    if settings.mode == "text":
        return _text_mode(root, base, page, page_number, limits)
    return _selector_mode(root, base, page, page_number, settings, first_seen, zone, limits)


def _text_mode(
    root: etree._Element, base: str | None, page: str, page_number: int, limits: Limits
) -> tuple[list[RawItem], list[Problem]]:
    problems: list[Problem] = []

    def read_more(element: etree._Element) -> str | None:
        # A `Read More` anchor becomes the text page's `Read More URL` line.
        if element.tag != "a" or not reads_as_read_more(one_line(element.text_content())):
            return None
        link, why = clean_link(element.get("href") or "", base)
        if why:
            problems.append(Problem(page, f"Read More {why}"))
        return f"Read More {link}" if link else "Read More"

    bodies = root.xpath("//main | //*[@role='main']")
    shown = shown_text(bodies[0] if bodies else root, drop_furniture=True, rewrite=read_more)
    items, found = parse_page(shown.text, page, page_number, limits)
    # Line numbers of the page's shown text would point nowhere in the file.
    problems += [Problem(page, p.message) for p in found]
    titled: dict[str, str] = {}
    for anchor in shown.anchors:
        titled.setdefault(title_key(anchor.text), anchor.href)
    linked = []
    for item in items:
        href = titled.get(title_key(item.title))
        link, why = clean_link(href, base) if href else (None, None)
        if why:
            problems.append(Problem(page, f"card {item.title!r}: {why}"))
        linked.append(replace(item, link=link or item.link))
    return linked, problems


def _selector_mode(
    root: etree._Element,
    base: str | None,
    page: str,
    page_number: int,
    settings: HtmlSettings,
    first_seen: dt.date,
    zone: dt.tzinfo,
    limits: Limits,
) -> tuple[list[RawItem], list[Problem]]:
    find = {name: selector(getattr(settings, name)) for name in SELECTOR_SETTINGS if getattr(settings, name)}
    items: list[RawItem] = []
    problems: list[Problem] = []
    for number, card in enumerate(find["card"](root), start=1):
        where = f"card {number} (line {card.sourceline})" if card.sourceline else f"card {number}"
        title_element = _first(find["title"], card)
        title = one_line(shown_text(title_element).text) if title_element is not None else ""
        if not title:
            problems.append(Problem(page, f"{where}: no title matches the html.title selector; card dropped"))
            continue
        if len(title) > limits.max_title_chars:
            problems.append(Problem(page, f"{where}: a {len(title)}-character title is over the {limits.max_title_chars}-character limit; card dropped"))
            continue
        if len(items) == limits.max_cards:
            problems.append(Problem(page, f"more than {limits.max_cards} cards; the rest of the page is skipped"))
            break
        where = f"card {title!r}"
        summary = _element_text(find, "summary", card)
        category = one_line(_element_text(find, "category", card)) or None
        date, moment = _date(find, card, settings, first_seen, zone, page, where, problems)
        link = _link(find, card, title_element, base, page, where, problems)
        items.append(RawItem(page, page_number, len(items), title, summary, date, category, link, moment))
    if not items and "card" in find and not find["card"](root):
        problems.append(Problem(page, "no element matches the html.card selector"))
    return items, problems


def _first(find: CSSSelector | None, card: etree._Element) -> etree._Element | None:
    if find is None:
        return None
    found = find(card)
    return found[0] if found else None


def _element_text(find: dict[str, CSSSelector], name: str, card: etree._Element) -> str:
    element = _first(find.get(name), card)
    return "\n\n".join(paragraphs(shown_text(element).text)) if element is not None else ""


def _date(
    find: dict[str, CSSSelector],
    card: etree._Element,
    settings: HtmlSettings,
    first_seen: dt.date,
    zone: dt.tzinfo,
    page: str,
    where: str,
    problems: list[Problem],
) -> tuple[dt.date | None, dt.datetime | None]:
    element = _first(find.get("date"), card)
    if element is None:
        return None, None
    raw = element.get("datetime") or one_line(shown_text(element).text)
    if not raw.strip():
        return None, None
    try:
        reading = read_date(raw, first_seen, zone, settings.dayfirst, settings.date_format)
    except ValueError as error:
        problems.append(Problem(page, f"{where}: unreadable date: {error}; the card is treated as undated"))
        return None, None
    return reading.date, reading.moment


def _link(
    find: dict[str, CSSSelector],
    card: etree._Element,
    title_element: etree._Element,
    base: str | None,
    page: str,
    where: str,
    problems: list[Problem],
) -> str | None:
    if "link" in find:
        element = _first(find["link"], card)
    elif title_element.tag == "a":
        element = title_element
    else:  # a heading that holds the link, as most blogs write it
        element = next(iter(title_element.iterdescendants("a")), None)
    href = element.get("href") if element is not None else None
    if not href:
        return None
    link, why = clean_link(href, base)
    if why:
        problems.append(Problem(page, f"{where}: {why}"))
    return link
