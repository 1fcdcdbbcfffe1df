"""The site as a running server holds it: built from the seeds at start,
rebuilt when the seeds folder changes, and its documents kept in memory
ready to send.

Each worker process keeps its own copy. At most once per poll interval a
request looks at the seeds folder (names, sizes and mtimes of the page
files and feedsvc.toml, and the size and mtime of the ledger and of the
record of topic feeds beside it, so what another worker or CI wrote is
noticed too). When that snapshot
differs from the one the site was built from, and no changed page has been
written to within the settle time, the worker runs ingest and swaps in a
new site; until then, and whenever a rebuild fails, it serves the last good
one. A page still being written is never read half-way, as long as the
writer keeps writing: a page counts as settled once its mtime is a settle
time old, or once it has looked the same for a settle time.

Looking at the folder, rebuilding and the first render of a document are
slow work; under an event loop they run in a native thread (see
`offload`), and the other requests are answered from the current site
meanwhile.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import threading
import time
from dataclasses import dataclass, field, replace
from typing import Callable, Iterable

from feedsvc.serve import conditional, offload
from feedsvc.store.seeds import is_page_name
from feedsvc.clock import current_time
from feedsvc.config import CONFIG_NAME, Config
from feedsvc.errors import FeedsvcError, SeedsError
from feedsvc.store import topics as topic_record
from feedsvc.store.catalog import open_catalog
from feedsvc.store.ingest import ingest
from feedsvc.site import routes as urls
from feedsvc.site.model import Site

log = logging.getLogger("feedsvc")

# Archives and article pages are many and rarely asked for; keep only the
# most recently prepared, up to this many bytes (both encodings counted).
# Feeds, category pages and the index are few and hot, and are kept for as
# long as the site is current.
RARE_BYTES = 8 * 1024 * 1024
# Rendered feed entries kept for the documents still to be rendered: the
# newest articles are in several feeds (the site's, a category's, topics').
KEPT_ENTRIES = 2048
GONE = "gone"


@dataclass(frozen=True)
class Snapshot:
    """What the seeds folder looked like: (name, size, mtime_ns) of every page
    file and feedsvc.toml, and (size, mtime_ns) of the ledger and of the
    record of topic feeds (None: absent)."""

    entries: tuple[tuple[str, int, int], ...]
    ledger: tuple[int, int] | None
    topics: tuple[int, int] | None = None


def take_snapshot(config: Config) -> Snapshot:
    """A cheap look at the seeds folder; raises OSError when it cannot be read."""
    entries = []
    with os.scandir(config.seeds) as found:
        for entry in found:
            name = entry.name
            if is_page_name(name) or name == CONFIG_NAME:
                try:
                    stat = entry.stat()
                except FileNotFoundError:
                    continue  # removed while we looked
                entries.append((name, stat.st_size, stat.st_mtime_ns))
    entries.sort()
    return Snapshot(tuple(entries), _ledger_stat(config), _stat(topic_record.record_path(config)))


def _ledger_stat(config: Config) -> tuple[int, int] | None:
    return _stat(config.ledger_path)


def _stat(path: os.PathLike) -> tuple[int, int] | None:
    try:
        stat = os.stat(path)
    except FileNotFoundError:
        return None
    return (stat.st_size, stat.st_mtime_ns)


@dataclass(eq=False)
class Generation:
    """One built site and the documents prepared from it so far. Two
    generations are the same only when they are one object."""

    config: Config
    site: Site
    snapshot: Snapshot
    newest_page_seen: dt.datetime | None
    # path -> Served, or GONE; read without a lock by every request.
    prepared: dict[str, object] = field(default_factory=dict)
    rare: dict[str, object] = field(default_factory=dict)
    rare_bytes: int = 0
    wrap: Callable[[Iterable[tuple[str, str]]], object] = tuple  # the server's header type
    lock: threading.Lock = field(default_factory=offload.native_lock)

    def lookup(self, path: str) -> object:
        """The prepared document for `path` (a `conditional.Served`), GONE,
        or None when the site has no such URL. Renders on first use."""
        found = self.prepared.get(path) or self.rare.get(path)
        if found is not None:
            return found
        return offload.run(self._prepare, path)

    def _prepare(self, path: str) -> object:
        # The site's own caches are not thread-safe, and rendering the same
        # document twice at once would be wasted work: one at a time.
        with self.lock:
            found = self.prepared.get(path) or self.rare.get(path)
            if found is not None:
                return found
            if self.site.is_gone(path):
                found = GONE
            else:
                resource = self.site.render(path)
                if resource is None:
                    return None
                found = conditional.prepare(resource, self.config.cache_max_age, self.wrap)
            self._keep(path, found)
        return found

    def has(self, path: str) -> bool:
        """Whether `path` is a URL of the site (without preparing it)."""
        if path in self.prepared or path in self.rare:
            return True
        return offload.run(self._publishes, path)

    def _publishes(self, path: str) -> bool:
        with self.lock:  # the site asks the store on one connection
            return self.site.publishes(path)

    def _keep(self, path: str, found: object) -> None:
        if urls.match(path).kind not in ("archive", "article"):
            self.prepared[path] = found
            return
        self.rare[path] = found
        self.rare_bytes += _size(found)
        while self.rare_bytes > RARE_BYTES and len(self.rare) > 1:
            # Oldest first; dicts keep insertion order.
            oldest = next(iter(self.rare))
            self.rare_bytes -= _size(self.rare.pop(oldest))


def _size(found: object) -> int:
    if isinstance(found, conditional.Served):
        return len(found.identity.body) + len(found.gzipped.body)
    return 0


class LiveSite:
    """The current generation of the site, rebuilt when the seeds change."""

    def __init__(
        self,
        load: Callable[[], Config],
        poll_seconds: float = 1.0,
        settle_seconds: float = 1.0,
        wrap: Callable[[Iterable[tuple[str, str]]], object] = tuple,
    ) -> None:
        self._load = load
        self._wrap = wrap
        self.poll_seconds = poll_seconds
        self.settle_seconds = settle_seconds
        self._pending: Snapshot | None = None
        self._pending_since = 0.0
        self.error: str | None = None
        config = load()
        # The first build runs without the settle wait and lets errors out:
        # a server that cannot read its seeds or ledger should not start.
        try:
            snapshot = take_snapshot(config)
        except OSError as error:
            raise SeedsError(
                f"cannot read the seeds folder {config.seeds}: {error.strerror or error}; pass --seeds DIR or set FEEDSVC_SEEDS"
            ) from None
        self.generation = self._build(config, snapshot)
        self._poll = offload.Poll(poll_seconds)
        self._pid = os.getpid()
        self._forked_lock = offload.native_lock()
        self._inherited: list[Generation] = []

    def current(self) -> Generation:
        """The generation to answer this request from; looks at the seeds
        folder first when the poll interval has passed."""
        if self._pid != os.getpid():
            offload.run(self._after_fork)
        if self._poll.due():
            self.check()
        return self.generation

    def _after_fork(self) -> None:
        """A worker forked from a process that built the site (gunicorn
        --preload) builds its own before it answers: a SQLite connection
        must not be used across fork(). The parent's generation is kept,
        unused and never closed, for the same reason."""
        with self._forked_lock:
            if self._pid == os.getpid():
                return
            self._pid = os.getpid()
            inherited = self.generation
            self._inherited.append(inherited)
            # Built from the parent's settings and labelled with its look at
            # the folder, so whatever changed since is noticed by the next poll.
            self._rebuild(lambda: inherited.config, inherited.snapshot)

    def check(self) -> None:
        """Rebuild if the seeds changed and have settled. Never raises."""
        self._poll.run(self._check)

    def _check(self, now: float) -> None:
        config = self.generation.config
        try:
            snapshot = take_snapshot(config)
        except OSError as error:
            self._fail(f"cannot read the seeds folder {config.seeds}: {error.strerror or error}")
            return
        if snapshot == self.generation.snapshot:
            self.error = None
            return
        wait = self._unsettled_for(snapshot, now)
        if wait > 0:
            self._poll.soon(now + wait)
            return
        changed = _config_changed(self.generation.snapshot, snapshot)
        self._rebuild(self._load if changed else lambda: config, snapshot)

    def _rebuild(self, load: Callable[[], Config], snapshot: Snapshot) -> None:
        """Swap in the site built with `load()`'s settings; on failure, say
        why and keep serving the current one."""
        try:
            self.generation = self._build(load(), snapshot)
            self.error = None
        except FeedsvcError as error:
            self._fail(str(error))
        except Exception as error:  # noqa: BLE001 - a bug must not take the server down
            log.exception("feedsvc: rebuilding the site failed; still serving the previous one")
            self._fail(f"rebuilding the site failed: {error!r}")

    def _fail(self, message: str) -> None:
        if message != self.error:
            log.error("feedsvc: %s", message)
        self.error = message

    def _unsettled_for(self, snapshot: Snapshot, now: float) -> float:
        """Seconds until every changed page has settled (0: it has)."""
        before = set(self.generation.snapshot.entries)
        changed = [entry for entry in snapshot.entries if entry not in before]
        if not changed:
            return 0.0
        if snapshot != self._pending:
            self._pending, self._pending_since = snapshot, now
        return settle_wait([mtime for _, _, mtime in changed], self._pending_since, now, self.settle_seconds)

    def _build(self, config: Config, snapshot: Snapshot) -> Generation:
        now = current_time()
        result = ingest(config, now, write=not config.read_only)
        if result.written:
            # Our own write must not look like a change next time. Taken
            # right after ingest released the lock, before any other writer
            # could have loaded, merged and written.
            snapshot = replace(snapshot, ledger=_ledger_stat(config))
        record = topic_record.record_path(config)
        before = _stat(record)
        marks = topic_record.settle(config, result.ledger, now, write=not config.read_only)
        if _stat(record) != before:
            snapshot = replace(snapshot, topics=_stat(record))  # our own write, likewise
        catalog = open_catalog(config)
        if catalog is None:  # no cache file to ask: hold the site in memory
            site = Site.from_ingest(config, result, KEPT_ENTRIES, topic_marks=marks)
        else:
            site = Site(config, catalog, KEPT_ENTRIES, topic_marks=marks)
        for problem in result.problems:
            log.warning("feedsvc: %s", problem)
        newest = result.ledger.pages.newest()
        return Generation(config, site, snapshot, newest, wrap=self._wrap)


def settle_wait(mtimes_ns: list[int], unchanged_since: float, now: float, settle_seconds: float) -> float:
    """Seconds until files written at `mtimes_ns`, and seen unchanged
    since `unchanged_since` (monotonic), have settled (0: they have): a
    scraper may still be writing a page, or copying a folder."""
    age = time.time() - max(mtimes_ns, default=0) / 1e9
    return max(0.0, min(settle_seconds - age, settle_seconds - (now - unchanged_since)))


def _config_changed(before: Snapshot, after: Snapshot) -> bool:
    def settings(snapshot: Snapshot) -> list:
        return [entry for entry in snapshot.entries if entry[0] == CONFIG_NAME]

    return settings(before) != settings(after)
