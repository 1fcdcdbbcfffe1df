"""The merge's scratch store (core.scratch) in a private temporary SQLite
database. Its cards and records cost a bounded page cache in memory;
SQLite keeps the rest in a file of its temporary directory (TMPDIR, or
SQLITE_TMPDIR), about 2.5 KB an article, which it deletes when the merge's
result is let go. The file is unlinked as soon as it is opened, so a
killed process leaves nothing behind.

Cards and records are pickled, so they come back equal to what went in.
"""

from __future__ import annotations

import datetime as dt
import itertools
import operator
import pickle
import sqlite3
from typing import Iterable, Iterator

from feedsvc.core.models import RawItem, Record
from feedsvc.core.scratch import Card, Scratch

UTC = dt.timezone.utc
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = dt.timedelta(microseconds=1)

_SCHEMA = """
CREATE TABLE cards (article TEXT NOT NULL, page INTEGER NOT NULL, position INTEGER NOT NULL, card BLOB NOT NULL);
CREATE TABLE pages (page INTEGER PRIMARY KEY, rank INTEGER NOT NULL);
CREATE TABLE known (article TEXT PRIMARY KEY);
CREATE TABLE created (
    id TEXT PRIMARY KEY, rank INTEGER NOT NULL, published INTEGER NOT NULL, untimed_day INTEGER,
    seq INTEGER NOT NULL DEFAULT 0, record BLOB NOT NULL
);
CREATE TABLE numbered (id TEXT PRIMARY KEY, seq INTEGER NOT NULL);
"""
# SQLite's page cache and sorter memory, in KiB: enough to sort a large
# first run's cards in few passes, small beside what holding them costs.
_CACHE_KIB = 32 * 1024
_BATCH = 1000
# What the numbering and spacing of new records change, by field position.
_SEQ, _PUBLISHED, _UPDATED = (Record.__slots__.index(name) for name in ("seq", "published", "updated"))


# Cards and records are stored as the tuple of their fields, which pickles
# and comes back in a quarter of the time a dataclass with slots takes.
_card_fields = operator.attrgetter(*RawItem.__slots__)
_record_fields = operator.attrgetter(*Record.__slots__)


def _dumps(fields: tuple) -> bytes:
    return pickle.dumps(fields, pickle.HIGHEST_PROTOCOL)


def _card(blob: bytes) -> tuple[RawItem, str]:
    *fields, key = pickle.loads(blob)
    return RawItem(*fields), key


def _micros(moment: dt.datetime) -> int:
    return (moment - _EPOCH) // _MICROSECOND


def _moment(micros: int) -> dt.datetime:
    return _EPOCH + micros * _MICROSECOND


