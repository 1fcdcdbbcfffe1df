"""The ledger on disk: a sorted JSON-lines file that remembers every article
and page ever seen. Reads are lock-free (the file is only ever replaced
whole); read-merge-write cycles hold a file lock so concurrent processes
lose nothing and agree on first-seen times."""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
from pathlib import Path
from typing import Iterator

import orjson
from filelock import FileLock, Timeout

from feedsvc import collector
from feedsvc.errors import LedgerError
from feedsvc.store.files import atomic_write
from feedsvc.core.models import Ledger, Record, Split

VERSION = 1
LOCK_TIMEOUT = 120


def lock_path(path: Path) -> Path:
    return path.with_name(path.name + ".lock")


@contextlib.contextmanager
def locked(path: Path) -> Iterator[None]:
    """Hold the ledger's lock; concurrent writers queue here."""
    lock = FileLock(str(lock_path(path)), timeout=LOCK_TIMEOUT)
    # Only taking the lock is guarded here: an error inside the block is
    # not a lock problem and must keep its own message.
    try:
        lock.acquire()
    except Timeout:
        raise LedgerError(f"{path}: another feedsvc process held the ledger lock for {LOCK_TIMEOUT} s; is one stuck?") from None
    except OSError as error:  # no permission, or a read-only file system
        raise LedgerError(f"{path}: cannot create the lock file ({error.strerror}); place the ledger in a writable folder with --ledger") from None
    try:
        yield
    finally:
        lock.release()


