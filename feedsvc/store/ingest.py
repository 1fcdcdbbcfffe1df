"""Bring the ledger up to date with the seeds folder: the one place that
runs pages -> parse -> normalize -> ledger, for the CLI, the server and
the export alike."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field, replace

from feedsvc.store import ledger as ledger_file
from feedsvc.config import Config
from feedsvc.core.models import Article, Ledger, Problem, Withdrawal
from feedsvc.core.merge import ParsedPage, Site, Update, articles, departures, normalize, withdrawals
from feedsvc.store.seeds import PageFile, list_pages, read_page
from feedsvc.store.reading import read_cards
from feedsvc.core.parse import Limits


@dataclass(frozen=True)
class Ingest:
    """What one pass over the seeds found, and the ledger it left."""

    ledger: Ledger
    problems: tuple[Problem, ...]
    pages_read: int
    pages_skipped: int
    new_pages: tuple[str, ...]
    new_page_cards: int
    new: tuple[str, ...]
    changed: tuple[str, ...]
    written: bool
    files: tuple[PageFile, ...] = field(default=(), repr=False)

    def articles(self, site_key: str) -> list[Article]:
        return articles(self.ledger, site_key)

    def withdrawals(self, site_key: str) -> list[Withdrawal]:
        return withdrawals(self.ledger, site_key)

    def departures(self) -> dict[str, dt.datetime]:
        return departures(self.ledger)


def site_of(config: Config) -> Site:
    return Site(zone=config.zone, rules=config.category_rules, default_category=config.default_category)


def ingest(config: Config, now: dt.datetime, write: bool = True, reprocess: bool = False) -> Ingest:
    """Read every page and merge it into the ledger.

    Pages the ledger already knows (same name, same bytes) were merged in an
    earlier run and cannot change anything, so they are only hashed, unless
    `reprocess` asks for every page to be parsed again (after a split).
    With `write` false nothing is written: the result is what a run would do.
    """
    files = list_pages(config.seeds)
    pages, problems = [], []
    for file in files:
        page, problem = read_page(file, config.max_page_bytes)
        if problem:
            problems.append(problem)
        if page:
            pages.append(page)

    def merge(current: Ledger) -> tuple[Ledger, Ingest]:
        parsed, cardless = [], 0
        limits = Limits(config.max_title_chars, config.max_cards_per_page)
        new_pages = [page for page in pages if (page.name, page.sha256) not in current.pages]
        for page in pages if reprocess else new_pages:
            seen = current.pages.get((page.name, page.sha256), now)
            items, found = read_cards(page, config, seen, limits)
            problems.extend(found)
            if items:
                parsed.append(ParsedPage(page.name, page.sha256, page.number, tuple(items)))
            else:
                cardless += 1
                if not any(p.source == page.name and p.message.startswith("skipped") for p in found):
                    problems.append(Problem(page.name, "skipped: no article card found on the page"))
        # With no page to merge the ledger cannot change; skipping normalize
        # keeps `current` itself, which tells the caller not to save it.
        update: Update = normalize(parsed, current, site_of(config), now) if parsed else Update(current, (), ())
        fresh = [p for p in parsed if (p.name, p.sha256) not in current.pages]
        result = Ingest(
            ledger=update.ledger,
            problems=tuple(problems),
            pages_read=len(files),
            pages_skipped=len(files) - len(pages) + cardless,
            new_pages=tuple(p.name for p in new_pages),
            new_page_cards=sum(len(p.items) for p in fresh),
            new=update.new,
            changed=update.changed,
            written=False,
            files=tuple(files),
        )
        return update.ledger, result

    path = config.ledger_path
    if not write:
        current, _ = ledger_file.load(path)
        return merge(current)[1]
    with ledger_file.locked(path):
        current, before = ledger_file.load(path)
        updated, result = merge(current)
        # Dumping 100,000 records only to find the same bytes costs seconds.
        # (A ledger file laid out by hand then keeps its layout until the
        # next real change rewrites it.)
        unchanged = updated is current and before
        written = False if unchanged else ledger_file.save(path, updated, before)
    return replace(result, written=written)
