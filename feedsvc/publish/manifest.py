"""The build's bookkeeping, kept outside the output folder (which holds only
the site), in a folder of its own beside the ledger: `.feedsvc-build/<key>/`,
one per output folder. Without it a build still writes the right tree; it
renders every file and compares it with the one on disk, which is slower.

- `manifest.sqlite`, committed last: every file the build wrote, with the
  Site's fingerprint, size and SHA-256, and what each article showed (for
  the next `build --diff`). It tells the next build which files it may
  skip without rendering them, and which files are its own to remove once
  the site stops publishing them (a CNAME or .nojekyll that a user put
  there is never listed, so never touched). Its header also records a
  digest of the inputs, so a build with nothing new stops there, and the
  store's position the build published, so the next one renders only the
  articles written since.
- `pending.json`, present only while a build writes: the files it is
  creating, replacing or removing, each listed before it is touched (see
  `journal`). A build killed part-way leaves it behind, and the next
  build renders those files again instead of trusting the manifest,
  removes the killed build's temporary files, and takes over its stale
  files.
- `stamps.json`: this machine's record of the input files' stat
  and digest (see stamps.py), so an up-to-date build need not read them.
- `build.lock`: two builds into one folder take turns.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator, NamedTuple

from feedsvc.config import Config
from feedsvc.publish.inputs import MANIFEST_VERSION
from feedsvc.store.cache import remove_database
from feedsvc.store.stamps import STAMPS_NAME

MANIFEST_NAME = "manifest.sqlite"
PENDING_NAME = "pending.json"
LOCK_NAME = "build.lock"
BOOKKEEPING = (MANIFEST_NAME, PENDING_NAME, LOCK_NAME, STAMPS_NAME)
# The bookkeeping of earlier releases beside these: a build removes it.
LEGACY_STATE = ("manifest.jsonl", "published.json")
STATE_FOLDER = ".feedsvc-build"
# Where earlier releases kept the bookkeeping: in the output folder itself,
# where it was published. A build removes them.
LEGACY_BOOKKEEPING = (".feedsvc-manifest.json", ".feedsvc-pending.json", ".feedsvc.lock", ".feedsvc-stamps.json")


def state_folder(config: Config, out: Path) -> Path:
    """The bookkeeping of builds into `out`: beside the ledger, keyed by
    the output folder's absolute path, which is never published."""
    key = hashlib.sha256(os.path.abspath(out).encode("utf-8", "surrogateescape")).hexdigest()[:16]
    return config.ledger_path.parent / STATE_FOLDER / key


class Entry(NamedTuple):
    """One file as the manifest records it (a tuple: there are 100,000 of them)."""

    fingerprint: str
    size: int
    sha256: str


# Article pages' rows held in memory before they go to the manifest's
# temporary table, one statement for them all.
STAGED_AT_ONCE = 1000


class Rows:
    """A build's manifest rows, gathered as its files are written or found
    unchanged, for `Books.save`: an article page's (there is one per
    article) waits in a temporary table of the manifest's connection, the
    few other documents' here. `documents` names every document but the
    article pages, in write order, with its archive's (feed, number) or
    None. With `known`, the documents' rows the manifest holds (a build of
    the changed pages only), a document's row that stands as it is is not
    written again; the few pages' rows of such a build always are. Without
    `books` (a build that only looks), the pages' rows are dropped. Rows are saved
    in an order that does not depend on which process rendered what, so
    the manifest's bytes do not either."""

    def __init__(self, books: "Books | None", documents: dict[str, tuple[str, int] | None], known: dict[str, Entry] | None) -> None:
        self.books, self.known = books, known
        self._archive_of = documents
        self.documents: dict[str, Entry] = {}
        self._pages: list[tuple[str, Entry]] = []

    def add(self, file: str, entry: Entry) -> None:
        if file in self._archive_of:
            self.documents[file] = entry
        else:
            self._pages.append((file, entry))
            if len(self._pages) >= STAGED_AT_ONCE:
                self.flush()

    def flush(self) -> None:
        if self.books is not None and self._pages:
            self.books.stage_pages(self._pages)
        self._pages = []

    def document_rows(self) -> Iterator[tuple]:
        for file, archive in self._archive_of.items():
            entry = self.documents[file]
            if self.known is None or self.known.get(file) != entry:
                yield (file, *entry, 0, *(archive or (None, None)))


