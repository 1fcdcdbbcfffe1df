"""The one ledger transaction: bring the ledger up to date with the seeds
folder (pages -> parse -> merge), apply an operator's mark if there is one,
let the publish guard judge the result, and save once. The CLI, the server
and the export all go through `ingest`."""

from __future__ import annotations

import contextlib
import datetime as dt
import itertools
from dataclasses import dataclass, field, replace
from typing import Callable, Iterable, Iterator, Mapping

from feedsvc.config import CONFIG_NAME, Config
from feedsvc.errors import ConfigError
from feedsvc.core.junk import is_error_page
from feedsvc.core.merge import ParsedPage, Site, Update, articles, departures, normalize, withdrawals
from feedsvc.core.models import Article, Ledger, Page, Problem, Withdrawal
from feedsvc.core.parse import Limits
from feedsvc.store import ledger as ledger_file
from feedsvc.store.reading import read_cards
from feedsvc.store.scratch import TemporaryScratch
from feedsvc.store.seeds import PageFile, decode_page, list_pages, read_bytes
from feedsvc.store.stamps import Stamps

# An operator's mark: the ledger after the pages were merged -> the ledger to save.
Change = Callable[[Ledger], Ledger]


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
    # The ledger as a look (write=False) found it, before the changes a run
    # would make; None after a real run, which only has what it left.
    before: Ledger | None = field(default=None, repr=False, compare=False)
    # A fingerprint of the ledger's files as this run left them.
    digest: str = ""
    # What was repaired in the ledger's files on the way (see store.ledger).
    notes: tuple[str, ...] = ()

    def articles(self, site_key: str) -> list[Article]:
        return articles(self.ledger, site_key)

    def withdrawals(self, site_key: str) -> list[Withdrawal]:
        return withdrawals(self.ledger, site_key)

    def departures(self) -> dict[str, dt.datetime]:
        return departures(self.ledger)


# The publish guard: raises when a result must not be saved or published.
Judge = Callable[[Ingest], None]


def site_of(config: Config) -> Site:
    return Site(zone=config.zone, rules=config.category_rules, default_category=config.default_category)


def ingest(
    config: Config,
    now: dt.datetime,
    write: bool = True,
    reprocess: bool = False,
    change: Change | None = None,
    judge: Judge | None = None,
    files: list[PageFile] | None = None,
    digests: Mapping[str, str] | None = None,
) -> Ingest:
    """Read every page and merge it into the ledger, in one transaction.

    Pages the ledger already knows (same name, same bytes) were merged in an
    earlier run and cannot change anything, so they are only hashed.
    `change` is applied to the merged ledger; with `reprocess`, every page
    is then merged again (after a split, so the pages are sorted out anew).
    `judge` sees the result before anything is saved and may refuse it by
    raising. With `write` false nothing is written: the result is what a
    run would do. `files`: the seeds folder's pages, when the caller has
    just listed them, and `digests` the SHA-256 of those it could read, by
    file name, when it has just taken them too (then this run's own
    record of them, see PAGE_STAMPS, is neither read nor written).
    """
    if files is None:
        files = list_pages(config.seeds)
    path = config.ledger_path
    if not write:
        opened = ledger_file.read(path, config.cache_folder)
        problems: list[Problem] = []
        pages = _read(files, config.max_page_bytes, {} if reprocess else opened.ledger.pages, Stamps(None), digests, problems)
        result = _transact(config, pages, problems, files, opened.ledger, now, change, reprocess)
        if judge:
            judge(result)
        return replace(result, before=opened.ledger, digest=opened.digest)
    with ledger_file.transaction(path, config.cache_folder) as current:
        stamps = Stamps(None if digests is not None else config.cache_folder / PAGE_STAMPS)
        problems = []
        pages = _read(files, config.max_page_bytes, {} if reprocess else current.ledger.pages, stamps, digests, problems)
        result = _transact(config, pages, problems, files, current.ledger, now, change, reprocess)
        if judge:
            judge(result)
        written = current.commit(result.ledger)
        with contextlib.suppress(OSError):  # only a memo: without it, pages are read again
            stamps.save()
        return replace(result, ledger=current.settled(), written=written or bool(current.notes), digest=current.digest, notes=tuple(current.notes))


# Where a run remembers its page files' digests, in the cache folder.
PAGE_STAMPS = "pages.json"
# A page the ledger already holds, by its name and sha256: nothing to decode.
_KNOWN = Page("", 0, "", "")


def _read(
    files: list[PageFile],
    max_bytes: int,
    recorded: Iterable[tuple[str, str]],
    stamps: Stamps,
    digests: Mapping[str, str] | None,
    problems: list[Problem],
) -> Iterator[Page]:
    """Every usable page, read and decoded when it is asked for, so that
    only the pages still to parse are held (a large site's pages add up
    to a gigabyte of text); what is wrong with a file goes to `problems`.
    Pages the ledger already knows (same name, same bytes) were merged in
    an earlier run and cannot change anything: they come as _KNOWN, and
    are neither decoded nor, when their digest is given or `stamps`
    remembers it, even read."""
    known = set(recorded)  # the ledger's pages, read once rather than asked once per file
    for file in files:
        if known and _recorded(file, known, stamps, digests):
            yield _KNOWN
            continue
        data, problem = read_bytes(file, max_bytes)
        if data is not None and (file.name, stamps.digest(file, data)) in known:
            yield _KNOWN
            continue
        page, problem = decode_page(file.name, data) if data is not None else (None, problem)
        if problem:
            problems.append(problem)
        if page:
            yield page


