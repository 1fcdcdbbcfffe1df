"""The ledger's tables as mappings that answer by key.

A run looks up the few articles and pages its new cards touch; it never
needs the whole ledger in memory. These classes are the questions the
rules ask of a table, answered here from dicts (tests, a version-1 file,
a history read without its cache) and by store.cache from SQLite, and
an overlay that records a run's changes over a table without copying it.
"""

from __future__ import annotations

import datetime as dt
import heapq
from typing import TYPE_CHECKING, Iterable, Iterator, Mapping, MutableMapping

if TYPE_CHECKING:  # models builds its Ledger from these tables
    from feedsvc.core.models import Record
    from feedsvc.core.scratch import Scratch

PageKey = tuple[str, str]  # (file name, sha256 of its bytes)


def by_seq(record: "Record") -> tuple[int, str]:
    """The order records are written to the history in."""
    return record.seq, record.id


def recency(item: "Record") -> tuple[dt.datetime, int]:
    """What "newest first" sorts by, descending: an article's published
    time, then its recording number (records and articles alike)."""
    return item.published, item.seq


class Records(Mapping[str, "Record"]):
    """Articles by id."""

    def __init__(self, by_id: Mapping[str, "Record"] | None = None) -> None:
        self._by_id = dict(by_id or {})

    def __getitem__(self, article: str) -> "Record":
        return self._by_id[article]

    def __contains__(self, article: object) -> bool:
        return article in self._by_id

    def __iter__(self) -> Iterator[str]:
        return iter(self._by_id)

    def __len__(self) -> int:
        return len(self._by_id)

    def max_seq(self) -> int:
        """The highest recording number in use (0: none)."""
        return max((record.seq for record in self.values()), default=0)

    def any_published(self, besides: frozenset[str] = frozenset()) -> bool:
        """Whether an article other than those of `besides` is not withdrawn."""
        return any(record.withdrawn is None for article, record in self.items() if article not in besides)

    def latest_published(self, start: dt.datetime, end: dt.datetime) -> dt.datetime | None:
        """The latest publication time in [start, end), if any."""
        return max((r.published for r in self.values() if start <= r.published < end), default=None)

    def in_seq_order(self) -> Iterable["Record"]:
        return sorted(self.values(), key=lambda record: record.seq)

    def newest_first(self) -> Iterable["Record"]:
        """Every record by `recency`, descending."""
        return sorted(self.values(), key=recency, reverse=True)

    def changed(self) -> "ChangedRecords":
        return ChangedRecords(self)


