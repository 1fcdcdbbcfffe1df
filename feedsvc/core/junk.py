"""Error and block pages: what a scraper saves when the site refused it.
A page whose every card title reads like one (`403 Forbidden`, `Just a
moment...`, a captcha) is not news and must not become articles. Pure."""

from __future__ import annotations

import functools
import re
from typing import Iterable

# Whole titles, matched ignoring case and the punctuation around them.
DEFAULT_PATTERNS = (
    r"(?:http )?(?:error )?[45]\d\d(?: error)?(?: [a-z' ]+)?",
    r"error \d{3,4}\b.*",
    r"(?:access|permission) denied",
    r"forbidden",
    r"(?:page )?not found",
    r"just a moment",
    r"attention required.*",
    r"(?:please )?verify you are (?:a )?human",
    r"are you a robot",
    r".*captcha.*",
    r"too many requests",
    r"service (?:temporarily )?unavailable",
    r"request blocked",
    r"security check",
)

_AROUND = " \t.!?:;,-–—|…'\"()[]"


@functools.lru_cache(maxsize=8)
def _compiled(patterns: tuple[str, ...]) -> re.Pattern:
    return re.compile("|".join(f"(?:{pattern})" for pattern in patterns), re.IGNORECASE)


def is_error_title(title: str, patterns: tuple[str, ...] = DEFAULT_PATTERNS) -> bool:
    return bool(patterns) and _compiled(patterns).fullmatch(title.strip(_AROUND)) is not None


def is_error_page(titles: Iterable[str], patterns: tuple[str, ...] = DEFAULT_PATTERNS) -> bool:
    """Whether every card of a page is titled like an error or block page."""
    titles = list(titles)
    return bool(titles) and all(is_error_title(title, patterns) for title in titles)
