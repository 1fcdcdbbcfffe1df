"""The SQLite cache: a disposable copy of the history, for lookups by key.

The text history is the one source of truth. The cache holds what its
lines add up to, in tables a run queries by key, and records how far into
the history it has read (line count, chain hash, and the files' size and
time as it left them). It catches up on new lines, and it is rebuilt from
the history whenever it is missing, stale, damaged or from another
version: deleting it never loses anything. Where no cache file can be
written, the same tables are built in memory.

Writers hold the history's lock; SQLite's WAL mode lets readers go on
while a writer commits, each seeing one consistent state.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import sqlite3
import uuid
from pathlib import Path
from typing import Callable, Iterable, Iterator

import orjson

from feedsvc.core.models import Ledger, Record
from feedsvc.core.publish import is_edited, recorded_change
from feedsvc.core.text import article_iri, site_namespace
from feedsvc.store import lines as codec
from feedsvc.store.history import History, Seal
from feedsvc.store.stored import StoredPages, StoredRecords

FORMAT = "6"
# Beside each record's line, what the server's queries select and sort by
# (store.catalog): `number`, the history line that last wrote it;
# `changed`, its publish.recorded_change; `edited`, `withdrawn` and
# `moved` (it has departures or arrivals) as 0 or 1; `digest`, of its line,
# which changes whenever the record does (with the site's settings, a
# record's line decides its article: a category's slug never changes once
# recorded). `gone` keeps the ids a later line folded into another record,
# with their seq and that line's number, so that what changed after a line
# can be asked. `iri` is the article's IRI under the site_key of the
# `site` meta row (NULL while the history names none), minted once when the
# record is stored rather than hashed again by every listing.
# The `generation` meta row changes whenever the tables are filled anew
# from the first line: within one generation, numbers only grow.
SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS records (
    id TEXT PRIMARY KEY, seq INTEGER NOT NULL, published TEXT NOT NULL, category TEXT NOT NULL, line TEXT NOT NULL,
    number INTEGER NOT NULL, changed TEXT NOT NULL, edited INTEGER NOT NULL, withdrawn INTEGER NOT NULL, moved INTEGER NOT NULL,
    digest TEXT NOT NULL, iri TEXT);
CREATE TABLE IF NOT EXISTS gone (id TEXT PRIMARY KEY, seq INTEGER NOT NULL, number INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS gone_number ON gone (number);
CREATE INDEX IF NOT EXISTS records_seq ON records (seq);
CREATE INDEX IF NOT EXISTS records_published ON records (published, seq);
CREATE INDEX IF NOT EXISTS records_number ON records (number);
CREATE INDEX IF NOT EXISTS records_live ON records (seq) WHERE NOT withdrawn;
CREATE INDEX IF NOT EXISTS records_live_changed ON records (changed) WHERE NOT withdrawn;
CREATE INDEX IF NOT EXISTS records_category ON records (category, seq) WHERE NOT withdrawn;
CREATE INDEX IF NOT EXISTS records_category_changed ON records (category, changed) WHERE NOT withdrawn;
CREATE INDEX IF NOT EXISTS records_edited ON records (seq) WHERE edited AND NOT withdrawn;
CREATE INDEX IF NOT EXISTS records_category_edited ON records (category, seq) WHERE edited AND NOT withdrawn;
CREATE INDEX IF NOT EXISTS records_withdrawn ON records (id) WHERE withdrawn;
CREATE INDEX IF NOT EXISTS records_moved ON records (id) WHERE moved;
CREATE TABLE IF NOT EXISTS pages (name TEXT NOT NULL, sha256 TEXT NOT NULL, first_seen TEXT NOT NULL, PRIMARY KEY (name, sha256));
CREATE INDEX IF NOT EXISTS pages_sha256 ON pages (sha256);
CREATE TABLE IF NOT EXISTS categories (name TEXT PRIMARY KEY, slug TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS aliases (key TEXT PRIMARY KEY, id TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS splits (number INTEGER PRIMARY KEY, line TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS topic_members (
    topic TEXT NOT NULL, seq INTEGER NOT NULL, id TEXT NOT NULL, changed TEXT NOT NULL, edited INTEGER NOT NULL,
    PRIMARY KEY (topic, seq));
CREATE INDEX IF NOT EXISTS topic_members_changed ON topic_members (topic, changed);
CREATE INDEX IF NOT EXISTS topic_members_id ON topic_members (id);
CREATE TABLE IF NOT EXISTS counts (category TEXT PRIMARY KEY, live INTEGER NOT NULL);
"""
# `counts` holds each category's records that are not withdrawn, kept by
# SQLite as records are written: a build asks every category's count, and
# counting a million rows each time would cost what exists, not what
# changed. A replaced record is counted out by the delete trigger, which
# fires for INSERT OR REPLACE only with recursive_triggers on (see connect).
TRIGGERS = (
    """CREATE TRIGGER IF NOT EXISTS records_counted AFTER INSERT ON records WHEN NOT new.withdrawn BEGIN
        INSERT INTO counts VALUES (new.category, 1) ON CONFLICT (category) DO UPDATE SET live = live + 1;
    END""",
    """CREATE TRIGGER IF NOT EXISTS records_uncounted AFTER DELETE ON records WHEN NOT old.withdrawn BEGIN
        UPDATE counts SET live = live - 1 WHERE category = old.category;
    END""",
)
TABLES = ("meta", "records", "gone", "pages", "categories", "aliases", "splits", "topic_members", "counts")


