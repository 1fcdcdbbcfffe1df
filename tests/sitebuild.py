"""Ways to get a Site for tests: through the real pipeline (pages in a
seeds folder, ingest, ledger), or from Article records made directly for
cases the sample pages do not hold."""

from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path

from feedsvc.config import Config
from feedsvc.store.ingest import ingest
from feedsvc.core.models import Article, Ledger, Withdrawal
from feedsvc.core.merge import articles, departures, withdrawals
from feedsvc.site.model import Site
from feedsvc.core.text import article_iri, category_slug, site_namespace

UTC = dt.timezone.utc
BASE = dt.datetime(2024, 3, 1, 12, 0, tzinfo=UTC)


def site_of_ledger(config: Config, ledger: Ledger) -> Site:
    return Site.of(
        config,
        articles(ledger, config.site_key),
        withdrawals(ledger, config.site_key),
        ledger.categories,
        departures=departures(ledger),
    )


def ingested_site(config: Config, now: dt.datetime) -> tuple[Site, Ledger]:
    """Ingest the seeds folder at `now` (writing the ledger) and build the site."""
    result = ingest(config, now)
    return Site.from_ingest(config, result), result.ledger


def card(title: str, summary: str, date: dt.date | None = None, category: str | None = None) -> str:
    """One article card in the listing-page format."""
    text = f"{title}\n\n{title}\n\n{summary}\n"
    if date is not None:
        text += f"\n{date:%m/%d/%Y}{' ' + category if category else ''}\nRead More\n"
    return text


def write_page(seeds: Path, name: str, cards: list[str]) -> Path:
    path = seeds / name
    path.write_text("\n".join(cards), encoding="utf-8")
    return path


def make_article(config: Config, n: int, **changes: object) -> Article:
    """Article number `n`: seq n, published n hours after BASE, category
    'Logistics' unless told otherwise."""
    moment = BASE + dt.timedelta(hours=n)
    category = str(changes.pop("category", "Logistics"))
    article = Article(
        id=f"art{n:05d}",
        iri=article_iri(site_namespace(config.site_key), f"art{n:05d}"),
        seq=n,
        title=f"Article number {n}",
        summary=f"First paragraph of article {n}.\n\nSecond paragraph of article {n}.",
        category=category,
        category_slug=category_slug(category, set()),
        published=moment,
        updated=moment,
        first_seen=moment,
        date_source="page",
        page_date=None,
        pages=("000_page.txt",),
    )
    return dataclasses.replace(article, **changes)


def make_site(
    config: Config, items: list[Article], withdrawn: list[Withdrawal] = (), extra: dict[str, str] | None = None
) -> Site:
    """A site of these articles; `extra` adds categories (name -> slug)
    that may have no article left."""
    categories = {a.category: a.category_slug for a in items} | (extra or {})
    return Site.of(config, list(items), list(withdrawn), categories)
