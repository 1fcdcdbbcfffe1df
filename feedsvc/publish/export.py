"""Write the site's URL tree as files under one folder: the same bytes from
build to build, every file replaced atomically, in an order that never lets
a page link to a file that is not there yet, and only the files that changed.
The bookkeeping that makes this possible is described in `manifest`."""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable

from filelock import FileLock

from feedsvc.config import Config, published_settings
from feedsvc.core.publish import FeedKey
from feedsvc.errors import FeedsvcError
from feedsvc.publish.diff import Listed
from feedsvc.publish.guard import emptiness, guard, refusal
from feedsvc.publish.inputs import inputs_digest, pages_digest, renderer_digest
from feedsvc.publish.manifest import (
    BOOKKEEPING,
    LEGACY_BOOKKEEPING,
    LEGACY_STATE,
    LOCK_NAME,
    Books,
    Entry,
    Manifest,
    Rows,
    entry_files_in_place,
    finished_build,
    read_header,
    state_folder,
)
from feedsvc.publish import triage
from feedsvc.publish.journal import Journal, read_pending
from feedsvc.store.stamps import STAMPS_NAME, Stamps
from feedsvc.publish import writing
from feedsvc.publish.tree import Tree, remove_temporaries
from feedsvc.store.files import Folder
from feedsvc.site import routes as urls
from feedsvc.site.cards import Card, card_json
from feedsvc.site.fingerprints import Earlier
from feedsvc.store import topics as topic_record
from feedsvc.store.ingest import ingest
from feedsvc.store.seeds import list_pages
from feedsvc.store.ledger import digest as ledger_digest



# Files that others link to go first: article pages and assets, then
# category and topic pages (every feed of one links to its page), archives
# (each feed's newest first, so a next-archive link always resolves),
# subscription feeds, the OPML and the index.
_LEVELS = {"article": 0, "stylesheet": 0, "script": 0, "category": 1, "topic": 1, "archive": 2, "feed": 3, "opml": 4, "index": 5}
# The levels that readers start from: category and topic pages, subscription
# feeds, the OPML and the index.
ENTRY_LEVELS = (1, 3, 4, 5)
# How many articles' rendered entries (an Atom entry and an RSS item, about
# 2.5 KB) a build keeps. With the archives swept together (write_order), an
# entry waits for its second use while the other feeds' archives of its
# stretch are rendered: about twice the archive size per feed. On the bench
# corpus of 100,000 articles (21 feeds, archives of 100), 4,000 rendered
# 100,005 entries, 3,000 rendered 101,036, and keeping every one (252 MB)
# 99,950; these 10,000 (25 MB) render 99,985 and leave room for some 50 feeds.
KEPT_ENTRIES = 10_000


def write_order(path: str, ends: Callable[[FeedKey], dict[int, int]]) -> tuple:
    """The order files are written in (see _LEVELS); `ends` gives where
    in the history each archive of a feed ends (`Archives.ends`). The
    formats of one document sort next to each other and are swapped in
    together."""
    route = urls.match(path)
    assert route is not None, path
    if route.kind == "archive":
        # The archives of every feed are swept together, from the newest
        # end of the history to the oldest: an article's archive in the
        # whole site's feed then comes soon after those of its category and
        # topics, so its entry is rendered once although the build keeps
        # only the entries of a short stretch (KEPT_ENTRIES). Within one
        # feed a newer archive still comes first: it ends later, or (the
        # empty archive after a full block) has the higher number.
        return (2, -ends(route.key)[route.number], str(route.key), -route.number, path)
    return (_LEVELS[route.kind], 0, "", 0, path)


# The export


@dataclass
class Outcome:
    """What one export did, or with `apply` false, would do. It counts the
    files written; only a build that looks keeps their names, for
    `build --check` to list (a first build writes one per article)."""

    added: int = 0
    changed: int = 0
    removed: list[str] = field(default_factory=list)
    unchanged: int = 0
    warnings: list[str] = field(default_factory=list)
    names: dict[str, list[str]] | None = None  # "added" and "changed": the files, when kept

    @classmethod
    def start(cls, apply: bool) -> "Outcome":
        return cls(names=None if apply else {"added": [], "changed": []})

    def note(self, file: str, state: str) -> None:
        """A file rendered: "added", "changed", or "unchanged" (its bytes were on disk)."""
        if state == "added":
            self.added += 1
        elif state == "changed":
            self.changed += 1
        else:
            return
        if self.names is not None:
            self.names[state].append(file)

    @property
    def written(self) -> int:
        return self.added + self.changed

    @property
    def up_to_date(self) -> bool:
        return not (self.added or self.changed or self.removed)


def export(
    site,
    out: Path,
    state: Path,
    renderer: str,
    inputs: str,
    summary: dict,
    apply: bool = True,
    meter: writing.Meter | None = None,
    processes: int | None = None,
) -> Outcome:
    """Bring the files under `out` in line with `site` (a feedsvc.site.Site),
    keeping the bookkeeping in `state`. With `apply` false, only report what
    would change and write nothing. `processes` processes render the
    article pages (None: as many as pay, up to one per CPU)."""
    with Tree(out, create=apply) as tree, Folder(state, create=apply) as folder:
        journal = Journal(folder.path)
        try:
            return _export(site, tree, folder, journal, renderer, inputs, summary, apply, meter, processes)
        finally:
            journal.close()


