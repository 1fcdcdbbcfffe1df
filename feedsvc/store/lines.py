"""What a line of the history means.

Every line is one JSON object with sorted keys. The first is the header
(`{"feedsvc_ledger":2}`); each later one states the whole current value of
one thing, and a later line about the same thing replaces an earlier one:

- `site`: the site_key that minted the ids, and the first run's time;
- `page`: a page file's name and bytes, and when they were first seen;
- `category`: a category's name and URL slug;
- `alias`: a title key and the article it belongs to;
- `split`: an operator's split rule;
- `article`: one article's record;
- `folded`: an article folded into another by `alias`, which no longer
  exists on its own.

A version-1 ledger (before the append-only history) held the same lines
after its header, sorted, with the site in the header. `dump_v1` writes
that format again, which `feedsvc ledger export` prints.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
from typing import Container, Iterable, Iterator, Mapping, NamedTuple

import orjson

from feedsvc.core.models import Ledger, Record, Split
from feedsvc.core.tables import ChangedPages, ChangedRecords, by_seq
from feedsvc.errors import LedgerError

VERSION_1 = 1
VERSION = 2
RESTORE = "restore it from version control, the file was left untouched"


def encode(line: dict) -> bytes:
    # Sorted keys, no spaces, UTF-8 text unescaped: the bytes json.dumps
    # gives with sort_keys, separators=(",", ":") and ensure_ascii=False.
    # Copied: orjson's bytes keep the buffer they were written into (16 KB
    # for a 1.4 KB line, by tracemalloc), and a run holds every line it
    # appends until the cache has them: 173 -> 70 MB peak for a first run
    # of 10,000 articles.
    return bytes(memoryview(orjson.dumps(line, option=orjson.OPT_SORT_KEYS)))


def header() -> bytes:
    return encode({"feedsvc_ledger": VERSION})


def version_of(first_line: bytes) -> int:
    """The format a history's first line announces."""
    try:
        version = orjson.loads(first_line).get("feedsvc_ledger")
    except (ValueError, AttributeError):
        version = None
    if version not in (VERSION_1, VERSION):
        raise LedgerError(
            f"not a feedsvc ledger of version {VERSION} (header says {version!r}); "
            "it may come from a newer feedsvc, so upgrade rather than overwrite it"
        )
    return version


# One thing per line


def site_line(ledger: Ledger) -> dict:
    line: dict = {"kind": "site", "site_key": ledger.site_key}
    if ledger.created is not None:
        line["created"] = stamp(ledger.created)
    return line


def page_line(name: str, sha256: str, seen: dt.datetime) -> dict:
    return {"kind": "page", "name": name, "sha256": sha256, "first_seen": stamp(seen)}


def category_line(name: str, slug: str) -> dict:
    return {"kind": "category", "name": name, "slug": slug}


def alias_line(key: str, article: str) -> dict:
    return {"kind": "alias", "key": key, "id": article}


def split_line(s: Split) -> dict:
    return {"kind": "split", "id": s.id, "since": stamp(s.since), "new_id": s.new_id, "page": s.page}


def record_line(r: Record) -> dict:
    line = {
        "kind": "article",
        "id": r.id,
        "seq": r.seq,
        "key": r.key,
        "title": r.title,
        "summary": r.summary,
        "category": r.category,
        "category_source": r.category_source,
        "page_category": r.page_category,
        "published": stamp(r.published),
        "date_source": r.date_source,
        "page_date": r.page_date.isoformat() if r.page_date else None,
        "first_seen": stamp(r.first_seen),
        "updated": stamp(r.updated),
        "content_seen": stamp(r.content_seen),
        "content_hash": r.content_hash,
        "pages": list(r.pages),
        "withdrawn": stamp(r.withdrawn) if r.withdrawn else None,
        "note": r.note,
    }
    if r.link is not None:  # absent, not null: ledgers without links keep their bytes
        line["link"] = r.link
        line["link_seen"] = stamp(r.link_seen) if r.link_seen else None
    if r.departures:
        line["departures"] = [[category, stamp(when)] for category, when in r.departures]
    if r.arrivals:
        line["arrivals"] = [[category, stamp(when)] for category, when in r.arrivals]
    return line


def stored_record(text: str | bytes) -> Record:
    """The record an article line holds, as the cache stores the line."""
    return record_of(orjson.loads(text))