def _recorded(file: PageFile, known: set[tuple[str, str]], stamps: Stamps, digests: Mapping[str, str] | None) -> bool:
    """Whether the ledger holds this page file, as far as its given or
    remembered digest says without reading it."""
    sha = digests.get(file.name) if digests is not None else stamps.remembered(file)
    return sha is not None and (file.name, sha) in known


def _transact(
    config: Config,
    pages: Iterable[Page],
    problems: list[Problem],
    files: list[PageFile],
    current: Ledger,
    now: dt.datetime,
    change: Change | None,
    reprocess: bool,
) -> Ingest:
    _check_site_key(config, current)
    if reprocess and change is not None:
        pages = list(pages)  # parsed again once the mark is applied
    tally = _Tally()
    in_cards: list[Problem] = []
    parsed = _parse(config, tally.count(pages, current, every=reprocess and change is None), in_cards, current, now, tally)
    update = _merge(config, parsed, current, now)
    found = problems + in_cards  # the files' problems first: every file has been read by now
    if change is not None:
        changed = change(update.ledger)
        update = Update(changed, update.new, update.changed)
        if reprocess:  # the mark changes how cards resolve: sort every page out anew
            again = _parse(config, pages, [], changed, now, _Tally())
            merged = _merge(config, again, changed, now)
            update = Update(merged.ledger, update.new + merged.new, update.changed + merged.changed)
    if update.ledger.site_key != config.site_key or update.ledger.created is None:
        # Recorded once: the key, so that a later change of it is caught, and
        # the first run, the time of a site that has not changed yet.
        stamped = replace(update.ledger, site_key=config.site_key, created=update.ledger.created or now)
        update = Update(stamped, update.new, update.changed)
    return Ingest(
        ledger=update.ledger,
        problems=tuple(found),
        pages_read=len(files),
        pages_skipped=len(files) - tally.usable + tally.cardless,
        new_pages=tuple(tally.new),
        new_page_cards=tally.new_cards,
        new=update.new,
        changed=update.changed,
        written=False,
        files=tuple(files),
    )


class _Tally:
    """What a pass over the pages saw of them, besides their cards."""

    def __init__(self) -> None:
        self.usable = 0
        self.new: list[str] = []  # the names of the pages the ledger does not hold
        self.cardless = 0  # pages parsed that had no card to merge
        self.new_cards = 0  # cards on the pages the ledger does not hold

    def count(self, pages: Iterable[Page], current: Ledger, every: bool) -> Iterator[Page]:
        """The pages to parse: the new ones, or with `every` all of them."""
        for page in pages:
            self.usable += 1
            new = page is not _KNOWN and (page.name, page.sha256) not in current.pages
            if new:
                self.new.append(page.name)
            if new or (every and page is not _KNOWN):
                yield page


def _check_site_key(config: Config, ledger: Ledger) -> None:
    """Refuse to go on under another site_key than the one that minted the
    ledger's ids: every id would change, and readers would show every
    article again."""
    if ledger.site_key is None or ledger.site_key == config.site_key or not ledger.records:
        return
    raise ConfigError(
        f"{config.ledger_path} was written with site_key {ledger.site_key!r}, but the settings say {config.site_key!r}: "
        "every article's and feed's id would change, and readers would show every article again. "
        f"Set site_key = {ledger.site_key!r} in {config.seeds / CONFIG_NAME}; to start a new site on purpose, "
        "move the ledger away first (docs/settings.md, site_key)"
    )


def _parse(
    config: Config, pages: Iterable[Page], problems: list[Problem], current: Ledger, now: dt.datetime, tally: _Tally
) -> Iterator[ParsedPage]:
    """The pages' cards, a page at a time as the merge takes them in; pages
    without any are counted in `tally`. A page is read as of when its bytes
    were first seen (dates without a year)."""
    limits = Limits(config.max_title_chars, config.max_cards_per_page)
    for page in pages:
        seen = current.pages.get((page.name, page.sha256))
        items, found = read_cards(page, config, seen or now, limits)
        problems.extend(found)
        if not items:
            tally.cardless += 1
            if not any(p.message.startswith("skipped") for p in found):
                problems.append(Problem(page.name, "skipped: no article card found on the page"))
        elif is_error_page((item.title for item in items), config.error_page_titles):
            tally.cardless += 1
            title = items[0].title
            problems.append(Problem(page.name, f"skipped: it looks like an error or block page ({title!r}), not news; see error_page_titles"))
        else:
            if seen is None:
                tally.new_cards += len(items)
            yield ParsedPage(page.name, page.sha256, page.number, tuple(items))


def _merge(config: Config, parsed: Iterator[ParsedPage], current: Ledger, now: dt.datetime) -> Update:
    # With no page to merge the ledger cannot change; skipping normalize
    # keeps `current` itself, which tells the transaction not to save it.
    first = next(parsed, None)
    if first is None:
        return Update(current, (), ())
    return normalize(itertools.chain([first], parsed), current, site_of(config), now, TemporaryScratch())