def load(path: Path) -> tuple[Ledger, bytes]:
    """The ledger and its bytes as read; a missing file is an empty ledger."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return Ledger(), b""
    except OSError as error:
        raise LedgerError(f"{path}: cannot read the ledger: {error.strerror}") from None
    with collector.paused():
        return parse(data, str(path)), data


def save(path: Path, ledger: Ledger, before: bytes = b"") -> bytes:
    """Write the ledger atomically, unless its bytes would not change;
    return its bytes (`before` itself when nothing was written)."""
    with collector.paused():  # what dump builds is gone when it returns
        data = dump(ledger)
    if data == before:
        return before
    try:
        atomic_write(path, data)
    except OSError as error:
        raise LedgerError(f"{path}: cannot write the ledger: {error.strerror}; the previous ledger is intact") from None
    return data


def dump(ledger: Ledger) -> bytes:
    header: dict = {"feedsvc_ledger": VERSION}
    if ledger.site_key is not None:
        header["site_key"] = ledger.site_key
    if ledger.created is not None:
        header["created"] = stamp(ledger.created)
    lines = [header]
    lines += [
        {"kind": "page", "name": name, "sha256": sha, "first_seen": stamp(seen)}
        for (name, sha), seen in sorted(ledger.pages.items())
    ]
    lines += [{"kind": "category", "name": name, "slug": slug} for name, slug in sorted(ledger.categories.items(), key=lambda kv: kv[1])]
    lines += [{"kind": "alias", "key": key, "id": article} for key, article in sorted(ledger.aliases.items())]
    lines += [
        {"kind": "split", "id": s.id, "since": stamp(s.since), "new_id": s.new_id, "page": s.page}
        for s in sorted(ledger.splits, key=lambda s: (s.since, s.id))
    ]
    encoded = [_encode(line) for line in lines]
    # A record that is the very object parsed from a line is written back
    # as that line: encoding 100,000 unchanged records again costs seconds.
    known = ledger.lines
    for record in sorted(ledger.records.values(), key=_by_seq):
        line = known.get(record.id)
        encoded.append(line[1] if line is not None and line[0] is record else _encode(_record_line(record)))
    encoded.append(b"")
    return b"\n".join(encoded)


def _encode(line: dict) -> bytes:
    # Sorted keys, no spaces, UTF-8 text unescaped: the bytes json.dumps
    # gives with sort_keys, separators=(",", ":") and ensure_ascii=False.
    return orjson.dumps(line, option=orjson.OPT_SORT_KEYS)


def _by_seq(record: Record) -> int:
    return record.seq


def _record_line(r: Record) -> dict:
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


def parse(data: bytes, source: str) -> Ledger:
    pages: dict = {}
    records: dict[str, Record] = {}
    categories: dict[str, str] = {}
    aliases: dict[str, str] = {}
    splits: list[Split] = []
    lines: dict[str, tuple[Record, memoryview]] = {}
    record_lines: dict[str, int] = {}
    site_key = created = None
    number = 0
    for number, raw in enumerate(_lines(data), start=1):
        try:
            line = orjson.loads(raw)
            if not isinstance(line, dict):
                raise ValueError("not a JSON object")
            if number == 1:
                _check_header(line)
                site_key = line.get("site_key")
                created = _time(line["created"]) if "created" in line else None
                continue
            kind = line["kind"]
            if kind == "article":
                record = _record(line)
                records[record.id] = record
                lines[record.id] = (record, raw)
                record_lines[record.id] = number
            elif kind == "page":
                pages[(line["name"], line["sha256"])] = _time(line["first_seen"])
            elif kind == "category":
                categories[line["name"]] = line["slug"]
            elif kind == "alias":
                aliases[line["key"]] = line["id"]
            elif kind == "split":
                splits.append(Split(line["id"], _time(line["since"]), line["new_id"], line.get("page")))
            else:
                raise ValueError(f"unknown kind {kind!r}")
        except LedgerError as error:
            raise LedgerError(f"{source}: line {number}: {error}") from None
        except (ValueError, KeyError, TypeError, AttributeError) as error:
            reason = f"missing field {error}" if isinstance(error, KeyError) else str(error)
            raise LedgerError(
                f"{source}: line {number}: not a valid ledger entry ({reason}); restore it from version control, the file was left untouched"
            ) from None
    if number == 0 and data:
        raise LedgerError(f"{source}: line 1: empty ledger header")
    for record in records.values():
        if record.category not in categories:
            raise LedgerError(
                f"{source}: line {record_lines[record.id]}: article {record.id} names category {record.category!r}, "
                "which has no slug line; restore it from version control, the file was left untouched"
            )
    return Ledger(pages=pages, records=records, categories=categories, aliases=aliases, splits=tuple(splits), site_key=site_key, created=created, lines=lines)


def _lines(data: bytes) -> Iterator[memoryview]:
    """The ledger's lines as views into `data`, without the final empty
    line: copying 100 MB into 100,000 separate strings costs more than
    parsing them."""
    if not data:
        return
    view = memoryview(data)
    start, end = 0, len(data)
    if data.endswith(b"\n"):
        end -= 1
    while start <= end:
        stop = data.find(b"\n", start, end)
        if stop < 0:
            stop = end
        yield view[start:stop]
        start = stop + 1


def _check_header(line: dict) -> None:
    version = line.get("feedsvc_ledger")
    if version != VERSION:
        raise LedgerError(
            f"not a feedsvc ledger of version {VERSION} (header says {version!r}); it may come from a newer feedsvc, so upgrade rather than overwrite it"
        )


def _record(line: dict) -> Record:
    return Record(
        id=line["id"],
        seq=int(line["seq"]),
        key=line["key"],
        title=line["title"],
        summary=line["summary"],
        category=line["category"],
        category_source=line["category_source"],
        page_category=line["page_category"],
        published=_time(line["published"]),
        date_source=line["date_source"],
        page_date=dt.date.fromisoformat(line["page_date"]) if line["page_date"] else None,
        first_seen=_time(line["first_seen"]),
        updated=_time(line["updated"]),
        content_seen=_time(line["content_seen"]),
        content_hash=line["content_hash"],
        pages=tuple(line["pages"]),
        withdrawn=_time(line["withdrawn"]) if line["withdrawn"] else None,
        note=line.get("note"),
        departures=tuple((category, _time(when)) for category, when in line.get("departures", ())),
        arrivals=tuple((category, _time(when)) for category, when in line.get("arrivals", ())),
        link=line.get("link"),
        link_seen=_time(line["link_seen"]) if line.get("link_seen") else None,
    )


@functools.lru_cache(maxsize=4096)  # records share most of their timestamps
def stamp(moment: dt.datetime) -> str:
    """A moment as the ledger and the CLI write it: UTC, to the second."""
    return moment.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


@functools.lru_cache(maxsize=4096)  # records share most of their timestamps
def _time(text: str) -> dt.datetime:
    moment = dt.datetime.fromisoformat(text)
    if moment.tzinfo is None:
        raise ValueError(f"timestamp {text!r} has no time zone")
    return moment.astimezone(dt.timezone.utc)
