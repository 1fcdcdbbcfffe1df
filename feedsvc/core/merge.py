"""Merge the cards of every page into the ledger's articles. Pure: it is
handed the pages, the ledger as it stands, and `now`, and returns the new
ledger. It touches no file and no clock.

The rules that keep feeds stable:
- an article's identity is its title key (see text.title_key), redirected
  by operator aliases and splits;
- published, date_source and the first category are settled at first sight;
- title and summary come from the page file first seen most recently
  (ties: lowest page number, then position), and only a page first seen
  after the one the current wording came from can change them, so an older
  file never wins back (a page's age is that of its bytes: a renamed or
  restored copy of an older file counts as old);
- a trailer is an edit only against an earlier trailer: a category settled
  from the keyword rules stays when the site first shows its own, and
  follows a later trailer whose category differs from the trailer before;
- updated moves to `now` on a real edit of title, summary or category, and
  never backwards; a re-cased title keeps its id and published time, but
  its new spelling is shown, so it is an edit;
- undated articles first seen together are published one second apart, in
  listing order, so readers that sort by date keep the site's order;
- so are new articles dated without a time that share a date: the bottom
  card is published one second after the latest time already recorded for
  that date (00:00 when there is none), each card above one second later,
  so the top card is newest. Recorded articles never move.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass, replace
from typing import Iterable, Mapping

from feedsvc.core.models import Article, Ledger, RawItem, Record, Split, Withdrawal
from feedsvc.core.tables import ChangedRecords, Pages, recency
from feedsvc.core.text import article_id, article_iri, category_slug, content_hash, site_namespace, title_key
from feedsvc.core.models import CategoryRule, TopicRule
from feedsvc.core.categories import Categories, categorize, folded, known_name, settle
from feedsvc.core.topics import matches
from feedsvc.core.same_day import space_same_day, untimed_day
from feedsvc.core.scratch import Card, Scratch

UTC = dt.timezone.utc
SECOND = dt.timedelta(seconds=1)


@dataclass(frozen=True)
class ParsedPage:
    name: str
    sha256: str
    number: int
    items: tuple[RawItem, ...]


@dataclass(frozen=True)
class Site:
    """What normalizing needs to know about the site."""

    zone: dt.tzinfo = UTC
    rules: tuple[CategoryRule, ...] = ()
    default_category: str = "General"


@dataclass(frozen=True)
class Update:
    ledger: Ledger
    new: tuple[str, ...]
    changed: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class _Occurrence:
    item: RawItem
    seen: dt.datetime
    key: str


def normalize(pages: Iterable[ParsedPage], ledger: Ledger, site: Site, now: dt.datetime, scratch: Scratch) -> Update:
    """`pages` may be a generator: each page's cards go to `scratch` as it
    comes, and the new records are kept there too, so that a first run of
    a large site holds neither in memory. The new ledger reads its new
    records from `scratch`."""
    page_seen = ledger.pages.changed()
    records = ledger.records.changed()
    categories = Categories(ledger.categories)
    seen_of = _take_in(pages, page_seen, ledger, now, scratch)
    changed = _revisit_known(scratch, seen_of, records, categories, site.zone, now)
    _create_new(scratch, seen_of, site, categories, now)
    space_same_day(scratch, ledger.records, site.zone)
    # Oldest first: the order archives fill in, and the order in which a
    # subscription feed's newest N are counted.
    scratch.number(records.max_seq() + 1)
    # Every new record's category was settled as it was made.
    for record in records.changes.recent.values():
        if record.category not in categories:
            categories[record.category] = category_slug(record.category, categories.slugs)
    records.changes.adopt(scratch)
    new_ledger = replace(ledger, pages=page_seen, records=records, categories=dict(categories))
    return Update(new_ledger, tuple(scratch.ids()), tuple(sorted(changed)))


def _revisit_known(
    scratch: Scratch, seen_of: list[dt.datetime], records: ChangedRecords, categories: dict[str, str], zone: dt.tzinfo, now: dt.datetime
) -> list[str]:
    """Merge the cards of the articles the ledger holds into their records,
    in the order their first card was read; the articles whose words or
    category changed. The others are left to `_create_new`."""
    changed, known = [], []
    for article in scratch.articles():
        record = records.find(article)
        if record is None:
            continue
        known.append(article)
        revisited = _revisit(record, _occurrences(scratch.cards_of(article), seen_of), categories, zone, now)
        if revisited != record:
            records[article] = revisited
            if revisited.content_hash != record.content_hash:
                changed.append(article)
    scratch.mark_known(known)
    return changed


def _create_new(scratch: Scratch, seen_of: list[dt.datetime], site: Site, categories: dict[str, str], now: dt.datetime) -> None:
    """A record for every other article, into `scratch`, in listing order
    of their first card."""
    undated = 0
    for rank, (article, cards) in enumerate(scratch.new_articles()):
        record = _create(article, _occurrences(cards, seen_of), site, categories, now)
        if record.date_source == "first_seen":
            # Undated articles seen in one run are published a second
            # apart in listing order: the top of page 000 is newest.
            moment = now - undated * SECOND
            record = replace(record, published=moment, updated=moment)
            undated += 1
        scratch.add_record(record, rank, untimed_day(record, site.zone))
    scratch.records_made()


def _take_in(pages: Iterable[ParsedPage], page_seen: Pages, ledger: Ledger, now: dt.datetime, scratch: Scratch) -> list[dt.datetime]:
    """Every card into `scratch`, by the article it belongs to; a page not
    seen before is recorded in `page_seen` as seen `now`. Returns when each
    page was seen, by its number in `scratch`."""
    splits = _splits_by_id(ledger.splits)
    listed: list[tuple[dt.datetime, int, str]] = []
    for number, page in enumerate(pages):
        page_seen.setdefault((page.name, page.sha256), now)
        # A page's age is that of its bytes: a renamed or restored copy of
        # an older file never wins back over a newer scrape.
        seen = page_seen.content_seen(page.sha256)
        cards = []
        for item in page.items:
            key = title_key(item.title)
            cards.append((resolve_id(key, seen, ledger.aliases, splits, page.name), item, key))
        scratch.add_cards(number, cards)
        listed.append((seen, page.number, page.name))
    # Listing order: newest scrape first, then the site's own order.
    in_order = sorted(range(len(listed)), key=lambda n: (-listed[n][0].timestamp(), listed[n][1], listed[n][2]))
    ranks = [0] * len(listed)
    for rank, number in enumerate(in_order):
        ranks[number] = rank
    scratch.rank_pages(ranks)
    return [seen for seen, _, _ in listed]


def _occurrences(cards: list[Card], seen_of: list[dt.datetime]) -> list[_Occurrence]:
    return [_Occurrence(item, seen_of[page], key) for page, item, key in cards]


def _splits_by_id(splits: tuple[Split, ...]) -> dict[str, list[Split]]:
    by_id: dict[str, list[Split]] = {}
    for split in sorted(splits, key=lambda split: split.since):
        by_id.setdefault(split.id, []).append(split)
    return by_id


def resolve_id(key: str, seen: dt.datetime, aliases: dict[str, str], splits: dict[str, list[Split]], page: str) -> str:
    """The article a card with this title key, on `page` first seen at
    `seen`, belongs to."""
    article = aliases.get(key) or article_id(key)
    for split in splits.get(article, ()):
        if split.covers(page, seen):
            article = split.new_id
    return article


def _create(article: str, found: list[_Occurrence], site: Site, categories: dict[str, str], now: dt.datetime) -> Record:
    """A new record of an article's cards, newest first."""
    best = found[0]
    dated = next((o.item.date for o in found if o.item.date), None)
    moment = next((o.item.moment for o in found if o.item.date), None)
    trailer = next((o.item.category for o in found if o.item.category), None)
    if trailer:
        category, source = trailer, "page"
    else:
        category, source = categorize(best.item.title, best.item.summary, site.rules, site.default_category)
    category = settle(category, categories)
    published = moment or (midnight(dated, site.zone) if dated else now)
    return Record(
        id=article,
        seq=0,
        key=best.key,
        title=best.item.title,
        summary=best.item.summary,
        category=category,
        category_source=source,
        page_category=category if trailer else None,
        published=published,
        date_source="page" if dated else "first_seen",
        page_date=None,
        first_seen=now,
        updated=published,
        content_seen=best.seen,
        content_hash=content_hash(best.item.title, best.item.summary, category),
        pages=tuple(sorted({o.item.page for o in found})),
        link=newest_link(found),
        link_seen=now if newest_link(found) else None,
    )


