"""Several sites in one server (`feedsvc serve --sites DIR`): every site of
the folder is a `LiveSite` of its own, answered under `/<name>/` (or at `/`
for the instance's `root_site`), and the root answers the list of sites,
the OPML of every feed and /healthz.

Sites fail alone. A site that cannot be built from the start (bad
settings, a damaged history, an unreadable folder) answers 503 and is
tried again once its folder changes and settles; a site that breaks while
the server runs keeps serving its last good version, as a single site
does. A site whose folder vanishes answers 503 until it returns, since a
rename or a half-finished checkout must not make readers drop their
subscriptions; only the names the instance's settings list as `retired`
answer 410. Every problem is logged with the site's name and reported by
/healthz. A new site folder is picked up like a new page: once it has
stopped changing for the settle time.

At most once per poll interval a request looks at the folder (its
subfolders and the instance's feedsvc.toml); each site looks at its own
folder when one of its URLs is asked for, as a single site does.
"""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass
from typing import Callable, Iterable

from feedsvc.config import CONFIG_NAME, Config
from feedsvc.errors import FeedsvcError, SeedsError
from feedsvc.instance import InstanceConfig, Scan, scan, site_config, valid_name
from feedsvc.serve import conditional, offload
from feedsvc.serve.answers import ALLOWED_METHODS, MAX_PATH_CHARS, NOT_FOUND, TOO_LONG, Reply, health_reply, plain, redirect, respond, send
from feedsvc.serve.answers import site_figures, site_health
from feedsvc.serve.live import Generation, LiveSite, Snapshot, settle_wait, take_snapshot
from feedsvc.site import root
from feedsvc.site.cards import Card

log = logging.getLogger("feedsvc")

UNAVAILABLE = b"Unavailable: this site cannot be served right now; try again later.\n"
RETIRED = b"Gone: this site was retired.\n"
RETRY_AFTER = "60"


@dataclass
class Slot:
    """One site of the folder as the server holds it."""

    name: str
    live: LiveSite | None = None  # None: not built yet, broken from the start, or its folder vanished
    problem: str | None = None  # what the last look at the folder found wrong with it
    failure: str | None = None  # why the last build failed; tried again once the folder changes
    missing: bool = False  # its folder, or the folder's feedsvc.toml, is gone
    tried: Snapshot | None = None  # the folder as the failed build saw it
    pending: Snapshot | None = None  # a changed folder, settling
    pending_since: float = 0.0
    logged: str | None = None
    routable: bool = True  # False for a folder whose name cannot be a prefix: reported, never answered

    @property
    def serving(self) -> bool:
        return self.live is not None and not self.missing

    @property
    def status(self) -> str:
        if self.missing:
            return "missing"
        if self.live is None or self.problem or self.failure or self.live.error:
            return "error"
        return "ok"

    @property
    def error(self) -> str | None:
        if self.missing:
            return "its folder is missing"
        return self.problem or self.failure or (self.live.error if self.live else None)


