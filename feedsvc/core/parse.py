"""Turn the text of one listing page into article cards. Pure: no I/O, no clock.

A page is a run of cards, top card first. Lines are cleaned, consecutive
non-blank lines are joined into one paragraph, and two kinds of line are
page furniture that never join a paragraph: a trailer `MM/DD/YYYY Category`
and `Read More`. Then, walking the paragraphs:

1. The first paragraph of the page, and the first after a trailer, is a title.
2. A paragraph followed by its repeat (the same title key, so case, spacing
   and punctuation may differ) is a title; the repeat is dropped.
3. Once a card has a summary paragraph, a paragraph without a repeat is a
   title when it reads as one (at most 200 characters and 30 words, no
   closing sentence punctuation) and the next paragraph reads as a summary
   (closing sentence punctuation, or longer than a title may be).
4. Every other paragraph belongs to the current card's summary.
5. A trailer closes the current card with its date and category. A trailer
   with no open card before it (at the top of a page, or a second trailer
   in a row) is ignored, and `Read More` alone closes nothing.

A date line whose text after the date ends like a sentence (`.`, `!`, `?`,
`…`) is summary text, not a trailer. An impossible date (13/45/2025) is
reported, and its card is undated but keeps the trailer's category.

A card may carry the link of the original article: a `Read More` line may
end with it (`Read More https://...`), and a line holding only an absolute
http(s) URL gives the link of the card above it. Only the first link of a
card counts; tracking parameters and the fragment are dropped.

A would-be title longer than the title limit is not a card: it is dropped,
with its summary, and reported. The closing-punctuation tests look past
closing quotes and brackets, so `He said "enough."` ends a sentence.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from typing import Iterable, Iterator

from feedsvc.core.links import ABSOLUTE_URL, clean_link
from feedsvc.core.models import Problem, RawItem
from feedsvc.core.text import clean_line, title_key

_TRAILER = re.compile(r"^(\d{1,2})/(\d{1,2})/(\d{4})(?: (.{1,80}))?$")
_READ_MORE = re.compile(r"^read more\W*$", re.IGNORECASE)
_READ_MORE_LINK = re.compile(r"^read more\W*\s(https?://\S+)$", re.IGNORECASE)
_LINE = re.compile(r"^.*$", re.MULTILINE)  # every line, as text.split("\n") gives them
_CLOSERS = "\"')]}»’”"
_SENTENCE_END = ".!?…;:,"
_SUMMARY_END = ".!?…"
TITLE_MAX_CHARS = 200
TITLE_MAX_WORDS = 30
# Dates whose midnight stays within years 1000-9999 in every time zone, so
# every timestamp format (RFC 3339, RFC 822, the ledger's) has four-digit years.
EARLIEST_DATE = dt.date(1000, 1, 2)
LATEST_DATE = dt.date(9999, 12, 30)


@dataclass(frozen=True)
class Limits:
    max_title_chars: int = 300
    max_cards: int = 10_000


@dataclass(frozen=True, slots=True)
class _Paragraph:
    text: str
    line: int


@dataclass(frozen=True, slots=True)
class _Trailer:
    date: dt.date | None
    category: str | None
    line: int


@dataclass(frozen=True, slots=True)
class _Link:
    url: str | None


@dataclass(slots=True)
class _Card:
    title: str
    line: int
    paragraphs: list[str] = field(default_factory=list)
    date: dt.date | None = None
    category: str | None = None
    closed: bool = False
    link: str | None = None


def parse_page(text: str, page: str, page_number: int, limits: Limits = Limits()) -> tuple[list[RawItem], list[Problem]]:
    """The cards of one page, in listing order, and what was wrong with it."""
    problems: list[Problem] = []
    tokens = _tokens(text, page, problems)
    cards = _cards(tokens)
    items: list[RawItem] = []
    for card in cards:
        if len(card.title) > limits.max_title_chars:
            problems.append(
                Problem(page, f"a {len(card.title)}-character title is over the {limits.max_title_chars}-character limit; card dropped", card.line)
            )
            continue
        if len(items) == limits.max_cards:
            problems.append(Problem(page, f"more than {limits.max_cards} cards; the rest of the page is skipped", card.line))
            break
        items.append(
            RawItem(
                page=page,
                page_number=page_number,
                position=len(items),
                title=card.title,
                summary="\n\n".join(card.paragraphs),
                date=card.date,
                category=card.category,
                link=card.link,
            )
        )
    return items, problems


def _tokens(text: str, page: str, problems: list[Problem]) -> Iterator[_Paragraph | _Trailer | _Link]:
    """The page's paragraphs and trailers, one at a time: the parse stops
    at the card limit, so what lies beyond it is never even split."""
    lines: list[str] = []
    start = 0
    for number, match in enumerate(_LINE.finditer(text), start=1):
        line = clean_line(match.group())
        link = _link(line, page, number, problems)
        if link is not None:
            if lines:
                yield _Paragraph(" ".join(lines), start)
                lines = []
            yield link
            continue
        if line and not _READ_MORE.match(line):
            trailer = _trailer(line, page, number, problems)
            if trailer is None:
                if not lines:
                    start = number
                lines.append(line)
                continue
        else:
            trailer = None
        if lines:
            yield _Paragraph(" ".join(lines), start)
            lines = []
        if trailer is not None:
            yield trailer
    if lines:
        yield _Paragraph(" ".join(lines), start)


def _link(line: str, page: str, number: int, problems: list[Problem]) -> _Link | None:
    """A link line, or None when the line is something else."""
    if not line.startswith(("h", "H", "r", "R")):
        return None  # most lines: no regex
    read_more = _READ_MORE_LINK.match(line)
    url = read_more.group(1) if read_more else line if ABSOLUTE_URL.match(line) else None
    if url is None:
        return None
    cleaned, why = clean_link(url)
    if why:
        problems.append(Problem(page, why, number))
    return _Link(cleaned)


def _trailer(line: str, page: str, number: int, problems: list[Problem]) -> _Trailer | None:
    match = _TRAILER.match(line)
    if not match:
        return None
    month, day, year, category = match.groups()
    if category and category.rstrip(_CLOSERS).endswith(tuple(_SUMMARY_END)):
        return None  # a sentence that happens to start with a date
    try:
        date = dt.date(int(year), int(month), int(day))
    except ValueError:
        problems.append(Problem(page, f"impossible date {month}/{day}/{year}; the card is treated as undated", number))
        date = None
    if date and not EARLIEST_DATE <= date <= LATEST_DATE:
        problems.append(Problem(page, f"implausible date {month}/{day}/{year}; the card is treated as undated", number))
        date = None
    return _Trailer(date, category.strip() if category else None, number)


def _cards(tokens: Iterable[_Paragraph | _Trailer | _Link]) -> Iterator[_Card]:
    """Cards in page order, each handed out once the next one begins (or
    the page ends), so the caller can stop at its limit."""
    stream = iter(tokens)
    card: _Card | None = None  # the latest card, still open to a trailer
    token = next(stream, None)
    while token is not None:
        following = next(stream, None)
        if isinstance(token, _Link):
            if card is not None and card.link is None:
                card.link = token.url
            token = following
            continue
        if isinstance(token, _Trailer):
            if card is not None and not card.closed:
                card.date, card.category, card.closed = token.date, token.category, True
            token = following
            continue
        current = card if card is not None and not card.closed else None
        repeated = isinstance(following, _Paragraph) and title_key(following.text) == title_key(token.text)
        if current is None or repeated or (current.paragraphs and _starts_card(token, following)):
            if card is not None:
                yield card
            card = _Card(token.text, token.line)
            if repeated:
                following = next(stream, None)
        else:
            current.paragraphs.append(token.text)
        token = following
    if card is not None:
        yield card


def _starts_card(token: _Paragraph, following: _Paragraph | _Trailer | _Link | None) -> bool:
    return isinstance(following, _Paragraph) and reads_as_title(token.text) and reads_as_summary(following.text)


def reads_as_title(text: str) -> bool:
    return (
        len(text) <= TITLE_MAX_CHARS
        and len(text.split()) <= TITLE_MAX_WORDS
        and not text.rstrip(_CLOSERS).endswith(tuple(_SENTENCE_END))
    )


def reads_as_summary(text: str) -> bool:
    return len(text) > TITLE_MAX_CHARS or text.rstrip(_CLOSERS).endswith(tuple(_SUMMARY_END))