class Changes(MutableMapping[str, "Record"]):
    """A run's new and changed records: those changed one by one in a dict,
    over the new records merges made in bulk and keep outside memory
    (core.scratch). The bulk stores are read-only and hold different ids;
    a record set here hides its bulk copy, and a deleted one is dropped."""

    def __init__(self) -> None:
        self.recent: dict[str, "Record"] = {}
        self.bulk: tuple["Scratch", ...] = ()
        self.dropped: set[str] = set()

    def adopt(self, store: "Scratch") -> None:
        self.bulk += (store,)

    def in_bulk(self, article: str) -> bool:
        """Whether a merge made this record in bulk: it is new."""
        return article not in self.dropped and any(store.holds(article) for store in self.bulk)

    def __getitem__(self, article: str) -> "Record":
        if article in self.recent:
            return self.recent[article]
        if article not in self.dropped:
            for store in self.bulk:
                if (record := store.get(article)) is not None:
                    return record
        raise KeyError(article)

    def __contains__(self, article: object) -> bool:
        return article in self.recent or (isinstance(article, str) and self.in_bulk(article))

    def __setitem__(self, article: str, record: "Record") -> None:
        self.recent[article] = record
        self.dropped.discard(article)

    def __delitem__(self, article: str) -> None:
        if article not in self:
            raise KeyError(article)
        self.recent.pop(article, None)
        if self.in_bulk(article):
            self.dropped.add(article)

    def _shown_in_bulk(self, article: str) -> bool:
        """Whether a bulk store's copy of this record is the one that counts."""
        return article not in self.recent and article not in self.dropped

    def _bulk_ids(self) -> Iterator[str]:
        for store in self.bulk:
            yield from filter(self._shown_in_bulk, store.ids())

    def __iter__(self) -> Iterator[str]:
        yield from self.recent
        yield from self._bulk_ids()

    def __len__(self) -> int:
        return len(self.recent) + sum(1 for _ in self._bulk_ids())

    def in_seq_order(self) -> Iterator[tuple["Record", bool]]:
        """Every record by (seq, id), without holding the bulk ones, and
        whether it was made in bulk (then it is new)."""
        recent = ((record, False) for record in sorted(self.recent.values(), key=by_seq))
        in_bulk = (
            ((record, True) for record in store.in_seq_order() if self._shown_in_bulk(record.id))
            for store in self.bulk
        )
        return heapq.merge(recent, *in_bulk, key=lambda pair: by_seq(pair[0]))

    def max_seq(self) -> int:
        return max([0, *(record.seq for record in self.recent.values()), *(store.max_seq() for store in self.bulk)])

    def latest_published(self, start: dt.datetime, end: dt.datetime) -> dt.datetime | None:
        found = [r.published for r in self.recent.values() if start <= r.published < end]
        found += [store.latest_published(start, end) for store in self.bulk]
        return max((moment for moment in found if moment is not None), default=None)

    def copy(self) -> "Changes":
        copy = Changes()
        copy.recent, copy.bulk, copy.dropped = dict(self.recent), self.bulk, set(self.dropped)
        return copy


class ChangedRecords(Records, MutableMapping[str, "Record"]):
    """A run's new and changed records over a table it leaves untouched."""

    def __init__(self, base: Records) -> None:
        self.base = base
        self.changes = Changes()
        self.removed: set[str] = set()
        # Ids the base was asked for and does not hold: the base never
        # changes under the overlay, so a record set under one is new.
        self._absent: set[str] = set()

    def __getitem__(self, article: str) -> "Record":
        record = self.find(article)
        if record is None:
            if article not in self.removed:
                self._absent.add(article)
            raise KeyError(article)
        return record

    def find(self, article: str) -> "Record | None":
        """The record, if there is one, without remembering that there is
        none: a first run asks about every article it then makes in bulk,
        which are known new anyway."""
        if article in self.changes:
            return self.changes[article]
        if article in self.removed or article in self._absent:
            return None
        return self.base.get(article)

    def __contains__(self, article: object) -> bool:
        if article in self.changes:
            return True
        if article in self.removed or article in self._absent:
            return False
        if article in self.base:
            return True
        self._absent.add(article)  # type: ignore[arg-type]
        return False

    def changes_in_seq_order(self) -> Iterator[tuple["Record", bool]]:
        """Every changed record by (seq, id), and whether the base is known
        not to hold it (then there is nothing to compare it with)."""
        for record, made in self.changes.in_seq_order():
            yield record, made or record.id in self._absent

    def __setitem__(self, article: str, record: "Record") -> None:
        self.changes[article] = record
        self.removed.discard(article)

    def __delitem__(self, article: str) -> None:
        if article not in self:
            raise KeyError(article)
        self.changes.pop(article, None)
        if article in self.base:
            self.removed.add(article)

    def __iter__(self) -> Iterator[str]:
        hidden = self._hidden()
        yield from (article for article in self.base if article not in hidden)
        yield from self.changes

    def _hidden(self) -> set[str]:
        """The base's ids that the overlay changed or removed, asked once
        for a pass over the whole base rather than once per record."""
        return set(self.changes) | self.removed

    def __len__(self) -> int:
        # Records made in bulk are new: only the others are looked up.
        added = sum(1 for article in self.changes.recent if article not in self.base) + len(self.changes) - len(self.changes.recent)
        return len(self.base) - len(self.removed) + added

    def max_seq(self) -> int:
        return max(self.base.max_seq(), self.changes.max_seq())

    def any_published(self, besides: frozenset[str] = frozenset()) -> bool:
        if any(record.withdrawn is None for article, record in self.changes.items() if article not in besides):
            return True
        return self.base.any_published(besides | self.changes.keys() | self.removed)

    def latest_published(self, start: dt.datetime, end: dt.datetime) -> dt.datetime | None:
        # The base's answer may come from a record changed since; published
        # only ever moves by an operator's edit, so checking changes is enough
        # for the question asked (the latest time of a date).
        found = [self.base.latest_published(start, end), self.changes.latest_published(start, end)]
        return max((moment for moment in found if moment is not None), default=None)

    def newest_first(self) -> Iterator["Record"]:
        """The base's records in its order, with the changes merged in."""
        hidden = self._hidden()
        kept = (record for record in self.base.newest_first() if record.id not in hidden)
        changed = sorted(self.changes.values(), key=recency, reverse=True)
        return heapq.merge(kept, changed, key=recency, reverse=True)

    def changed(self) -> "ChangedRecords":
        """A copy to change further, over the same base: however many steps
        a run takes, its changes stay one overlay on the stored table."""
        copy = ChangedRecords(self.base)
        copy.changes, copy.removed, copy._absent = self.changes.copy(), set(self.removed), set(self._absent)
        return copy


