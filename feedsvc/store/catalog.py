"""The site's articles as the server asks for them, answered by the
store's SQLite cache: how many a feed holds, one stretch of it in `seq`
order, its newest change, its recent edits, one article by id. A worker
holds the answers it renders, never every article, and a new page costs
it a few queries rather than a pass over the whole history.

The same questions are answered in memory by `core.publish.Catalog` (the
export), and the division of a feed into documents is decided once, in
`core.publish.divide`, for both.

A catalog reads inside one SQLite read transaction, so every document of
one generation of the site sees the same state of the store, whatever a
writer commits meanwhile (WAL mode lets both go on).

Which articles a topic holds depends on the settings, which the cache
does not know: the catalog keeps the members of each topic in the cache
(`topic_members`) and brings them up to date before it reads, for the
records written since it last looked, or for all of them when the
topics' settings changed.
"""

from __future__ import annotations

import datetime as dt
import functools
import itertools
import sqlite3
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path

import orjson

from feedsvc.config import Config
from feedsvc.core import merge
from feedsvc.core.models import Article, Ledger, Record, TopicKey, TopicRule
from feedsvc.core.publish import FeedKey, is_edited, recorded_change, site_updated
from feedsvc.core.text import site_namespace
from feedsvc.core.topics import matches, rules_digest
from feedsvc.store import lines as codec
from feedsvc.store.cache import cache_path, connect, recorded_site
from feedsvc.store.history import History, Seal


def open_catalog(config: Config) -> "StoredCatalog | None":
    """The catalog of the site's store as it stands, or None when there is
    no cache file to ask (an unsealed version-1 ledger, or a cache that
    could only live in memory): the site is then held in memory."""
    found = _cache_file(config)
    if found is None:
        return None
    db = connect(str(found[1]))
    try:
        _pin(db, config.topics)
        return StoredCatalog(db, config)
    except sqlite3.Error:
        db.close()
        return None


def newest_lines(config: Config) -> Iterator[tuple[dict, str | None]] | None:
    """Every published article's record line, newest first, as the cache
    file holds it, with the article's IRI when the cache minted it under
    config.site_key (else None: compute it); None when there is no cache
    file up to the sealed history to read (then ask the ledger's records)."""
    found = _cache_file(config)
    if found is None:
        return None
    seal, path = found
    db = connect(str(path))
    db.execute("BEGIN")
    row = db.execute("SELECT value FROM meta WHERE name = 'lines'").fetchone()
    if row is None or int(row[0]) != seal.lines:
        db.close()
        return None
    column = "iri" if recorded_site(db)[0] == config.site_key else "NULL"
    rows = db.execute(f"SELECT line, {column} FROM records WHERE NOT withdrawn ORDER BY published DESC, seq DESC")  # noqa: S608 - a name from here
    return ((orjson.loads(line), iri) for line, iri in rows)


def _cache_file(config: Config) -> tuple[Seal, Path] | None:
    """The sealed history's seal and its cache file, when both exist."""
    history = History(config.ledger_path)
    seal = history.seal()
    path = cache_path(config.cache_folder, history)
    return (seal, path) if seal is not None and path.exists() else None


def _pin(db: sqlite3.Connection, topics: tuple[TopicRule, ...]) -> None:
    """Begin the read transaction the catalog answers from, with every
    topic's members up to date in it. A writer may commit between the
    update and the read: then the update runs again."""
    wanted = _topics_digest(topics)
    while True:
        db.execute("BEGIN")
        if _members_position(db) == (wanted, _newest_number(db)):
            return
        db.execute("ROLLBACK")
        _update_members(db, topics, wanted)


def _topics_digest(topics: tuple[TopicRule, ...]) -> str:
    return ",".join(sorted(f"{topic.slug}={rules_digest(topic)}" for topic in topics))


def _members_position(db: sqlite3.Connection) -> tuple[str, int] | None:
    row = db.execute("SELECT value FROM meta WHERE name = 'topics'").fetchone()
    return tuple(orjson.loads(row[0])) if row else None  # type: ignore[return-value]


def _newest_number(db: sqlite3.Connection) -> int:
    return db.execute("SELECT coalesce(max(number), 0) FROM records").fetchone()[0]


