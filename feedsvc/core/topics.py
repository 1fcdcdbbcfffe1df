"""Topic feeds: which articles a topic holds, and what the record of
topics remembers between runs. Pure: rules, articles and a `now` in,
values out; no file, no clock.

- An article belongs to a topic when one of its `include` words or phrases
  occurs in the chosen fields (title and summary by default, the category
  name too when asked), no `exclude` word does, and, when the topic names
  categories, the article is filed under one of them. Words match as the
  category keyword rules do (`text.keyword_pattern`).
- Membership follows the articles' current wording: an edit moves an
  article into a topic or out of it. Moving in changes the feed through the
  article's own `updated`; moving out leaves nothing in the feed to date the
  change, so the record keeps which articles a topic held at the last look
  and, when one is gone, the moment it was edited (`departed`), as the
  ledger does for an article that leaves a category.
- A change of a topic's settings republishes its feed from the whole
  history. The record keeps a digest of the settings and the moment they
  were first seen (`since`); the feed's `updated` never falls behind it,
  so readers that revalidate with If-Modified-Since fetch the new feed.
- A topic dropped from the settings is kept as `removed`: its URLs answer
  410 Gone, as those of a category without articles do.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass, replace
from typing import Iterable, Mapping

from feedsvc.core.models import Article, Record, TopicRule
from feedsvc.core.text import keyword_pattern

FIELDS = ("title", "summary", "category")


def _folded(name: str) -> str:
    return " ".join(name.casefold().split())


def matches(topic: TopicRule, article: Article | Record) -> bool:
    """Whether `article` (as published, or as the ledger keeps it) belongs to `topic`."""
    if topic.categories and _folded(article.category) not in {_folded(name) for name in topic.categories}:
        return False
    include = keyword_pattern(topic.include)
    if include is None:
        return False
    values = {"title": article.title, "summary": article.summary, "category": article.category}
    # One field a line: a phrase never runs from the title into the summary.
    text = "\n".join(values[name] for name in FIELDS if name in topic.fields).casefold()
    if not include.search(text):
        return False
    exclude = keyword_pattern(topic.exclude)
    return exclude is None or not exclude.search(text)


def rules_digest(topic: TopicRule) -> str:
    """A digest of what a topic's settings decide (its feed's title and its
    members), in a canonical form: reordering or re-casing the words of a
    list changes nothing, so it is not a change."""

    def words(values: Iterable[str]) -> list[str]:
        return sorted({_folded(value) for value in values if value.strip()})

    canonical = {
        "name": topic.name,
        "include": words(topic.include),
        "exclude": words(topic.exclude),
        "fields": sorted(set(topic.fields)),
        "categories": words(topic.categories),
    }
    data = json.dumps(canonical, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(data.encode("utf-8")).hexdigest()[:32]


@dataclass(frozen=True)
class TopicMark:
    """What the record of topics keeps of one topic."""

    name: str
    rules: str  # rules_digest of the settings
    since: dt.datetime  # when these settings were first seen
    members: frozenset[str]  # the ids of the articles it held at the last look
    departed: dt.datetime | None = None  # the latest edit that took an article out
    removed: dt.datetime | None = None  # when the settings first lacked it

    @property
    def changed(self) -> dt.datetime:
        """The latest change of the topic that none of its entries dates:
        every document of its feed changed then."""
        return max(moment for moment in (self.since, self.departed, self.removed) if moment is not None)


def advance(
    marks: Mapping[str, TopicMark], topics: tuple[TopicRule, ...], records: Iterable[Record], now: dt.datetime
) -> dict[str, TopicMark]:
    """The record after a look at the ledger's `records`. A topic new to the
    record, or whose settings changed, or that comes back, is dated `now`."""
    if not topics and not marks:
        return {}
    published = [record for record in records if record.withdrawn is None]
    edited = {record.id: record.updated for record in published}
    result: dict[str, TopicMark] = {}
    for topic in topics:
        old, digest = marks.get(topic.slug), rules_digest(topic)
        held = frozenset(record.id for record in published if matches(topic, record))
        if old is None or old.removed is not None or old.rules != digest:
            result[topic.slug] = TopicMark(topic.name, digest, now, held, old.departed if old else None)
            continue
        # An article still published that left was edited out; a withdrawn
        # one is announced by a deleted-entry instead.
        left = [edited[article] for article in old.members - held if article in edited]
        departed = max([*left, *([old.departed] if old.departed else [])], default=None)
        result[topic.slug] = replace(old, members=held, departed=departed)
    for slug, old in marks.items():
        if slug not in result:
            result[slug] = old if old.removed is not None else replace(old, members=frozenset(), removed=now)
    return dict(sorted(result.items()))