@dataclass(frozen=True)
class Manifest:
    """The header of the manifest: what the last build ran and published."""

    renderer: str
    inputs: str
    summary: dict  # pages_read, pages_skipped, articles, problems of the build
    entry_sizes: dict[str, int]  # the files readers start from, checked even when nothing changed
    # The store's (generation, lines) the build published; None when its
    # site was held in memory.
    position: tuple[str, int] | None = None


_SCHEMA = """
CREATE TABLE IF NOT EXISTS header (name TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS files (
    file TEXT PRIMARY KEY, fingerprint TEXT NOT NULL, size INTEGER NOT NULL, sha256 TEXT NOT NULL, page INTEGER NOT NULL,
    feed TEXT, number INTEGER);
CREATE INDEX IF NOT EXISTS files_documents ON files (feed, number) WHERE NOT page;
CREATE TABLE IF NOT EXISTS archives (
    feed TEXT NOT NULL, number INTEGER NOT NULL, start INTEGER NOT NULL, stop INTEGER NOT NULL, members TEXT NOT NULL,
    PRIMARY KEY (feed, number));
CREATE TABLE IF NOT EXISTS feeds (feed TEXT PRIMARY KEY, context TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS published (
    id TEXT PRIMARY KEY, published TEXT NOT NULL, category TEXT NOT NULL, title TEXT NOT NULL, digest TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS file_count (files INTEGER NOT NULL);
DELETE FROM file_count WHERE (SELECT count(*) FROM file_count) > 1;
INSERT INTO file_count SELECT (SELECT count(*) FROM files) WHERE NOT EXISTS (SELECT 1 FROM file_count);
CREATE TRIGGER IF NOT EXISTS file_counted AFTER INSERT ON files BEGIN UPDATE file_count SET files = files + 1; END;
CREATE TRIGGER IF NOT EXISTS file_uncounted AFTER DELETE ON files BEGIN UPDATE file_count SET files = files - 1; END;
"""
# `file_count` is kept by SQLite as rows come and go: a build reports how
# many files the folder holds, and counting a million rows each time would
# cost what exists, not what changed. Its one row is counted from `files`
# only when it is missing (the count sits in a subquery so that nothing is
# counted otherwise), or when there are several: manifests of earlier
# releases gained one at each build. INSERT OR REPLACE counts the replaced
# row out only with recursive_triggers on (see _open).

# Article pages' rows until the build saves them: a temporary table lives
# outside the manifest's file and goes with the connection, so a killed
# build leaves no trace of it.
_STAGED = "CREATE TEMP TABLE IF NOT EXISTS staged (file TEXT PRIMARY KEY, fingerprint TEXT NOT NULL, size INTEGER NOT NULL, sha256 TEXT NOT NULL)"