def _update_members(db: sqlite3.Connection, topics: tuple[TopicRule, ...], wanted: str) -> None:
    db.execute("BEGIN IMMEDIATE")
    try:
        position = _members_position(db)
        newest = _newest_number(db)
        if position != (wanted, newest):
            since = position[1] if position and position[0] == wanted else 0
            if not since:
                db.execute("DELETE FROM topic_members")
            # Streamed: only the members table is written meanwhile.
            written = db.execute("SELECT line FROM records WHERE number > ?", (since,)) if topics else ()
            for (line,) in written:
                record = codec.stored_record(line)
                db.execute("DELETE FROM topic_members WHERE id = ?", (record.id,))
                if record.withdrawn is None:
                    changed, edited = codec.stamp(recorded_change(record)), int(is_edited(record))
                    for topic in topics:
                        if matches(topic, record):
                            db.execute(
                                "INSERT OR REPLACE INTO topic_members VALUES (?, ?, ?, ?, ?)",
                                (topic.slug, record.seq, record.id, changed, edited),
                            )
            db.execute("INSERT OR REPLACE INTO meta VALUES ('topics', ?)", (orjson.dumps([wanted, newest]).decode(),))
    except BaseException:
        db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")


class StoredCatalog:
    """The articles of one state of the store, by feed and by id."""

    def __init__(self, db: sqlite3.Connection, config: Config) -> None:
        self._db = db
        self._namespace = site_namespace(config.site_key)
        self.categories: dict[str, str] = dict(db.execute("SELECT name, slug FROM categories"))
        self._names = {slug: name for name, slug in self.categories.items()}
        self._published = functools.partial(_articles, self._namespace, self.categories)
        moved = Ledger(records={r.id: r for r in self._records("SELECT line FROM records WHERE moved")}, categories=self.categories)
        self.departures = merge.departures(moved)
        withdrawn = Ledger(records={r.id: r for r in self._records("SELECT line FROM records WHERE withdrawn")}, categories=self.categories)
        self.withdrawals = merge.withdrawals(withdrawn, config.site_key, config.topics)
        created = recorded_site(db)[1]
        self._feeds: dict[FeedKey, StoredFeed] = {}
        self._counts = self._count_categories()
        everything = self.recorded(None)
        self.article_count = len(everything)
        self.updated = site_updated(everything, self.withdrawals, codec.time_of(created) if created else None)
        # Where in the store this state stands: records written after it
        # have numbers above `lines`, while the generation stays the same.
        meta = dict(db.execute("SELECT name, value FROM meta WHERE name IN ('generation', 'lines')"))
        self.position = (meta.get("generation", ""), int(meta.get("lines", 0)))
        self._path = db.execute("PRAGMA database_list").fetchone()[2]

    def _count_categories(self) -> dict[str, int]:
        """Each category's published articles, as the store keeps them
        counted: category name -> count."""
        return dict(self._db.execute("SELECT category, live FROM counts WHERE live > 0"))

    def _records(self, query: str, *parameters: object) -> list[Record]:
        return [codec.stored_record(line) for (line,) in self._db.execute(query, parameters)]

    def recorded(self, key: FeedKey) -> "StoredFeed":
        feed = self._feeds.get(key)
        if feed is None:
            category = None if key is None or isinstance(key, TopicKey) else self._names.get(key, "")
            if isinstance(key, TopicKey):
                count = None  # counted when asked
            else:
                count = sum(self._counts.values()) if key is None else self._counts.get(category, 0)
            feed = self._feeds[key] = StoredFeed(self._db, self._published, key, category, count)
        return feed

    def article(self, article_id: str) -> Article | None:
        found = self._db.execute("SELECT line FROM records WHERE id = ? AND NOT withdrawn", (article_id,)).fetchall()
        return self._published(found)[0] if found else None

    def every_article(self) -> Iterator[Article]:
        """Every published article, one at a time."""
        for row in self._db.execute("SELECT line FROM records WHERE NOT withdrawn"):
            yield from self._published([row])

    def article_digests(self, ids: Iterable[str] | None = None) -> Iterator[tuple[str, str]]:
        """(id, digest of its line) of every published article, in id
        order, or of those of `ids`."""
        if ids is None:
            yield from self._db.execute("SELECT id, digest FROM records WHERE NOT withdrawn ORDER BY id")
            return
        wanted = list(ids)
        for start in range(0, len(wanted), 500):
            chunk = wanted[start : start + 500]
            marks = ",".join("?" * len(chunk))
            yield from self._db.execute(f"SELECT id, digest FROM records WHERE id IN ({marks}) AND NOT withdrawn", chunk)  # noqa: S608

    def changed_since(self, lines: int) -> dict[str, int]:
        """The articles whose record a line after line `lines` wrote,
        withdrew or folded into another, each with its seq: every article
        whose page may differ. Every feed's articles before the lowest of
        those seqs are the same, in the same places, as at line `lines`."""
        query = "SELECT id, seq FROM records WHERE number > ? UNION ALL SELECT id, seq FROM gone WHERE number > ?"
        changed: dict[str, int] = {}
        for article, seq in self._db.execute(query, (lines, lines)):  # an id folded, then recorded anew: both seqs count
            changed[article] = min(seq, changed.get(article, seq))
        return changed

    def after_fork(self) -> None:
        """In a process forked from the one that opened this catalog: a
        SQLite connection must not be used across fork, so read through a
        connection of this process's own from now on. (Its read may see a
        later state than the parent's, if a writer committed meanwhile;
        the pages it renders then are newer, and the next build, which
        starts from the parent's position, renders them again.)"""
        self._inherited = self._db  # never closed here: it is the parent's
        self._db = connect(self._path)
        self._db.execute("BEGIN")
        self._feeds = {}
        self._counts = self._count_categories()



