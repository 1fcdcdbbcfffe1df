"""The ledger's big tables as the SQLite cache answers them: articles
and pages looked up by key, one query each, never loaded whole to find
one (store.cache keeps the tables up to date with the history)."""

from __future__ import annotations

import datetime as dt
import sqlite3
from typing import Iterator

from feedsvc.core.models import Record
from feedsvc.core.tables import PageKey, Pages, Records
from feedsvc.store import lines as codec


class StoredRecords(Records):
    """Articles by id, from the cache. A snapshot's records cannot change
    under it, so the whole table, once read, is kept: the site model asks
    for it several times (articles, withdrawals, moves, topics)."""

    def __init__(self, db: sqlite3.Connection, snapshot: bool = False) -> None:
        self._db = db
        self._snapshot = snapshot
        self._all: list[Record] | None = None

    def __getitem__(self, article: str) -> Record:
        row = self._db.execute("SELECT line FROM records WHERE id = ?", (article,)).fetchone()
        if row is None:
            raise KeyError(article)
        return codec.stored_record(row[0])

    def __contains__(self, article: object) -> bool:
        return self._db.execute("SELECT 1 FROM records WHERE id = ?", (article,)).fetchone() is not None

    def __iter__(self) -> Iterator[str]:
        return (article for (article,) in self._db.execute("SELECT id FROM records ORDER BY seq").fetchall())

    def __len__(self) -> int:
        return self._db.execute("SELECT count(*) FROM records").fetchone()[0]

    def values(self) -> list[Record]:  # type: ignore[override] - one query, not one per id
        if self._all is not None:
            return self._all
        found = list(self._stream("ORDER BY seq"))
        if self._snapshot:
            self._all = found
        return found

    def items(self) -> list[tuple[str, Record]]:  # type: ignore[override]
        return [(record.id, record) for record in self.values()]

    def in_seq_order(self) -> Iterator[Record]:
        return iter(self._all) if self._all is not None else self._stream("ORDER BY seq")

    def newest_first(self) -> Iterator[Record]:
        # tables.recency, descending: read straight off the index on
        # (published, seq), with nothing left to sort.
        return self._stream("ORDER BY published DESC, seq DESC")

    def _stream(self, order: str) -> Iterator[Record]:
        """The records one at a time, as the cursor reads them: a caller
        that goes through them once holds one at a time."""
        for (line,) in self._db.execute(f"SELECT line FROM records {order}"):  # noqa: S608 - order from this class
            yield codec.stored_record(line)

    def max_seq(self) -> int:
        return self._db.execute("SELECT coalesce(max(seq), 0) FROM records").fetchone()[0]

    def any_published(self, besides: frozenset[str] = frozenset()) -> bool:
        # One more than `besides` holds: at least one of them is another.
        rows = self._db.execute("SELECT id FROM records WHERE NOT withdrawn LIMIT ?", (len(besides) + 1,))
        return any(article not in besides for (article,) in rows)

    def latest_published(self, start: dt.datetime, end: dt.datetime) -> dt.datetime | None:
        row = self._db.execute(
            "SELECT max(published) FROM records WHERE published >= ? AND published < ?", (codec.stamp(start), codec.stamp(end))
        ).fetchone()
        return codec.time_of(row[0]) if row[0] else None


class StoredPages(Pages):
    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db

    def __getitem__(self, key: PageKey) -> dt.datetime:
        row = self._db.execute("SELECT first_seen FROM pages WHERE name = ? AND sha256 = ?", key).fetchone()
        if row is None:
            raise KeyError(key)
        return codec.time_of(row[0])

    def __contains__(self, key: object) -> bool:
        return self._db.execute("SELECT 1 FROM pages WHERE name = ? AND sha256 = ?", key).fetchone() is not None  # type: ignore[arg-type]

    def __iter__(self) -> Iterator[PageKey]:
        return iter(self._db.execute("SELECT name, sha256 FROM pages ORDER BY name, sha256").fetchall())

    def __len__(self) -> int:
        return self._db.execute("SELECT count(*) FROM pages").fetchone()[0]

    def items(self) -> list[tuple[PageKey, dt.datetime]]:  # type: ignore[override]
        rows = self._db.execute("SELECT name, sha256, first_seen FROM pages ORDER BY name, sha256")
        return [((name, sha), codec.time_of(seen)) for name, sha, seen in rows]

    def values(self) -> list[dt.datetime]:  # type: ignore[override]
        return [seen for _, seen in self.items()]

    def content_seen(self, sha256: str) -> dt.datetime | None:
        row = self._db.execute("SELECT min(first_seen) FROM pages WHERE sha256 = ?", (sha256,)).fetchone()
        return codec.time_of(row[0]) if row[0] else None

    def newest(self) -> dt.datetime | None:
        row = self._db.execute("SELECT max(first_seen) FROM pages").fetchone()
        return codec.time_of(row[0]) if row[0] else None