def cache_path(folder: Path, history: History) -> Path:
    """One file per history: a shared FEEDSVC_CACHE folder keeps sites apart."""
    where = hashlib.sha256(str(history.first.resolve()).encode()).hexdigest()[:12]
    return folder / f"{history.first.stem}-{where}.sqlite"


class Cache:
    """One connection to the cache of one history."""

    def __init__(self, db: sqlite3.Connection, history: History) -> None:
        self.db = db
        self.history = history

    @classmethod
    def open(cls, folder: Path, history: History) -> "Cache":
        """The cache file, created if need be; a damaged file is replaced,
        and where none can be written the cache lives in memory."""
        path = cache_path(folder, history)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            return cls(_connect(str(path)), history)
        except sqlite3.OperationalError:
            pass  # locked for too long, read-only, or a full disk: not damage
        except sqlite3.DatabaseError:  # damaged, or not a database at all
            remove_database(path)
            try:
                return cls(_connect(str(path)), history)
            except (sqlite3.Error, OSError):
                pass
        except OSError:
            pass
        return cls(_connect(":memory:"), history)

    def _meta(self, name: str) -> str | None:
        row = self.db.execute("SELECT value FROM meta WHERE name = ?", (name,)).fetchone()
        return row[0] if row else None

    @contextlib.contextmanager
    def _writing(self) -> Iterator[None]:
        self.db.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self.db.execute("COMMIT")

    # Keeping up with the history

    def _position(self) -> tuple[int, str, str]:
        return int(self._meta("lines") or 0), self._meta("chain") or "", self._meta("stats") or ""

    def sync(self, seal: Seal) -> None:
        """Bring the cache up to the sealed history, checking the history
        against its seal whenever its files changed behind the cache's back."""
        stats = orjson.dumps(self.history.stats(seal)).decode()
        if self._position() == (seal.lines, seal.digest.hex(), stats):
            return
        with self._writing():
            lines, chain, _ = self._position()
            if not self._catch_up(seal, lines, chain):
                # The cache holds some other history: read it all again.
                self._empty_tables()
                self._catch_up(seal, 0, "")
            self._record_position(seal)

    def _catch_up(self, seal: Seal, lines: int, chain: str) -> bool:
        """Apply the sealed lines after line `lines`, as they stream by; False,
        having applied nothing, when line `lines` does not hash to `chain`.
        Every line is read and hashed: only a full pass proves the files
        still hold what the seal (and the cache) say."""
        found = self.history.sealed_lines(seal)
        if lines:
            for number, _, digest in found:
                if number == lines:
                    if digest.hex() != chain:
                        return False
                    break
            else:
                return False  # the history is shorter than what the cache read
        self._apply((number, line) for number, line, _ in found)
        return True

    @contextlib.contextmanager
    def appending(self, base: Seal) -> Iterator["Appending"]:
        """Take in the lines a writer appends to go from `base` to the seal
        it then writes, as the entries it makes them from (nothing to parse
        again) and as it makes them (nothing to gather first), in one
        transaction that commits when the block ends, after the seal."""
        with self._writing():
            lines, chain, _ = self._position()
            appending = Appending(self, base, in_step=(lines, chain) == (base.lines, base.digest.hex()))
            yield appending
            if appending.in_step:
                self._record_position(appending.seal)
        if not appending.in_step:
            self.sync(appending.seal)  # somebody else moved it: read what is sealed

    def _record_position(self, seal: Seal) -> None:
        stats = orjson.dumps(self.history.stats(seal)).decode()
        for name, value in (("lines", str(seal.lines)), ("chain", seal.digest.hex()), ("stats", stats)):
            self.db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (name, value))

    def _empty_tables(self) -> None:
        for table in TABLES[1:]:
            self.db.execute(f"DELETE FROM {table}")  # noqa: S608 - names from TABLES
        # The site the old lines named, and what store.catalog derived from them.
        self.db.execute("DELETE FROM meta WHERE name IN ('site', 'topics')")
        _new_generation(self.db)

    def _apply(self, numbered: Iterable[tuple[int, bytes]]) -> None:
        source = str(self.history.first)
        for _ in self._stored((number, codec.Entry(*codec.decode(number, raw, source), raw)) for number, raw in numbered):
            pass  # each line is stored as it goes by

    def _stored(self, numbered: Iterable[tuple[int, codec.Entry]]) -> Iterator[bytes]:
        """Each entry's line, once the tables hold what it says."""
        source = str(self.history.first)
        categories = {name for (name,) in self.db.execute("SELECT name FROM categories")}
        mint = _minter(self._site_key())
        for number, (kind, value, raw) in numbered:
            if kind == "article":
                record = value
                codec.check_category(record, categories, source, number)
                self.db.execute("INSERT OR REPLACE INTO records VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", _row(number, record, raw, mint))
            elif kind == "page":
                (name, sha), seen = value
                self.db.execute("INSERT OR REPLACE INTO pages VALUES (?, ?, ?)", (name, sha, codec.stamp(seen)))
            elif kind == "category":
                categories.add(value[0])
                self.db.execute("INSERT OR REPLACE INTO categories VALUES (?, ?)", value)
            elif kind == "alias":
                self.db.execute("INSERT OR REPLACE INTO aliases VALUES (?, ?)", value)
            elif kind == "split":
                self.db.execute("INSERT INTO splits VALUES (?, ?)", (number, raw.decode()))
            elif kind == "folded":
                self.db.execute("INSERT OR REPLACE INTO gone SELECT id, seq, ? FROM records WHERE id = ?", (number, value))
                self.db.execute("DELETE FROM records WHERE id = ?", (value,))
            elif kind == "site":
                if value[0] != self._site_key():
                    # A key the history names only now (it was written before it
                    # recorded one), or another while it held no records: mint again.
                    mint = _minter(value[0])
                    ids = [article for (article,) in self.db.execute("SELECT id FROM records").fetchall()]
                    self.db.executemany("UPDATE records SET iri = ? WHERE id = ?", ((mint(article), article) for article in ids))
                self.db.execute("INSERT OR REPLACE INTO meta VALUES ('site', ?)", (orjson.dumps(value).decode(),))
            yield raw

    def _site_key(self) -> str | None:
        return recorded_site(self.db)[0]

    # The ledger, answered from the tables

    def snapshot(self) -> Ledger:
        """The ledger in one read transaction: every lookup through it sees
        the same state, whatever a writer commits meanwhile. The cache is
        not written through this connection afterwards."""
        self.db.execute("BEGIN")
        return self.ledger(snapshot=True)

    def ledger(self, snapshot: bool = False) -> Ledger:
        site_key, created = recorded_site(self.db)
        splits = [codec.split_of(orjson.loads(line)) for (line,) in self.db.execute("SELECT line FROM splits ORDER BY number")]
        return Ledger(
            pages=StoredPages(self.db),
            records=StoredRecords(self.db, snapshot),
            categories=dict(self.db.execute("SELECT name, slug FROM categories")),
            # An operator's marks, few by nature: held whole, like the
            # categories, rather than asked for once per card.
            aliases=dict(self.db.execute("SELECT key, id FROM aliases ORDER BY key")),
            splits=tuple(splits),
            site_key=site_key,
            created=codec.time_of(created) if created else None,
        )


