"""The records that flow through the pipeline: pages as read, cards as parsed,
articles as the ledger keeps them and as the feeds publish them."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Mapping

from feedsvc.core.tables import Pages, Records

# Pages without a numeric prefix sort after every numbered page.
UNNUMBERED = 10**9


@dataclass(frozen=True)
class CategoryRule:
    """Articles whose title or summary holds one of `keywords` (whole words,
    any case) are filed under `category` when the page names none."""

    category: str
    keywords: tuple[str, ...]


@dataclass(frozen=True)
class TopicRule:
    """A topic feed (a `[[topics]]` table): the articles whose `fields`
    hold one of `include` and none of `exclude` (whole words or phrases, any
    case, as category keywords match), and, when `categories` names any,
    that are filed under one of them."""

    name: str
    slug: str
    include: tuple[str, ...]
    exclude: tuple[str, ...] = ()
    fields: tuple[str, ...] = ("title", "summary")
    categories: tuple[str, ...] = ()


@dataclass(frozen=True, order=True)
class TopicKey:
    """Names a topic's feeds and page where a category's slug names the
    category's. Topics live under paths of their own, so a topic may share
    a category's slug and the two stay apart."""

    slug: str


@dataclass(frozen=True)
class Problem:
    """Something wrong with the input, reported on stderr and never fatal."""

    source: str
    message: str
    line: int | None = None

    def __str__(self) -> str:
        where = f"{self.source}: line {self.line}" if self.line else self.source
        return f"{where}: {self.message}"


@dataclass(frozen=True)
class Page:
    """One decoded page file. Its identity is its name and its content hash."""

    name: str
    number: int
    sha256: str
    text: str


# slots: a first run holds one per card and one Record per article, a
# million of each on a large site, and an instance dict costs as much again.
@dataclass(frozen=True, slots=True)
class RawItem:
    """One article card exactly as a page shows it."""

    page: str
    page_number: int
    position: int
    title: str
    summary: str
    date: dt.date | None = None
    category: str | None = None
    link: str | None = None  # the original article, absolute http(s)
    moment: dt.datetime | None = None  # when the page gives a time too (UTC)


@dataclass(frozen=True, slots=True)
class Record:
    """One article as the ledger keeps it.

    `published` and `category` are settled at first sight; `updated` moves
    only on a real edit and never backwards; `seq` is the permanent order in
    which articles were first recorded, which archives are filled by.
    """

    id: str
    seq: int
    key: str
    title: str
    summary: str
    category: str
    category_source: str  # "page", "rule", "default" or "operator"
    page_category: str | None
    published: dt.datetime
    date_source: str  # "page", "first_seen" or "operator"
    page_date: dt.date | None
    first_seen: dt.datetime
    updated: dt.datetime
    content_seen: dt.datetime
    content_hash: str
    pages: tuple[str, ...]
    withdrawn: dt.datetime | None = None
    note: str | None = None
    # (category, when) for every category the article was moved out of:
    # the feed it left changed then, even though none of its entries did.
    departures: tuple[tuple[str, dt.datetime], ...] = ()
    # (category, when) for every refile into a category: a correction that
    # leaves `updated` alone, so the feed it joined must be told it changed.
    arrivals: tuple[tuple[str, dt.datetime], ...] = ()
    link: str | None = None  # the original article; never part of the content
    # When the link last appeared or changed: the feeds' bytes changed then,
    # so Last-Modified must move, though the entry's `updated` does not.
    link_seen: dt.datetime | None = None


@dataclass(frozen=True)
class Split:
    """An operator's ruling that from `since` on, cards with the headline of
    article `id` are a different article, `new_id`.

    `page` is the page the operator named: of the pages first seen at the
    moment `since` (one run may meet many), only that one is split off.
    Without it every page seen at `since` is."""

    id: str
    since: dt.datetime
    new_id: str
    page: str | None = None

    def covers(self, page: str, seen: dt.datetime) -> bool:
        """Whether cards on `page`, first seen at `seen`, are split off."""
        return seen > self.since or (seen == self.since and self.page in (None, page))


@dataclass(frozen=True)
class Ledger:
    """Everything feedsvc remembers between runs. The big tables answer by
    key (see tables): a run never needs them whole in memory."""

    pages: Pages = field(default_factory=Pages)
    records: Records = field(default_factory=Records)
    categories: dict[str, str] = field(default_factory=dict)  # name -> slug
    aliases: Mapping[str, str] = field(default_factory=dict)  # title key -> id
    splits: tuple[Split, ...] = ()
    # The site_key that minted the ids (None in ledgers older than the record of it).
    site_key: str | None = None
    # The first run that wrote the ledger: the time of a site with no change yet.
    created: dt.datetime | None = None

    def __post_init__(self) -> None:
        # Plain dicts (tests, a version-1 file) become tables.
        if not isinstance(self.records, Records):
            object.__setattr__(self, "records", Records(self.records))
        if not isinstance(self.pages, Pages):
            object.__setattr__(self, "pages", Pages(self.pages))


@dataclass(frozen=True, slots=True)
class Article:
    """One article as the feeds publish it."""

    id: str
    iri: str
    seq: int
    title: str
    summary: str
    category: str
    category_slug: str
    published: dt.datetime
    updated: dt.datetime
    first_seen: dt.datetime
    date_source: str
    page_date: dt.date | None
    pages: tuple[str, ...]
    link: str | None = None
    link_seen: dt.datetime | None = None

    @property
    def paragraphs(self) -> list[str]:
        return [p for p in self.summary.split("\n\n") if p]


@dataclass(frozen=True)
class Withdrawal:
    """An article taken down by the operator, announced for a while."""

    iri: str
    category_slug: str
    when: dt.datetime
    topics: tuple[str, ...] = ()  # the slugs of the topic feeds it was in


@dataclass(frozen=True)
class CategoryInfo:
    """A category as the site lists it: its name, URL slug and how many
    current articles it holds."""

    name: str
    slug: str
    count: int

    @property
    def key(self) -> str:
        """What names its feeds and page (see TopicKey)."""
        return self.slug


@dataclass(frozen=True)
class TopicInfo:
    """A topic feed as the site lists it: its name, slug and how many
    current articles it holds."""

    name: str
    slug: str
    count: int

    @property
    def key(self) -> TopicKey:
        return TopicKey(self.slug)


@dataclass(frozen=True)
class HtmlSettings:
    """How to read a site's HTML pages (the `[html]` table): CSS selectors,
    or `mode = "text"` to read the page's visible text as a text page."""

    mode: str = "selectors"  # or "text"
    card: str | None = None
    title: str | None = None
    summary: str | None = None
    date: str | None = None
    category: str | None = None
    link: str | None = None
    page_url: str | None = None
    dayfirst: bool = False
    date_format: str | None = None