class TemporaryScratch(Scratch):
    """One merge's cards, by the article they belong to, and the new records
    it makes of them, in a database of their own."""

    def __init__(self) -> None:
        # "": a private database in a temporary file, deleted on close.
        self._db = sqlite3.connect("", isolation_level=None)
        self._db.executescript(f"PRAGMA page_size = 65536; PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF; PRAGMA cache_size = -{_CACHE_KIB};")
        self._db.executescript(_SCHEMA)
        # One transaction for the scratch's whole life: nothing in it is
        # ever to be kept, and a commit per row would cost 100 us each.
        self._db.execute("BEGIN")

    # Cards

    def add_cards(self, page: int, cards: list[tuple[str, RawItem, str]]) -> None:
        rows = [(article, page, item.position, _dumps((*_card_fields(item), key))) for article, item, key in cards]
        self._db.executemany("INSERT INTO cards VALUES (?, ?, ?, ?)", rows)

    def rank_pages(self, ranks: list[int]) -> None:
        self._db.executemany("INSERT INTO pages VALUES (?, ?)", enumerate(ranks))
        self._db.execute("CREATE INDEX cards_by_article ON cards (article)")

    def articles(self) -> Iterator[str]:
        rows = self._db.execute("SELECT article FROM cards GROUP BY article ORDER BY min(rowid)")
        return (article for (article,) in rows)

    def cards_of(self, article: str) -> list[Card]:
        rows = self._db.execute(
            "SELECT c.page, c.card FROM cards c JOIN pages p USING (page) WHERE c.article = ? ORDER BY p.rank, c.position", (article,)
        ).fetchall()
        return [(page, *_card(blob)) for page, blob in rows]

    def mark_known(self, articles: Iterable[str]) -> None:
        self._db.executemany("INSERT OR IGNORE INTO known VALUES (?)", ((article,) for article in articles))

    def new_articles(self) -> Iterator[tuple[str, list[Card]]]:
        # Only the cards' row numbers go through the sort: their bytes are
        # then read in order, a batch at a time.
        in_order = self._db.execute(
            """
            WITH listed AS (
                -- By page rank, then position: a rank step is more than any position.
                SELECT c.rowid AS card, c.article, p.rank * (SELECT max(position) + 1 FROM cards) + c.position AS place
                FROM cards c JOIN pages p USING (page) WHERE c.article NOT IN known
            )
            SELECT card FROM listed JOIN (SELECT article, min(place) AS first FROM listed GROUP BY article) USING (article)
            ORDER BY first, place
            """
        )
        for article, group in itertools.groupby(self._cards_by_rowid(in_order), key=lambda row: row[0]):
            yield article, [(page, *_card(blob)) for _, page, blob in group]

    def _cards_by_rowid(self, rowids: sqlite3.Cursor) -> Iterator[tuple[str, int, bytes]]:
        while batch := [rowid for (rowid,) in rowids.fetchmany(_BATCH)]:
            marks = ", ".join("?" * len(batch))
            found = {row[0]: row[1:] for row in self._db.execute(f"SELECT rowid, article, page, card FROM cards WHERE rowid IN ({marks})", batch)}
            yield from (found[rowid] for rowid in batch)

    def records_made(self) -> None:
        # The cards' space goes to the records, and a day's records are
        # found without a scan.
        self._db.execute("DROP TABLE cards")
        self._db.execute("CREATE INDEX created_by_day ON created (untimed_day, rank)")

    # New records

    def add_record(self, record: Record, rank: int, untimed_day: dt.date | None) -> None:
        self._db.execute(
            "INSERT INTO created (id, rank, published, untimed_day, record) VALUES (?, ?, ?, ?, ?)",
            (record.id, rank, _micros(record.published), untimed_day and untimed_day.toordinal(), _dumps(_record_fields(record))),
        )

    def untimed_days(self) -> list[dt.date]:
        rows = self._db.execute("SELECT DISTINCT untimed_day FROM created WHERE untimed_day IS NOT NULL ORDER BY untimed_day")
        return [dt.date.fromordinal(day) for (day,) in rows]

    def untimed_on(self, day: dt.date) -> list[str]:
        rows = self._db.execute("SELECT id FROM created WHERE untimed_day = ? ORDER BY rank DESC", (day.toordinal(),))
        return [article for (article,) in rows]

    def publish_at(self, moments: Iterable[tuple[str, dt.datetime]]) -> None:
        rows = ((_micros(moment), article) for article, moment in moments)
        self._db.executemany("UPDATE created SET published = ? WHERE id = ?", rows)

    def number(self, first_seq: int) -> None:
        self._db.execute(
            "INSERT INTO numbered SELECT id, ? + row_number() OVER (ORDER BY published, rank DESC, id) - 1 FROM created", (first_seq,)
        )
        # Not UPDATE ... FROM, which SQLite only has since 3.33.
        self._db.execute("UPDATE created SET seq = (SELECT seq FROM numbered WHERE numbered.id = created.id)")
        self._db.execute("CREATE INDEX created_by_seq ON created (seq)")
        self._db.execute("CREATE INDEX created_by_published ON created (published)")

    def _record(self, row: tuple[bytes, int, int]) -> Record:
        blob, seq, published = row
        fields, moment = list(pickle.loads(blob)), _moment(published)
        # A new record's updated time is its published time.
        fields[_SEQ], fields[_PUBLISHED], fields[_UPDATED] = seq, moment, moment
        return Record(*fields)

    def get(self, article: str) -> Record | None:
        row = self._db.execute("SELECT record, seq, published FROM created WHERE id = ?", (article,)).fetchone()
        return self._record(row) if row else None

    def holds(self, article: str) -> bool:
        return self._db.execute("SELECT 1 FROM created WHERE id = ?", (article,)).fetchone() is not None

    def ids(self) -> Iterator[str]:
        return (article for (article,) in self._db.execute("SELECT id FROM created ORDER BY id"))

    def max_seq(self) -> int:
        return self._db.execute("SELECT coalesce(max(seq), 0) FROM created").fetchone()[0]

    def latest_published(self, start: dt.datetime, end: dt.datetime) -> dt.datetime | None:
        row = self._db.execute("SELECT max(published) FROM created WHERE published >= ? AND published < ?", (_micros(start), _micros(end)))
        latest = row.fetchone()[0]
        return None if latest is None else _moment(latest)

    def in_seq_order(self) -> Iterator[Record]:
        cursor = self._db.execute("SELECT record, seq, published FROM created ORDER BY seq")
        while rows := cursor.fetchmany(_BATCH):
            yield from map(self._record, rows)