def _revisit(
    record: Record, found: list[_Occurrence], categories: dict[str, str], zone: dt.tzinfo, now: dt.datetime
) -> Record:
    if record.withdrawn:
        return record
    pages = tuple(sorted(set(record.pages) | {o.item.page for o in found}))
    newer = [o for o in found if o.seen > record.content_seen]
    page_date = record.page_date
    late_date = next((o.item.date for o in newer if o.item.date), None)
    if late_date and (record.date_source == "first_seen" or late_date != record.published.astimezone(zone).date()):
        page_date = late_date
    # The link follows the newest page that has one; it is not content, so
    # it never moves `updated`.
    link = newest_link(newer) or record.link
    link_seen = now if link != record.link else record.link_seen
    if not newer:
        return replace(record, pages=pages, page_date=page_date, link=link, link_seen=link_seen)
    best = newer[0]
    category, page_category = record.category, record.page_category
    trailer = next((o.item.category for o in newer if o.item.category), None)
    if trailer:
        trailer = known_name(trailer, categories)
        # A trailer is an edit only against an earlier trailer: a category
        # guessed from keywords is settled and does not jump when the site
        # first shows its own.
        # A category the operator set stays until the operator changes it.
        if page_category is not None and folded(trailer) != folded(page_category) and record.category_source != "operator":
            category = settle(trailer, categories)
        page_category = trailer
    digest = content_hash(best.item.title, best.item.summary, category)
    # Any change of the words shown is an edit, a re-cased headline too: the
    # feed's bytes change, so its updated time and Last-Modified must move.
    edited = digest != record.content_hash
    updated = edit_time(record.updated, now) if edited else record.updated
    departures = record.departures
    if category != record.category:
        departures += ((record.category, updated),)
    return replace(
        record,
        title=best.item.title,
        summary=best.item.summary,
        category=category,
        page_category=page_category,
        page_date=page_date,
        content_seen=best.seen,
        content_hash=digest,
        updated=updated,
        departures=departures,
        pages=pages,
        link=link,
        link_seen=link_seen,
    )