class Instance:
    """Every site of the folder, and the root's own documents."""

    def __init__(
        self,
        load: Callable[[], InstanceConfig],
        poll_seconds: float = 1.0,
        settle_seconds: float = 1.0,
        wrap: Callable[[Iterable[tuple[str, str]]], object] = tuple,
    ) -> None:
        self._load = load
        self._wrap = wrap
        self.poll_seconds = poll_seconds
        self.settle_seconds = settle_seconds
        # The first look lets errors out: a server whose folder or own
        # settings cannot be read should not start. A broken site is not
        # such an error.
        self.settings = load()
        self._settings_stat = _stat(self.settings.folder / CONFIG_NAME)
        self._settings_error: str | None = None  # the instance's feedsvc.toml, changed and unreadable
        self._folder_error: str | None = None  # the folder itself, unreadable
        # Replaced whole, never changed in place: requests iterate over it
        # while a look at the folder makes the next one.
        self.slots: dict[str, Slot] = {}
        self._arriving: dict[str, Slot] = {}  # new site folders, settling: not a site of the server yet
        self._root: tuple[object, dict[str, conditional.Served]] | None = None
        self._cards: dict[str, tuple[Generation, Card]] = {}
        self._apply(scan(self.settings.folder), time.monotonic(), first=True)
        self._poll = offload.Poll(poll_seconds)

    @property
    def error(self) -> str | None:
        """What keeps the instance from following its folder, if anything."""
        return self._settings_error or self._folder_error

    def problems(self) -> dict[str, str]:
        """Each site that cannot be served as it should, and why."""
        return {name: slot.error for name, slot in self.slots.items() if slot.error}

    # Following the folder

    def check(self) -> None:
        """Look at the folder if the poll interval has passed. Never raises."""
        self._poll.run(self._follow)

    def _follow(self, now: float) -> None:
        """Bring the sites in line with the folder and the instance's settings."""
        try:
            self._reload_settings()
            try:
                found = scan(self.settings.folder)
            except SeedsError as error:
                self._folder_error = self._logged(self._folder_error, str(error))
                return
            self._folder_error = None
            self._apply(found, now)
        except Exception as error:  # noqa: BLE001 - a bug must not take the server down
            log.exception("feedsvc: looking at the sites folder failed; still serving the sites as they were")
            self._folder_error = f"looking at the sites folder failed: {error!r}"

    def _reload_settings(self) -> None:
        """The instance's own settings again, when its feedsvc.toml changed;
        while they cannot be read, the last good ones stay."""
        stat = _stat(self.settings.folder / CONFIG_NAME)
        if stat == self._settings_stat:
            return
        try:
            settings = self._load()
        except FeedsvcError as error:
            self._settings_error = self._logged(self._settings_error, f"{error}; keeping the instance's last good settings")
            return
        self._settings_stat, self._settings_error = stat, None
        if settings == self.settings:
            return
        moved = (settings.base_url, settings.root_site) != (self.settings.base_url, self.settings.root_site)
        self.settings = settings
        for name in set(settings.retired) & set(self.slots):
            log.warning("feedsvc: site %s is retired: its URLs answer 410 Gone", name)
        self.slots = {name: slot for name, slot in self.slots.items() if name not in settings.retired}
        if moved:
            # Every site's links hang off the instance's base URL.
            for slot in self.slots.values():
                if slot.serving:
                    self._build(slot, _look(self.settings.folder / slot.name))

    @staticmethod
    def _logged(before: str | None, message: str) -> str:
        if message != before:
            log.error("feedsvc: %s", message)
        return message

    def _apply(self, found: Scan, now: float, first: bool = False) -> None:
        """Bring the sites in line with a look at the folder."""
        retired = set(self.settings.retired)
        slots = dict(self.slots)
        for name, reason in found.broken.items():
            if name not in retired:
                slot = slots.setdefault(name, Slot(name, routable=valid_name(name)))
                slot.missing, slot.problem = False, reason
                self._report(slot)
        for name, folder in found.sites.items():
            if name in retired:
                continue
            slot = slots.get(name) or self._arriving.setdefault(name, Slot(name))
            slot.problem = None
            if slot.missing or slot.live is None or slot.failure:
                self._try(slot, folder, now, first)
            if name not in slots and (slot.live is not None or slot.problem or slot.failure):
                slots[name] = self._arriving.pop(name)
            if name in slots:
                self._report(slot)
        for name in set(self._arriving) - set(found.sites):
            del self._arriving[name]
        self.slots = slots
        for name, slot in slots.items():
            if name not in found.sites and name not in found.broken and not slot.missing:
                # Dropped, not forgotten: 503 until the folder is back.
                slot.live, slot.missing, slot.failure, slot.tried = None, True, None, None
                self._report(slot)

    def _try(self, slot: Slot, folder: os.PathLike, now: float, first: bool) -> None:
        """Build a site that is new, back, or failed before, once its folder
        has changed since the last attempt and settled."""
        snapshot = _look(folder)
        if snapshot is None:
            slot.problem = f"cannot read the site's folder {folder}"
            return
        if snapshot == slot.tried and not slot.missing:
            return
        if not first:
            if snapshot != slot.pending:
                slot.pending, slot.pending_since = snapshot, now
            wait = settle_wait([mtime for _, _, mtime in snapshot.entries], slot.pending_since, now, self.settle_seconds)
            if wait > 0:
                self._poll.soon(now + wait)
                return
        slot.missing = False
        self._build(slot, snapshot)

    def _build(self, slot: Slot, snapshot: Snapshot | None) -> None:
        """A new LiveSite for `slot`; on failure, the last good one stays."""
        name = slot.name
        try:
            live = LiveSite(lambda: site_config(self.settings, name), self.poll_seconds, self.settle_seconds, self._wrap)
        except FeedsvcError as error:
            slot.failure, slot.tried = str(error), snapshot
        except Exception as error:  # noqa: BLE001 - one site's bug must not stop the others
            log.exception("feedsvc: site %s: building it failed", name)
            slot.failure, slot.tried = f"building the site failed: {error!r}", snapshot
        else:
            slot.live, slot.failure, slot.tried, slot.pending = live, None, None, None
        self._report(slot)

    def _report(self, slot: Slot) -> None:
        """Log a site's problem once, and its recovery."""
        message = slot.error
        if message == slot.logged:
            return
        if message and slot.missing:
            log.error("feedsvc: site %s: its folder %s is gone; its URLs answer 503 until it is back", slot.name, self.settings.folder / slot.name)
        elif message:
            serving = "still serving its last good version" if slot.serving else "its URLs answer 503"
            log.error("feedsvc: site %s: %s (%s)", slot.name, message, serving)
        elif slot.logged:
            log.warning("feedsvc: site %s: serving again", slot.name)
        slot.logged = message

    # Answering

    def answer(self, environ: dict, render: bool = True) -> Reply | None:
        """Like `answers.respond`, for a path of the instance: a site's,
        under its prefix, or the root's own."""
        if self._poll.due():
            self.check()
        path = environ.get("PATH_INFO") or "/"
        settings = self.settings
        name, slash, rest = path[1:].partition("/")
        slot = self.slots.get(name)
        if slot is not None and slot.routable and name != settings.root_site:
            if not slash:
                return redirect(f"/{name}/", "no-store") if render else None
            return self._site(slot, environ, render, "/" + rest, "/" + name)
        if name in settings.retired:
            return plain(410, RETIRED, f"public, max-age={settings.cache_max_age}") if render else None
        if path in root.paths(settings.root_site) or (settings.root_site is None and path in _ASSETS):
            found = self._root_documents().get(path)
            if found is not None and (not render or environ["REQUEST_METHOD"] != "OPTIONS"):
                return send(found, environ)
        if settings.root_site is not None:
            mounted = self.slots.get(settings.root_site)
            if mounted is not None:
                return self._site(mounted, environ, render, path, "")
            return self._unavailable() if render else None
        if not render:
            return None
        if environ["REQUEST_METHOD"] == "OPTIONS":
            return plain(200, b"", None, [("Allow", ALLOWED_METHODS)])
        if len(path) > MAX_PATH_CHARS:
            return plain(414, TOO_LONG)
        return plain(404, NOT_FOUND, "public, max-age=60")

    def _site(self, slot: Slot, environ: dict, render: bool, path: str, prefix: str) -> Reply | None:
        if not slot.serving:
            return self._unavailable() if render else None
        live = slot.live
        assert live is not None
        generation = live.current()
        if path == "/healthz" and prefix:
            return site_health(live, generation) if render and environ["REQUEST_METHOD"] != "OPTIONS" else None
        return respond(generation, environ, render, path, prefix)

    @staticmethod
    def _unavailable() -> Reply:
        return plain(503, UNAVAILABLE, "no-store", [("Retry-After", RETRY_AFTER)])

    def _root_documents(self) -> dict[str, conditional.Served]:
        """The list of sites and the OPML, from the healthy sites only, made
        again whenever one of them changes."""
        healthy = []
        for name, slot in sorted(self.slots.items()):
            if slot.serving:
                generation = slot.live.current()  # type: ignore[union-attr]
                if slot.status == "ok":
                    healthy.append((name, generation))
        key = (self.settings, tuple(healthy))
        cached = self._root
        if cached is not None and cached[0] == key:
            return cached[1]
        placed = [root.Placed(name, self.settings.prefix(name), self._card(name, generation)) for name, generation in healthy]
        documents = root.documents(placed, self.settings.site_url, self.settings.root_site)
        prepared = {path: conditional.prepare(resource, self.settings.cache_max_age, self._wrap) for path, resource in documents.items()}
        self._root = (key, prepared)
        return prepared

    def _card(self, name: str, generation: Generation) -> Card:
        kept = self._cards.get(name)
        if kept is not None and kept[0] is generation:
            return kept[1]
        with generation.lock:  # the site's caches are not thread-safe
            card = Card.of(generation.site)
        self._cards[name] = (generation, card)
        return card

    def health(self, environ: dict) -> Reply:
        """Each site's status and figures; 503 only when no site is well and
        something is wrong."""
        if self._poll.due():
            self.check()
        sites: dict[str, dict] = {}
        for name, slot in sorted(self.slots.items()):
            generation = slot.live.current() if slot.serving else None  # type: ignore[union-attr]
            entry: dict[str, object] = {"status": slot.status}
            if generation is not None:
                entry.update(site_figures(generation))
            if slot.status == "error":
                # The details (paths, ledger lines) go to the log, not to the public.
                entry["error"] = "cannot build the site from its folder; see the server log"
            elif slot.status == "missing":
                entry["error"] = "its folder is missing"
            sites[name] = entry
        for name in self.settings.retired:
            sites[name] = {"status": "retired"}
        well = [entry for entry in sites.values() if entry["status"] == "ok"]
        wrong = self.error is not None or any(entry["status"] in ("error", "missing") for entry in sites.values())
        status = "degraded" if wrong and well else "error" if wrong else "ok"
        body: dict[str, object] = {"status": status, "sites": sites}
        if self.error:
            body["error"] = "cannot read the sites folder or the instance's settings; see the server log"
        return health_reply(503 if status == "error" else 200, body)


# The stylesheet the list of sites loads, at `/` unless a site is mounted there.
_ASSETS = ("/style.css",)


def _look(folder: os.PathLike) -> Snapshot | None:
    """A site folder's pages, settings and history, as a LiveSite watches
    them; None when it cannot be read."""
    try:
        return take_snapshot(Config(seeds=folder))
    except OSError:
        return None


def _stat(path: os.PathLike) -> tuple[int, int] | None:
    try:
        stat = os.stat(path)
    except OSError:
        return None
    return (stat.st_size, stat.st_mtime_ns)