class Appending:
    """A writer's append as the cache takes it in (see Cache.appending)."""

    def __init__(self, cache: Cache, base: Seal, in_step: bool) -> None:
        self.cache = cache
        self.base = base
        self.seal = base  # the writer sets the seal it wrote
        # Whether the cache stood at `base`: if not, it reads the sealed
        # lines afterwards rather than store these.
        self.in_step = in_step

    def lines(self, entries: Iterable[codec.Entry]) -> Iterator[bytes]:
        """Each entry's line, stored in the tables on its way to the history."""
        if not self.in_step:
            return (entry.raw for entry in entries)
        return self.cache._stored(enumerate(entries, start=self.base.lines + 1))


def recorded_site(db: sqlite3.Connection) -> tuple[str | None, str | None]:
    """The site_key the history names and the time of its first run (each
    None until it names them), as the `site` meta row holds them."""
    row = db.execute("SELECT value FROM meta WHERE name = 'site'").fetchone()
    site_key, created = orjson.loads(row[0]) if row else (None, None)
    return site_key, created


def _minter(site_key: str | None) -> Callable[[str], str | None]:
    """An article's IRI from its id under the site_key (None while the history names none)."""
    return functools.partial(article_iri, site_namespace(site_key)) if site_key is not None else lambda article: None


