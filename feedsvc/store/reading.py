"""Read the cards of one decoded page by its kind: a text page by the card
grammar, an HTML page by the site's `[html]` settings."""

from __future__ import annotations

import datetime as dt

from feedsvc.config import Config
from feedsvc.core.html_cards import parse_html_page
from feedsvc.core.models import Page, Problem, RawItem
from feedsvc.core.parse import Limits, parse_page
from feedsvc.store.seeds import is_html

NO_HTML_SETTINGS = (
    "skipped: an HTML page, but feedsvc.toml has no [html] table, and feedsvc never guesses how to read one; "
    "try settings with `feedsvc preview FILE` and see docs/pages.md"
)


def read_cards(page: Page, config: Config, first_seen: dt.datetime, limits: Limits) -> tuple[list[RawItem], list[Problem]]:
    """The page's cards and problems. `first_seen` is when these bytes were
    first seen: a date without a year lies on or before that day."""
    if not is_html(page.name):
        return parse_page(page.text, page.name, page.number, limits)
    if config.html is None:
        return [], [Problem(page.name, NO_HTML_SETTINGS)]
    day = first_seen.astimezone(config.zone).date()
    return parse_html_page(page.text, page.name, page.number, config.html, day, config.zone, limits)
