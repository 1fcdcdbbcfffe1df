"""Category names as the ledger records them: one spelling per category
whatever the case or spacing a page uses, a slug for each, and the keyword
rules that file an article when its page names no category. Pure."""

from __future__ import annotations

import functools
import re

from feedsvc.core.models import CategoryRule
from feedsvc.core.text import category_slug, keyword_pattern


def known_name(name: str, categories: dict[str, str]) -> str:
    """The spelling already on record for a category that differs only in
    case or spacing, so `Logistics` and `logistics` are one category."""
    known = categories.folded.get(folded(name))
    return known if known is not None else " ".join(name.split())


def folded(name: str) -> str:
    return " ".join(name.casefold().split())


def file_under(categories: dict[str, str], name: str) -> tuple[str, dict[str, str]]:
    """The spelling on record for category `name`, and the categories
    (name -> slug) with it recorded (a new name gets its slug)."""
    known = Categories(categories)
    return settle(name, known), dict(known)


def settle(name: str, categories: dict[str, str]) -> str:
    """The spelling on record for a category an article is filed under. A
    new name is recorded with its slug at once, so that two spellings met
    in the same run still make one category."""
    known = known_name(name, categories)
    if known not in categories:
        categories[known] = category_slug(known, categories.slugs)
    return known


class Categories(dict):
    """Category name -> slug, that also finds a name by its folded form and
    keeps the slugs in use as a set: a page of thousands of cards, each with
    its own category, would otherwise scan every category for every card."""

    def __init__(self, known: dict[str, str]) -> None:
        super().__init__()
        self.folded: dict[str, str] = {}
        self.slugs: set[str] = set()
        for name, slug in known.items():
            self[name] = slug

    def __setitem__(self, name: str, slug: str) -> None:
        super().__setitem__(name, slug)
        self.folded.setdefault(folded(name), name)  # the first spelling on record wins
        self.slugs.add(slug)


def categorize(title: str, summary: str, rules: tuple[CategoryRule, ...], default: str) -> tuple[str, str]:
    """The first keyword rule that matches, else the default category."""
    text = f"{title}\n{summary}".casefold()
    for category, pattern in _compiled(rules):
        if pattern.search(text):
            return category, "rule"
    return default, "default"


@functools.lru_cache(maxsize=8)
def _compiled(rules: tuple[CategoryRule, ...]) -> list[tuple[str, re.Pattern]]:
    compiled = [(rule.category, keyword_pattern(rule.keywords)) for rule in rules]
    return [(category, pattern) for category, pattern in compiled if pattern is not None]