def _export(
    site,
    tree: Tree,
    folder: Folder,
    journal: Journal,
    renderer: str,
    inputs: str,
    summary: dict,
    apply: bool,
    meter: writing.Meter | None,
    processes: int | None,
) -> Outcome:
    outcome = Outcome.start(apply)
    out = tree.out
    pending = read_pending(folder.path)
    with Books(folder.path, create=apply) as books:
        if books.damaged:
            outcome.warnings.append(
                f"{books.path} is unreadable; every file was compared instead, "
                "and files earlier builds wrote that this one does not could not be removed"
            )
        if apply:
            remove_temporaries(out, pending)
            remove_temporaries(folder.path, BOOKKEEPING)
            for name in LEGACY_BOOKKEEPING:
                tree.remove(name)  # published by earlier releases
            for name in LEGACY_STATE:
                folder.remove(name)
        since = _resume_from(books.header, renderer, site.catalog.position, pending)
        # Only the articles written since the last build can have new pages.
        changed = site.catalog.changed_since(since) if since is not None else None
        earlier = Earlier(books.archives, min(changed.values(), default=None), books.contexts()) if changed is not None else None
        fingerprints, orders, documents = _documents(site, earlier)
        # Archives the fingerprints left out are the last build's, as are their rows.
        recorded = books.documents(fingerprints.kept)
        if changed is not None and not _documents_in_place(documents, recorded, tree):
            # Files went missing behind the manifest's back: look at every one.
            changed = None
            fingerprints, orders, documents = _documents(site, None)
            recorded = books.documents(fingerprints.kept)
        # The Site's fingerprints cover the renderers' code and the settings,
        # so they are trusted even when other code changed since the last build.
        if changed is None:  # every article page, streamed from the store in file order
            pages, expected = fingerprints.article_pages(), site.article_count
        else:
            pages, expected = iter(sorted(fingerprints.article_pages(changed), key=_file)), len(changed)
        rows = Rows(books if apply else None, {target.file: target.archive for target in documents}, recorded if changed is not None else None)
        files = triage.Files(rows, outcome, writing.Progress(meter, expected + len(documents)))
        to_render = triage.unchanged(documents, recorded, pending, tree, files.kept)
        batches = triage.pages_to_render(pages, books, pending, tree, files)
        processes = writing.processes_for(expected, processes)
        writing.render_and_write(site, tree, batches, to_render, files.written, journal.add, apply, processes)

        stale, listed = triage.stale(site, books, documents, recorded, pending, changed)
        if changed is None:
            total = files.pages + len(documents)
        else:
            total = books.count() + files.unlisted + sum(target.file not in recorded for target in documents) - listed
        # Nothing links to stale files any more: remove them last.
        if apply:
            journal.add(stale)
        for file in stale:
            if os.path.isfile(out / file):
                outcome.removed.append(file)
                if apply:
                    tree.remove(file)
        outcome.unchanged = total - outcome.written
        if apply:
            tree.sync()  # every file in place on disk before the manifest vouches for it
            entry_sizes = {t.file: rows.documents[t.file].size for t in documents if orders[t][0] in ENTRY_LEVELS}
            header = Manifest(renderer, inputs, dict(summary, files=total), entry_sizes, site.catalog.position)
            if changed is None:  # streamed into the manifest: a row per article of the site
                listed_rows: Iterable[tuple] = (Listed.of(article).row() for article in site.catalog.every_article())
                unlisted: Iterable[str] = ()
            else:
                listed_rows = [Listed.of(article).row() for article in filter(None, map(site.catalog.article, changed))]
                unlisted = sorted(set(changed) - {row[0] for row in listed_rows})
            books.save(
                header, rows, stale, fingerprints.blocks, fingerprints.archive_counts, fingerprints.contexts, listed_rows, unlisted, whole=changed is None
            )
            journal.finish()
            folder.sync()
    return outcome


def _documents(site, earlier: Earlier | None) -> tuple:
    """The site's fingerprints (from what the last build knew, when
    `earlier`), each document's write order, and the documents in it."""
    fingerprints = site.fingerprints(earlier)
    listed = list(fingerprints.documents())
    # Where the listed archives end: each feed's `kept` oldest are the last build's, and not listed.
    ends = functools.cache(lambda key: site.feed(key).archives.ends(fingerprints.kept[str(key)]))
    orders = {target: write_order(target.path, ends) for target in listed}
    return fingerprints, orders, sorted(orders, key=orders.__getitem__)


def _file(target) -> str:
    return target.file


def _resume_from(header: Manifest | None, renderer: str, position: tuple[str, int] | None, pending: set[str]) -> int | None:
    """The store line the last build into this folder published up to,
    when this build may render only the article pages written since: that
    build finished, ran this code with these settings, and read the same
    generation of the store. None: every article page is looked at."""
    if header is None or header.position is None or position is None or pending or header.renderer != renderer:
        return None
    generation, lines = header.position
    return lines if generation == position[0] and lines <= position[1] else None