class Books:
    """The manifest of one output folder, open: read what is asked, and
    save a build's changes in one transaction. `page` marks the rows of
    article pages, which a build that starts from a position never lists
    whole. A missing manifest reads as empty; an unreadable one too, with
    `damaged` set (and it is replaced when saved)."""

    def __init__(self, state: Path, create: bool) -> None:
        self.path = state / MANIFEST_NAME
        self.damaged = False
        self._db: sqlite3.Connection | None = None
        try:
            self._db = self._open(create)
            self.header = self._header()
        except (sqlite3.DatabaseError, ValueError, KeyError, TypeError):
            self.damaged = True
            self.close()
            self.header = None
            if create:
                remove_database(self.path)
                self._db = self._open(create)

    def _open(self, create: bool) -> sqlite3.Connection | None:
        if not create and not self.path.exists():
            return None
        uri = f"file:{self.path}" + ("" if create else "?mode=ro")
        db = sqlite3.connect(uri, uri=True, isolation_level=None)
        db.execute("PRAGMA recursive_triggers = ON")
        if create:
            # The default rollback journal, not WAL: a build that only looks
            # (--check) then reads it without creating any file.
            db.executescript(_SCHEMA)
            db.execute(_STAGED)
        return db

    def _header(self) -> Manifest | None:
        row = self._db.execute("SELECT value FROM header WHERE name = 'header'").fetchone() if self._db else None
        return _parse_header(row[0]) if row else None

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None

    def __enter__(self) -> "Books":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _rows(self, where: str = "", parameters: tuple = ()) -> dict[str, Entry]:
        if self._db is None:
            return {}
        query = f"SELECT file, fingerprint, size, sha256 FROM files {where}"  # noqa: S608 - fixed fragments
        # tuple.__new__ skips the named tuple's Python-level constructor:
        # a full build reads a row per published file.
        return {row[0]: tuple.__new__(Entry, row[1:]) for row in self._db.execute(query, parameters)}

    def documents(self, kept: dict[str, int]) -> dict[str, Entry]:
        """Every file but the article pages and, for each feed, the archives
        up to number `kept[feed]`."""
        if self._db is None:
            return {}
        found = self._rows("WHERE NOT page AND feed IS NULL")
        for (feed,) in self._db.execute("SELECT DISTINCT feed FROM files WHERE NOT page AND feed IS NOT NULL").fetchall():
            found.update(self._rows("WHERE NOT page AND feed = ? AND number > ?", (feed, kept.get(feed, 0))))
        return found

    def entries(self, files: Iterable[str]) -> dict[str, Entry]:
        """The rows of those of `files` the manifest lists."""
        found: dict[str, Entry] = {}
        wanted = list(files)
        for start in range(0, len(wanted), 500):
            chunk = tuple(wanted[start : start + 500])
            found.update(self._rows(f"WHERE file IN ({','.join('?' * len(chunk))})", chunk))
        return found

    def page_files(self, among: Iterable[str] | None = None) -> Iterator[list[str]]:
        """The article pages the manifest lists, a chunk at a time: every
        one (a row per article of the site), or those among `among`."""
        if self._db is None:
            return
        if among is not None:
            yield list(self.entries(among))
            return
        rows = self._db.execute("SELECT file FROM files WHERE page ORDER BY file")
        while chunk := rows.fetchmany(500):
            yield [file for (file,) in chunk]

    def count(self) -> int:
        return self._db.execute("SELECT files FROM file_count").fetchone()[0] if self._db else 0

    def archives(self, feed: str, first: int) -> dict[int, tuple[int, int, str]]:
        """What the last build knew of each of a feed's archives from number
        `first` on, by number (site.fingerprints.Earlier)."""
        if self._db is None:
            return {}
        rows = self._db.execute("SELECT number, start, stop, members FROM archives WHERE feed = ? AND number >= ?", (feed, first))
        return {number: (start, stop, members) for number, start, stop, members in rows}

    def contexts(self) -> dict[str, str]:
        """What the last build knew of each feed's archives besides their members (Earlier)."""
        return dict(self._db.execute("SELECT feed, context FROM feeds").fetchall()) if self._db else {}

    def published(self) -> list[tuple] | None:
        """What the last build published: (id, published, category, title, digest) rows."""
        if self._db is None or self.header is None:
            return None
        return self._db.execute("SELECT id, published, category, title, digest FROM published ORDER BY id").fetchall()

    def stage_pages(self, rows: list[tuple[str, Entry]]) -> None:
        """Hold article pages' rows for `save`."""
        assert self._db is not None
        self._db.executemany("INSERT OR REPLACE INTO temp.staged VALUES (?, ?, ?, ?)", ((file, *entry) for file, entry in rows))

    def save(
        self,
        header: Manifest,
        rows: Rows,
        removed: Iterable[str],
        blocks: dict[tuple[str, int], tuple[int, int, str]],
        archive_counts: dict[str, int],
        contexts: dict[str, str],
        listed: Iterable[tuple],
        unlisted: Iterable[str],
        whole: bool,
    ) -> None:
        """Record one build in one transaction: its header, the rows of the
        files it wrote or checked, the files it removed, the archives whose members
        it digested (the rows of the others stand), how many archives each
        feed has, every feed's context, and the articles it published
        (rows) or no longer does (ids). With `whole`, the files and
        articles given are all there are: every other row goes."""
        assert self._db is not None
        db = self._db
        db.execute("BEGIN IMMEDIATE")
        try:
            if whole:
                for table in ("files", "archives", "published"):
                    db.execute(f"DELETE FROM {table}")  # noqa: S608 - names from this line
            db.execute("DELETE FROM feeds")
            db.executemany("DELETE FROM files WHERE file = ?", ((file,) for file in removed))
            rows.flush()
            db.execute("INSERT OR REPLACE INTO files SELECT file, fingerprint, size, sha256, 1, NULL, NULL FROM temp.staged ORDER BY file")
            db.execute("DELETE FROM temp.staged")
            db.executemany("INSERT OR REPLACE INTO files VALUES (?, ?, ?, ?, ?, ?, ?)", rows.document_rows())
            db.executemany("INSERT INTO feeds VALUES (?, ?)", sorted(contexts.items()))
            # The archives of feeds that are no more, and past each feed's last.
            db.execute("DELETE FROM archives WHERE feed NOT IN (SELECT feed FROM feeds)")
            db.executemany("DELETE FROM archives WHERE feed = ? AND number > ?", sorted(archive_counts.items()))
            db.executemany("INSERT OR REPLACE INTO archives VALUES (?, ?, ?, ?, ?)", ((*key, *block) for key, block in sorted(blocks.items())))
            db.executemany("DELETE FROM published WHERE id = ?", ((article,) for article in unlisted))
            db.executemany("INSERT OR REPLACE INTO published VALUES (?, ?, ?, ?, ?)", listed)
            db.execute("INSERT OR REPLACE INTO header VALUES ('header', ?)", (_header_json(header),))
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")