def record_of(line: dict) -> Record:
    return Record(
        id=line["id"],
        seq=int(line["seq"]),
        key=line["key"],
        title=line["title"],
        summary=line["summary"],
        category=line["category"],
        category_source=line["category_source"],
        page_category=line["page_category"],
        published=time_of(line["published"]),
        date_source=line["date_source"],
        page_date=dt.date.fromisoformat(line["page_date"]) if line["page_date"] else None,
        first_seen=time_of(line["first_seen"]),
        updated=time_of(line["updated"]),
        content_seen=time_of(line["content_seen"]),
        content_hash=line["content_hash"],
        pages=tuple(line["pages"]),
        withdrawn=time_of(line["withdrawn"]) if line["withdrawn"] else None,
        note=line.get("note"),
        departures=tuple((category, time_of(when)) for category, when in line.get("departures", ())),
        arrivals=tuple((category, time_of(when)) for category, when in line.get("arrivals", ())),
        link=line.get("link"),
        link_seen=time_of(line["link_seen"]) if line.get("link_seen") else None,
    )


def split_of(line: dict) -> Split:
    return Split(line["id"], time_of(line["since"]), line["new_id"], line.get("page"))


# A run's changes, as lines to append


class Entry(NamedTuple):
    """A line a writer appends, with what it means as `decode` reads it back:
    the cache takes in the writer's own lines without parsing them again."""

    kind: str
    value: object
    raw: bytes


def header_entry() -> Entry:
    return Entry("header", VERSION, header())


def change_lines(before: Ledger, after: Ledger) -> Iterator[Entry]:
    """The lines that take the history from `before` to `after`: only what
    a run added or changed, each made when it is asked for (a first run of
    a large site has a million of them)."""
    if (after.site_key, after.created) != (before.site_key, before.created):
        line = site_line(after)
        yield Entry("site", [after.site_key, line.get("created")], encode(line))
    for (name, sha), seen in sorted(_new_pages(before.pages, after.pages).items()):
        yield Entry("page", ((name, sha), seen), encode(page_line(name, sha, seen)))
    for name, slug in sorted(_new_items(before.categories, after.categories).items(), key=lambda kv: kv[1]):
        yield Entry("category", (name, slug), encode(category_line(name, slug)))
    for key, article in sorted(_new_items(before.aliases, after.aliases).items()):
        yield Entry("alias", (key, article), encode(alias_line(key, article)))
    known_splits = set(before.splits)
    for s in after.splits:
        if s not in known_splits:
            yield Entry("split", s, encode(split_line(s)))
    changed, removed = _record_changes(before.records, after.records)
    for article in sorted(removed):
        yield Entry("folded", article, encode({"kind": "folded", "id": article, "into": after.aliases.get(before.records[article].key)}))
    for record, new in changed:
        # A record the overlay knows the table lacks is new: no need to
        # look up what it was.
        if new or before.records.get(record.id) != record:
            yield Entry("article", record, encode(record_line(record)))


def _new_items(before, after) -> dict:
    return {key: value for key, value in after.items() if before.get(key) != value}


def _new_pages(before, after) -> Mapping:
    """The pages a run added: read off the overlay it left over the stored
    table, and only compared item by item for tables built some other way."""
    if after is before:
        return {}
    if isinstance(after, ChangedPages) and after.base is before:
        return after.changes
    return _new_items(before, after)


def _record_changes(before, after) -> tuple[Iterable[tuple[Record, bool]], set]:
    """The changed records by (seq, id), each with whether it is known to
    be new, and the ids removed, read as _new_pages reads the pages."""
    if after is before:
        return (), set()
    if isinstance(after, ChangedRecords) and after.base is before:
        return after.changes_in_seq_order(), set(after.removed)
    changed = sorted(_new_items(before, after).values(), key=by_seq)
    return ((record, False) for record in changed), {key for key in before if key not in after}


def state_lines(ledger: Ledger) -> list[bytes]:
    """The whole state as history lines, one per thing, after the header."""
    return [header(), encode(site_line(ledger)), *_body(ledger)]


def _body(ledger: Ledger) -> list[bytes]:
    lines = [page_line(name, sha, seen) for (name, sha), seen in sorted(ledger.pages.items())]
    lines += [category_line(name, slug) for name, slug in sorted(ledger.categories.items(), key=lambda kv: kv[1])]
    lines += [alias_line(key, article) for key, article in sorted(ledger.aliases.items())]
    lines += [split_line(s) for s in sorted(ledger.splits, key=lambda s: (s.since, s.id))]
    lines += [record_line(record) for record in ledger.records.in_seq_order()]
    return [encode(line) for line in lines]


# Reading lines back


def replay(lines: Iterable[tuple[int, bytes]], source: str) -> Ledger:
    """The state a history's lines (numbered) leave, built in memory."""
    state = State()
    for number, raw in lines:
        state.apply(number, raw, source)
    return state.ledger(source)