class Pages(Mapping[PageKey, dt.datetime]):
    """When each page file (name and bytes) was first seen."""

    def __init__(self, seen: Mapping[PageKey, dt.datetime] | None = None) -> None:
        self._seen = dict(seen or {})

    def __getitem__(self, key: PageKey) -> dt.datetime:
        return self._seen[key]

    def __contains__(self, key: object) -> bool:
        return key in self._seen

    def __iter__(self) -> Iterator[PageKey]:
        return iter(self._seen)

    def __len__(self) -> int:
        return len(self._seen)

    def content_seen(self, sha256: str) -> dt.datetime | None:
        """When these bytes were first seen under any name: a renamed or
        restored copy of an older file is as old as its bytes."""
        return min((seen for (_, sha), seen in self.items() if sha == sha256), default=None)

    def newest(self) -> dt.datetime | None:
        return max(self.values(), default=None)

    def changed(self) -> "ChangedPages":
        return ChangedPages(self)


class ChangedPages(Pages, MutableMapping[PageKey, dt.datetime]):
    """A run's newly seen pages over a table it leaves untouched."""

    removed: frozenset[PageKey] = frozenset()  # a page once seen is never forgotten

    def __init__(self, base: Pages) -> None:
        self.base = base
        self.changes: dict[PageKey, dt.datetime] = {}
        self._earliest: dict[str, dt.datetime] = {}  # sha256 -> first seen among the changes

    def __getitem__(self, key: PageKey) -> dt.datetime:
        return self.changes[key] if key in self.changes else self.base[key]

    def __contains__(self, key: object) -> bool:
        return key in self.changes or key in self.base

    def __setitem__(self, key: PageKey, seen: dt.datetime) -> None:
        self.changes[key] = seen
        sha = key[1]
        self._earliest[sha] = min(seen, self._earliest.get(sha, seen))

    def __delitem__(self, key: PageKey) -> None:
        raise TypeError("a page once seen is never forgotten")

    def __iter__(self) -> Iterator[PageKey]:
        yield from (key for key in self.base if key not in self.changes)
        yield from self.changes

    def __len__(self) -> int:
        return len(self.base) + sum(1 for key in self.changes if key not in self.base)

    def content_seen(self, sha256: str) -> dt.datetime | None:
        found = [self.base.content_seen(sha256), self._earliest.get(sha256)]
        return min((seen for seen in found if seen is not None), default=None)

    def newest(self) -> dt.datetime | None:
        return max([seen for seen in (self.base.newest(), *self.changes.values()) if seen is not None], default=None)

    def changed(self) -> "ChangedPages":
        copy = ChangedPages(self.base)
        for key, seen in self.changes.items():
            copy[key] = seen
        return copy