def _header_json(manifest: Manifest) -> str:
    header = {
        "feedsvc_manifest": MANIFEST_VERSION,
        "renderer": manifest.renderer,
        "inputs": manifest.inputs,
        "summary": manifest.summary,
        "entry_sizes": manifest.entry_sizes,
        "position": manifest.position,
    }
    return json.dumps(header, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def _parse_header(text: str) -> Manifest:
    header = json.loads(text)
    if header.get("feedsvc_manifest") != MANIFEST_VERSION:
        raise ValueError("another manifest version")
    position = header.get("position")
    return Manifest(
        header["renderer"], header["inputs"], dict(header["summary"]), dict(header["entry_sizes"]), tuple(position) if position else None
    )


def read_header(state: Path) -> Manifest | None:
    """Only the manifest's header: enough to tell an up-to-date tree."""
    with Books(state, create=False) as books:
        return books.header


def is_own_name(name: object) -> bool:
    """A relative path inside the tree, and not an earlier release's bookkeeping."""
    if not isinstance(name, str) or not name or name.startswith("/") or "\\" in name or "\0" in name:
        return False
    parts = name.split("/")
    return all(part not in {"", ".", ".."} for part in parts) and name not in LEGACY_BOOKKEEPING


def finished_build(state: Path, header: Manifest | None, renderer: str) -> Manifest | None:
    """`header`, the last build's (its bookkeeping in `state`), if that build
    finished and ran this code with these settings; only then can inputs be
    compared."""
    if header is None or header.renderer != renderer or (state / PENDING_NAME).exists():
        return None
    return header


def entry_files_in_place(out: Path, header: Manifest) -> bool:
    """Whether the files readers start from have their recorded sizes.
    Article pages and archives are not stat'ed here (there can be 100,000):
    a build that changes anything checks every file, and deleting the
    manifest forces that."""
    for name, size in header.entry_sizes.items():
        try:
            if os.stat(out / name).st_size != size:
                return False
        except OSError:
            return False
    return True