def _documents_in_place(documents: list, known: dict[str, Entry], tree: Tree) -> bool:
    """Whether every document the manifest lists is still on disk."""
    return all(tree.size(target.file) is not None for target in documents if target.file in known)


def output_lock(config: Config, out: Path) -> FileLock:
    """Held while a build writes `out`, so two builds take turns."""
    state = state_folder(config, out)
    try:
        state.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise FeedsvcError(
            f"{state.parent}: cannot keep the build's bookkeeping beside the ledger ({error.strerror}); "
            "place the ledger in a writable folder with --ledger"
        ) from None
    return FileLock(str(state / LOCK_NAME), timeout=600)


# One build


@dataclass
class Build:
    """What `feedsvc build` did, for its summary line."""

    pages_read: int
    pages_skipped: int
    articles: int
    new: int
    changed: int
    problems: list[str]
    outcome: Outcome
    refusal: str | None = None  # with apply false: why a real build would refuse
    fast: bool = False  # nothing was new: the inputs matched the manifest
    # (setting, value at the last build into this folder, value now)
    setting_changes: list[tuple[str, str, str]] = field(default_factory=list)
    card: dict | None = None  # what the root of several sites shows of this one (site.root.Card, as JSON)


def build(
    config: Config,
    out: Path,
    now,
    apply: bool = True,
    force: bool = False,
    meter: writing.Meter | None = None,
    allow_empty: bool = False,
    processes: int | None = None,
) -> Build:
    """Ingest the seeds and export the site under `out`; with `apply`
    false, write nothing at all (neither the ledger nor the tree).
    `processes` as for `export`."""
    state = state_folder(config, out)
    stamps = Stamps(state / STAMPS_NAME)
    last = read_header(state)
    renderer = renderer_digest(config)
    header = finished_build(state, last, renderer)
    files = list_pages(config.seeds)
    pages, digests = pages_digest(files, stamps)  # before the ingest reads them: a page that changes meanwhile only costs a rebuild
    nothing_new = header and header.inputs == inputs_digest(pages, ledger_digest(config.ledger_path))
    if nothing_new and card_json(header.summary.get("card")) and entry_files_in_place(out, header):
        if apply:
            stamps.save()
        return _unchanged_build(header)
    judge = guard(config.max_new_articles, config.seeds, force, allow_empty) if apply else None
    write = apply and not config.read_only
    result = ingest(config, now, write=write, judge=judge, files=files, digests=digests)
    marks = topic_record.settle(config, result.ledger, now, write=write)
    site = _site(config, result, marks, write)
    settings = {name: str(value) for name, value in published_settings(config)}
    summary = {
        "pages_read": result.pages_read,
        "pages_skipped": result.pages_skipped,
        "articles": site.article_count,
        "problems": [str(problem) for problem in result.problems],
        "settings": settings,
        "card": Card.of(site).to_json(),
    }
    outcome = export(site, out, state, renderer, inputs_digest(pages, result.digest), summary, apply, meter, processes)
    if apply:
        stamps.save()
    return Build(
        pages_read=result.pages_read,
        pages_skipped=result.pages_skipped,
        articles=site.article_count,
        new=len(result.new),
        changed=len(result.changed),
        problems=summary["problems"],
        outcome=outcome,
        refusal=None if apply else (refusal(result, config.max_new_articles) or (None if allow_empty else emptiness(result, config.seeds))),
        setting_changes=changed_settings(last, settings),
        card=summary["card"],
    )


def _site(config: Config, result, marks: dict, written: bool):
    """The site to export: read from the store when this run brought the
    store up to date (only what changed is then looked at), else held in
    memory, as the run's look at the ledger found it."""
    # Imported here: the renderers' libraries cost more than an up-to-date build.
    from feedsvc.site.model import Site
    from feedsvc.store.catalog import open_catalog

    catalog = open_catalog(config) if written else None
    if catalog is None:
        return Site.from_ingest(config, result, KEPT_ENTRIES, topic_marks=marks)
    return Site(config, catalog, KEPT_ENTRIES, topic_marks=marks)


def changed_settings(last: Manifest | None, settings: dict[str, str]) -> list[tuple[str, str, str]]:
    """The settings that differ from the last build's into the same folder:
    a forgotten --base-url looks like every file changing otherwise."""
    before = last.summary.get("settings", {}) if last is not None else {}
    return [(name, before[name], value) for name, value in sorted(settings.items()) if name in before and before[name] != value]


def _unchanged_build(header: Manifest) -> Build:
    summary = header.summary
    outcome = Outcome(unchanged=int(summary.get("files", 0)))
    return Build(
        pages_read=int(summary.get("pages_read", 0)),
        pages_skipped=int(summary.get("pages_skipped", 0)),
        articles=int(summary.get("articles", 0)),
        new=0,
        changed=0,
        problems=list(summary.get("problems", [])),
        outcome=outcome,
        fast=True,
        card=summary["card"],
    )