def newest_link(found: list[_Occurrence]) -> str | None:
    """The link of the newest occurrence that has one (`found` is newest first)."""
    return next((o.item.link for o in found if o.item.link), None)


def edit_time(previous: dt.datetime, now: dt.datetime) -> dt.datetime:
    """When an edit is published: now, but always after the previous
    `updated`, even for an article dated in the future, so readers that
    compare timestamps never miss an edit."""
    return max(now, previous + SECOND)


def midnight(date: dt.date, zone: dt.tzinfo) -> dt.datetime:
    """00:00 on `date` in the site's time zone, as UTC."""
    return dt.datetime.combine(date, dt.time(0), tzinfo=zone).astimezone(UTC)


def articles(ledger: Ledger, site_key: str) -> list[Article]:
    """The published articles, newest first."""
    namespace = site_namespace(site_key)
    published = [article_of(r, namespace, ledger.categories) for r in ledger.records.values() if r.withdrawn is None]
    published.sort(key=recency, reverse=True)
    return published


def article_of(r: Record, namespace: uuid.UUID, categories: Mapping[str, str]) -> Article:
    """A record as the feeds publish it."""
    return Article(
        id=r.id,
        iri=article_iri(namespace, r.id),
        seq=r.seq,
        title=r.title,
        summary=r.summary,
        category=r.category,
        category_slug=categories[r.category],
        published=r.published,
        updated=r.updated,
        first_seen=r.first_seen,
        date_source=r.date_source,
        page_date=r.page_date,
        pages=r.pages,
        link=r.link,
        link_seen=r.link_seen,
    )


def departures(ledger: Ledger) -> dict[str | None, dt.datetime]:
    """The latest moment each feed changed by an article moving, by slug:
    out of a category, or refiled into one. A refile leaves the entry's
    `updated` alone, so it also counts as a change of the whole site's
    feed (None), whose entries name the new category."""
    latest: dict[str | None, dt.datetime] = {}

    def moved(slug: str | None, when: dt.datetime) -> None:
        latest[slug] = max(when, latest.get(slug, when))

    for record in ledger.records.values():
        for category, when in record.departures:
            moved(ledger.categories[category], when)
        for category, when in record.arrivals:
            moved(ledger.categories[category], when)
            moved(None, when)
    return latest


def withdrawals(ledger: Ledger, site_key: str, topics: tuple[TopicRule, ...] = ()) -> list[Withdrawal]:
    """Taken-down articles, most recent first, for deleted-entry notices;
    each names the topics its last wording belonged to."""
    namespace = site_namespace(site_key)
    gone = [
        Withdrawal(
            article_iri(namespace, r.id), ledger.categories[r.category], r.withdrawn, tuple(t.slug for t in topics if matches(t, r))
        )
        for r in ledger.records.values()
        if r.withdrawn is not None
    ]
    return sorted(gone, key=lambda w: (w.when, w.iri), reverse=True)