def _articles(namespace: uuid.UUID, categories: dict[str, str], rows: list[tuple]) -> list[Article]:
    """Articles from rows of stored lines."""
    records = (codec.stored_record(line) for (line,) in rows)
    return [merge.article_of(record, namespace, categories) for record in records]


class StoredFeed(Sequence[Article]):
    """One feed's articles in `seq` order, each stretch read when asked;
    answers what `core.publish.InSeqOrder` answers for a list."""

    def __init__(
        self,
        db: sqlite3.Connection,
        published: Callable[[list[tuple]], list[Article]],
        key: FeedKey,
        category: str | None,
        count: int | None = None,
    ) -> None:
        # Not the catalog itself: a feed that referred back to it would keep
        # the catalog, and its read transaction, alive until the cycle
        # collector ran, holding back the cache's checkpoints meanwhile.
        self._db = db
        self._published = published
        if isinstance(key, TopicKey):
            # Members are computed anew whenever their record is written; the
            # join leaves out those of a record folded into another.
            self._table = "topic_members m JOIN records r ON r.id = m.id"
            self._where, self._parameters = "m.topic = ?", (key.slug,)
            self._prefix = "m."
        else:
            self._table = "records r"
            self._where, self._parameters = "NOT r.withdrawn", ()
            if category is not None:
                self._where += " AND r.category = ?"
                self._parameters = (category,)
            self._prefix = "r."
        self._count = count  # how many articles, when the catalog counted them already
        self._ends: dict[int, int] = {}  # the first and last rank of the stretch read last, with their seq

    def _select(self, what: str, tail: str = "", *parameters: object) -> list[tuple]:
        query = f"SELECT {what} FROM {self._table} WHERE {self._where} {tail}"  # noqa: S608 - fixed fragments
        return self._db.execute(query, (*self._parameters, *parameters)).fetchall()

    def __len__(self) -> int:
        if self._count is None:
            self._count = self._select("count(*)")[0][0]
        return self._count

    def __getitem__(self, index):  # type: ignore[override]
        if not isinstance(index, slice):
            if index < 0:
                index += len(self)
            if not 0 <= index < len(self):
                raise IndexError(index)
            return self[index : index + 1][0]
        start, stop, step = index.indices(len(self))
        if step != 1 or stop <= start:
            return [] if stop <= start else [self[i] for i in range(start, stop, step)]
        return self._published(self._stretch(start, stop))

    def _stretch(self, start: int, stop: int) -> list[tuple]:
        """The lines of the articles ranked `start` to `stop`. An OFFSET
        costs SQLite as many rows as it skips, so reading every archive of a
        large feed that way would cost the square of its length; archives
        are read one after another, in either direction (the formats of one
        share a read: core.publish.Archives), so a stretch that lies next to
        the one read last is found from that one's first or last seq."""
        seq = f"{self._prefix}seq"
        if start - 1 in self._ends:
            rows = self._select(f"r.line, {seq}", f"AND {seq} > ? ORDER BY {seq} LIMIT ?", self._ends[start - 1], stop - start)
        elif stop in self._ends:
            rows = self._select(f"r.line, {seq}", f"AND {seq} < ? ORDER BY {seq} DESC LIMIT ?", self._ends[stop], stop - start)[::-1]
        else:
            rows = self._ranked(f"r.line, {seq}", start, stop)
        if rows:
            self._ends = {start: rows[0][1], start + len(rows) - 1: rows[-1][1]}  # rank -> seq
        return [(line,) for line, _ in rows]

    def _ranked(self, what: str, start: int, stop: int) -> list[tuple]:
        """Rows of the articles ranked `start` to `stop`, in `seq` order,
        counted from whichever end of the feed is nearer: an OFFSET costs
        SQLite as many rows as it skips, and builds mostly read the newest."""
        seq = f"{self._prefix}seq"
        stop = min(stop, len(self))
        if stop <= start:
            return []
        if start <= len(self) - stop:
            return self._select(what, f"ORDER BY {seq} LIMIT ? OFFSET ?", stop - start, start)
        return self._select(what, f"ORDER BY {seq} DESC LIMIT ? OFFSET ?", stop - start, len(self) - stop)[::-1]

    def digests(self, start: int, stop: int) -> Iterator[str]:
        """The digest of each article's line ranked `start` to `stop`, in
        `seq` order. Read a row at a time from the oldest end: a full
        build digests every archive of a feed, and the million digests of
        the bench corpus's whole-site feed took 140 MB at once. Near the
        newest end, where a build of a few new pages reads, they are
        counted from there (see _ranked)."""
        if len(self) - stop < start:
            return (digest for (digest,) in self._ranked("r.digest", start, stop))
        query = f"SELECT r.digest FROM {self._table} WHERE {self._where} ORDER BY {self._prefix}seq LIMIT ? OFFSET ?"  # noqa: S608
        return (digest for (digest,) in self._db.execute(query, (*self._parameters, stop - start, start)))

    def rank(self, seq: int) -> int:
        """How many of the feed's articles come before `seq` (counted from
        the newest end: `seq` is mostly a recent one)."""
        return len(self) - self._select("count(*)", f"AND {self._prefix}seq >= ?", seq)[0][0]

    def seqs(self, ranks: list[int]) -> list[int]:
        """The seq of the article at each of `ranks` (ascending), from one
        pass over the feed's seqs from the newest down to the first of
        them, a row at a time: an OFFSET per rank would cost the square of
        the feed's length."""
        if not ranks:
            return []
        seq = f"{self._prefix}seq"
        query = f"SELECT {seq} FROM {self._table} WHERE {self._where} ORDER BY {seq} DESC LIMIT ?"  # noqa: S608 - fixed fragments
        found = dict.fromkeys(ranks, 0)
        rows = self._db.execute(query, (*self._parameters, len(self) - ranks[0]))
        for rank, (value,) in zip(itertools.count(len(self) - 1, -1), rows):
            if rank in found:
                found[rank] = value
        return [found[rank] for rank in ranks]

    def newest_change(self) -> dt.datetime | None:
        newest = self._select(f"max({self._prefix}changed)")[0][0]
        return codec.time_of(newest) if newest else None

    def edited_since(self, end: int, since: dt.datetime) -> list[Article]:
        """Of the first `end` articles, those edited after publication
        whose change is at or after `since`."""
        if end <= 0:
            return []
        bound = self._ranked(f"{self._prefix}seq", end, end + 1)
        tail = f"AND {self._prefix}edited AND {self._prefix}changed >= ?"
        parameters: tuple = (codec.stamp(since),)
        if bound:
            tail += f" AND {self._prefix}seq < ?"
            parameters += (bound[0][0],)
        return self._published(self._select("r.line", tail + f" ORDER BY {self._prefix}seq", *parameters))