def _row(number: int, record: Record, raw: bytes, mint: Callable[[str], str | None]) -> tuple:
    return (
        record.id,
        record.seq,
        codec.stamp(record.published),
        record.category,
        raw.decode(),
        number,
        codec.stamp(recorded_change(record)),
        int(is_edited(record)),
        int(record.withdrawn is not None),
        int(bool(record.departures or record.arrivals)),
        hashlib.sha1(raw).hexdigest()[:20],
        mint(record.id),
    )


def connect(path: str) -> sqlite3.Connection:
    """A connection to a cache file. Autocommit: transactions are begun
    explicitly (BEGIN IMMEDIATE), so concurrent writers queue rather than
    fail on upgrading a read lock."""
    db = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=120)
    db.execute("PRAGMA recursive_triggers = ON")  # `counts` must see a replaced record go
    return db


def _connect(path: str) -> sqlite3.Connection:
    db = connect(path)
    db.execute("PRAGMA journal_mode = WAL")
    db.execute("PRAGMA synchronous = NORMAL")  # the history, not the cache, must survive a power cut
    db.execute("BEGIN IMMEDIATE")
    try:
        if _format(db) != FORMAT:
            # Another version's tables: start again from the history.
            for (table,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall():
                db.execute(f'DROP TABLE "{table}"')
            for statement in [*filter(str.strip, SCHEMA.split(";")), *TRIGGERS]:
                db.execute(statement)
            db.execute("INSERT INTO meta VALUES ('format', ?)", (FORMAT,))
            _new_generation(db)
    except BaseException:
        db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")
    return db


def _new_generation(db: sqlite3.Connection) -> None:
    """Mark the tables as filled anew: whoever remembered a position in
    the old ones (a build) must not compare numbers across."""
    db.execute("INSERT OR REPLACE INTO meta VALUES ('generation', ?)", (uuid.uuid4().hex,))


def _format(db: sqlite3.Connection) -> str | None:
    try:
        row = db.execute("SELECT value FROM meta WHERE name = 'format'").fetchone()
    except sqlite3.OperationalError:  # no such table: a new file
        return None
    return row[0] if row else None


def remove_database(path: Path) -> None:
    """Delete a SQLite file and the journal files beside it, whichever exist."""
    for name in (path, Path(f"{path}-wal"), Path(f"{path}-shm"), Path(f"{path}-journal")):
        with contextlib.suppress(OSError):
            name.unlink()