def decode(number: int, raw: bytes, source: str) -> tuple[str, object]:
    """(kind, value) for one line: ("article", Record),
    ("page", ((name, sha256), first seen)), ("category", (name, slug)),
    ("alias", (key, id)), ("split", Split), ("folded", id),
    ("site", [site_key, created]) or ("header", version)."""
    with line_errors(source, number):
        line = orjson.loads(raw)
        if not isinstance(line, dict):
            raise ValueError("not a JSON object")
        if number == 1:
            version = version_of(raw)
            # A version-1 header also names the site.
            return ("site", [line.get("site_key"), line.get("created")]) if version == VERSION_1 else ("header", version)
        kind = line["kind"]
        if kind == "article":
            return kind, record_of(line)
        if kind == "page":
            return kind, ((line["name"], line["sha256"]), time_of(line["first_seen"]))
        if kind == "category":
            return kind, (line["name"], line["slug"])
        if kind == "alias":
            return kind, (line["key"], line["id"])
        if kind == "split":
            return kind, split_of(line)
        if kind == "folded":
            return kind, line["id"]
        if kind == "site":
            if line.get("created"):
                time_of(line["created"])
            return kind, [line.get("site_key"), line.get("created")]
        raise ValueError(f"unknown kind {kind!r}")


class State:
    """The tables a history's lines build, line by line."""

    def __init__(self) -> None:
        self.pages: dict = {}
        self.records: dict[str, Record] = {}
        self.categories: dict[str, str] = {}
        self.aliases: dict[str, str] = {}
        self.splits: list[Split] = []
        self.site_key: str | None = None
        self.created: dt.datetime | None = None

    def apply(self, number: int, raw: bytes, source: str) -> None:
        kind, value = decode(number, raw, source)
        if kind == "article":
            record = value
            check_category(record, self.categories, source, number)
            self.records[record.id] = record
        elif kind == "page":
            self.pages[value[0]] = value[1]
        elif kind == "category":
            self.categories[value[0]] = value[1]
        elif kind == "alias":
            self.aliases[value[0]] = value[1]
        elif kind == "split":
            self.splits.append(value)
        elif kind == "folded":
            self.records.pop(value, None)
        elif kind == "site":
            self.site_key, created = value
            self.created = time_of(created) if created else None

    def ledger(self, source: str) -> Ledger:
        return Ledger(
            pages=self.pages,
            records=self.records,
            categories=self.categories,
            aliases=self.aliases,
            splits=tuple(self.splits),
            site_key=self.site_key,
            created=self.created,
        )


def check_category(record: Record, categories: Container[str], source: str, number: int) -> None:
    """An article names a category whose slug line came before it."""
    if record.category not in categories:
        raise LedgerError(f"{source}: line {number}: article {record.id} names category {record.category!r}, which has no slug line; {RESTORE}")


@contextlib.contextmanager
def line_errors(source: str, number: int) -> Iterator[None]:
    """Turns a malformed line into a LedgerError naming the file and line."""
    try:
        yield
    except LedgerError as error:
        raise LedgerError(f"{source}: line {number}: {error}") from None
    except (ValueError, KeyError, TypeError, AttributeError) as error:
        reason = f"missing field {error}" if isinstance(error, KeyError) else str(error)
        raise LedgerError(f"{source}: line {number}: not a valid ledger entry ({reason}); {RESTORE}") from None


def numbered(data: bytes) -> Iterator[tuple[int, bytes]]:
    """The lines of a whole file, numbered from 1, without the final empty one."""
    if not data:
        return
    body = data[:-1] if data.endswith(b"\n") else data
    yield from enumerate(body.split(b"\n"), start=1)


# Version 1: one sorted file, rewritten whole


def parse_v1(data: bytes, source: str) -> Ledger:
    """A version-1 ledger file."""
    if data and not data.split(b"\n", 1)[0].strip():
        raise LedgerError(f"{source}: line 1: empty ledger header")
    return replay(numbered(data), source)


def dump_v1(ledger: Ledger) -> bytes:
    """The state as a version-1 ledger: header, then one sorted line per thing."""
    head: dict = {"feedsvc_ledger": VERSION_1}
    if ledger.site_key is not None:
        head["site_key"] = ledger.site_key
    if ledger.created is not None:
        head["created"] = stamp(ledger.created)
    return b"\n".join([encode(head), *_body(ledger), b""])


@functools.lru_cache(maxsize=4096)  # records share most of their timestamps
def stamp(moment: dt.datetime) -> str:
    """A moment as the ledger and the CLI write it: UTC, to the second."""
    return moment.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


@functools.lru_cache(maxsize=4096)  # records share most of their timestamps
def time_of(text: str) -> dt.datetime:
    moment = dt.datetime.fromisoformat(text)
    if moment.tzinfo is None:
        raise ValueError(f"timestamp {text!r} has no time zone")
    return moment.astimezone(dt.timezone.utc)
