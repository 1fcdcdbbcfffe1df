"""What one page would yield, shown without touching the ledger: each
card's title, date, category, link and the first words of its summary."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from feedsvc.config import Config
from feedsvc.core.models import Problem, RawItem
from feedsvc.core.parse import Limits
from feedsvc.store.reading import read_cards
from feedsvc.store.seeds import PageFile, read_page

SUMMARY_WORDS = 20


def preview(config: Config, path: Path, now: dt.datetime) -> tuple[list[RawItem], list[Problem]]:
    """The cards of the page at `path`, read with `config`'s settings as if
    it were first seen `now`."""
    try:
        stat = path.stat()
    except OSError as error:
        return [], [Problem(path.name, f"cannot read it: {error.strerror}")]
    page, problem = read_page(PageFile.at(path, stat), config.max_page_bytes)
    if page is None:
        return [], [problem] if problem else []
    items, problems = read_cards(page, config, now, Limits(config.max_title_chars, config.max_cards_per_page))
    if not items and not any(p.message.startswith("skipped") for p in problems):
        problems.append(Problem(page.name, "no article card found on the page"))
    return items, problems


def describe(item: RawItem, zone: dt.tzinfo) -> list[str]:
    """The lines `feedsvc preview` prints for one card."""
    if item.moment:
        date = item.moment.astimezone(zone).isoformat()
    else:
        date = item.date.isoformat() if item.date else "(none: published when first seen)"
    words = item.summary.split()
    summary = " ".join(words[:SUMMARY_WORDS]) + (" ..." if len(words) > SUMMARY_WORDS else "")
    return [
        f"{item.position + 1}. {item.title}",
        f"   date:     {date}",
        f"   category: {item.category or '(none: from the keyword rules)'}",
        f"   link:     {item.link or '(none)'}",
        f"   summary:  {summary or '(empty)'}",
    ]

