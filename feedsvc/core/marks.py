"""Operator corrections to the ledger: takedown, alias, split, edit and
refile. Pure functions from one ledger to the next; the CLI does the
locking and saving."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace

from feedsvc.errors import UnknownArticle
from feedsvc.core.models import Ledger, Record, Split
from feedsvc.core.categories import categorize, file_under
from feedsvc.core.merge import Site, edit_time
from feedsvc.core.text import article_iri, content_hash, site_namespace, split_id

_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)


def _record(ledger: Ledger, article: str):
    try:
        return ledger.records[article]
    except KeyError:
        raise UnknownArticle(
            f"no article with id {article!r}; give its short id or urn:uuid: id, or its page's URL (`feedsvc articles --all` lists them)"
        ) from None


def find_article(ledger: Ledger, site_key: str, given: str) -> str:
    """The short id of the article an operator names by its short id or by
    the `urn:uuid:` IRI that subscribers' readers show."""
    if given in ledger.records:
        return given
    if given.startswith("urn:uuid:"):
        namespace = site_namespace(site_key)
        for article in ledger.records:
            if article_iri(namespace, article) == given:
                return article
    return _record(ledger, given).id  # raises, naming what was given


def takedown(ledger: Ledger, article: str, now: dt.datetime, note: str | None = None) -> Ledger:
    """Withdraw an article from every feed, archive and page. Its record
    stays, so the id is never given to anything else."""
    record = _record(ledger, article)
    if record.withdrawn:
        return ledger
    return _with(ledger, replace(record, withdrawn=now, note=note or record.note))


def alias(ledger: Ledger, new: str, old: str, now: dt.datetime) -> Ledger:
    """Fold article `new` (a rewritten headline) into `old`: the new title
    keeps the old id, and subscribers see an update instead of a duplicate."""
    if new == old:
        raise UnknownArticle("an article cannot be an alias of itself")
    source, target = _record(ledger, new), _record(ledger, old)
    records = ledger.records.changed()
    del records[new]
    merged = replace(target, pages=tuple(sorted(set(target.pages) | set(source.pages))))
    if source.content_seen >= target.content_seen and source.content_hash != target.content_hash:
        merged = replace(
            merged,
            title=source.title,
            summary=source.summary,
            key=target.key,
            content_seen=source.content_seen,
            content_hash=content_hash(source.title, source.summary, target.category),
            updated=edit_time(target.updated, now),
        )
    records[old] = merged
    aliases = {key: (old if article == new else article) for key, article in ledger.aliases.items()}
    aliases[source.key] = old
    return replace(ledger, records=records, aliases=aliases)


def split(ledger: Ledger, article: str, page: str) -> Ledger:
    """Rule that cards with this article's headline on `page`, and on every
    page first seen after it, are a different article. Pages first seen in
    the same run as `page` stay with the original. Run a full ingest
    afterwards so the pages are sorted out again."""
    record = _record(ledger, article)
    # Page ages as normalize counts them: the age of their bytes.
    ages = [(name, ledger.pages.content_seen(sha)) for name, sha in ledger.pages]
    seen = [when for name, when in ages if name == page]
    if not seen:
        raise UnknownArticle(f"no page named {page!r} in the ledger; name a page file the article was seen on")
    since = max(seen)
    new = split_id(article, since.strftime("%Y-%m-%dT%H:%M:%SZ"))
    if any(s.id == article and s.since == since for s in ledger.splits):
        return ledger
    rule = Split(article, since, new, page)
    kept_pages = tuple(name for name in record.pages if not any(rule.covers(n, when) for n, when in ages if n == name))
    # Let the older pages speak again, so the original gets its own wording back.
    restored = _with(ledger, replace(record, content_seen=_EPOCH, pages=kept_pages))
    return replace(restored, splits=ledger.splits + (rule,))


def edit_category(ledger: Ledger, article: str, name: str, now: dt.datetime) -> Ledger:
    """File an article under `name` for good: no later page or rule moves it
    again. Subscribers see an update of the same entry."""
    record = _record(ledger, article)
    category, categories = file_under(ledger.categories, name)
    if category == record.category:
        return ledger if record.category_source == "operator" else _with(ledger, replace(record, category_source="operator"))
    updated = edit_time(record.updated, now)
    edited = replace(
        record,
        category=category,
        category_source="operator",
        content_hash=content_hash(record.title, record.summary, category),
        updated=updated,
        departures=record.departures + ((record.category, updated),),
    )
    return replace(_with(ledger, edited), categories=categories)


def edit_published(ledger: Ledger, article: str, published: dt.datetime, now: dt.datetime) -> Ledger:
    """Give an article another publication date: the one way a published
    date ever moves. It keeps its place in recording order (`seq`), so no
    archive changes, and subscribers see an update of the same entry."""
    record = _record(ledger, article)
    if record.published == published and record.date_source == "operator":
        return ledger
    return _with(ledger, replace(record, published=published, date_source="operator", updated=edit_time(record.updated, now)))


def refiles(ledger: Ledger, site: Site) -> list[tuple[str, str, str]]:
    """(article, category, category source) for each current article whose
    category came from the keyword rules (or their default) and that
    today's rules would file elsewhere, in recording order."""
    moves = []
    for record in ledger.records.in_seq_order():
        if record.withdrawn or record.category_source not in ("rule", "default"):
            continue
        category, source = categorize(record.title, record.summary, site.rules, site.default_category)
        if category.casefold() != record.category.casefold():
            moves.append((record.id, category, source))
    return moves


def refile(ledger: Ledger, moves: list[tuple[str, str, str]], now: dt.datetime) -> Ledger:
    """Apply `refiles`. A refile is a correction, not news: `updated` stays,
    so no old article comes back through a feed's edit window; the feeds it
    leaves and joins record the move, so their own timestamps advance."""
    records, categories = ledger.records.changed(), ledger.categories
    for article, name, source in moves:
        record = records[article]
        category, categories = file_under(categories, name)
        records[article] = replace(
            record,
            category=category,
            category_source=source,
            content_hash=content_hash(record.title, record.summary, category),
            departures=record.departures + ((record.category, now),),
            arrivals=record.arrivals + ((category, now),),
        )
    return replace(ledger, records=records, categories=categories)


def _with(ledger: Ledger, record: Record) -> Ledger:
    records = ledger.records.changed()
    records[record.id] = record
    return replace(ledger, records=records)
