"""The record of topic feeds on disk: `topics.json` beside the ledger, for
each topic the digest of its settings and when they were first seen, the
articles it held at the last look and when an edit last took one out (see
`core.topics`). Committed with the ledger, so every machine dates the topic
feeds alike. A site that never had a topic has no such file.

The build and the server bring it up to date after their ingest, under
the ledger's lock, so concurrent processes agree on first-seen times; it
is replaced whole, and only when its bytes change."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

from feedsvc.config import Config
from feedsvc.core.models import Ledger
from feedsvc.core.topics import TopicMark, advance
from feedsvc.errors import LedgerError
from feedsvc.store.files import atomic_write
from feedsvc.store.ledger import locked

RECORD_NAME = "topics.json"
VERSION = 1


def record_path(config: Config) -> Path:
    return config.ledger_path.with_name(RECORD_NAME)


def settle(config: Config, ledger: Ledger, now: dt.datetime, write: bool = True) -> dict[str, TopicMark]:
    """The record of topics brought up to date with the settings and
    `ledger` (as an ingest left it) at `now`; written back unless `write`
    is false."""
    path = record_path(config)
    if not write:
        marks, before = load(path)
        # A site that never had a topic has nothing to look at: not one record is read.
        return advance(marks, config.topics, ledger.records.values(), now) if config.topics or before else {}
    with locked(config.ledger_path):
        marks, before = load(path)
        if not config.topics and not before:
            return {}  # a site that never had a topic keeps no record
        after = advance(marks, config.topics, ledger.records.values(), now)
        data = dump(after)
        if data != before:
            try:
                atomic_write(path, data)
            except OSError as error:
                raise LedgerError(f"{path}: cannot write the record of topic feeds: {error.strerror}") from None
    return after


def load(path: Path) -> tuple[dict[str, TopicMark], bytes]:
    """The record and its bytes; a missing file is an empty record."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return {}, b""
    except OSError as error:
        raise LedgerError(f"{path}: cannot read the record of topic feeds: {error.strerror}") from None
    try:
        return parse(data), data
    except (ValueError, KeyError, TypeError, AttributeError) as error:
        reason = f"missing field {error}" if isinstance(error, KeyError) else str(error)
        raise LedgerError(
            f"{path}: not a valid record of topic feeds ({reason}); restore it from version control, "
            "or delete it and every topic feed is dated by the next run"
        ) from None


def parse(data: bytes) -> dict[str, TopicMark]:
    document = json.loads(data)
    if document.get("feedsvc_topics") != VERSION:
        raise ValueError(f"not version {VERSION}; it may come from a newer feedsvc")
    return {
        slug: TopicMark(
            name=str(mark["name"]),
            rules=str(mark["rules"]),
            since=_time(mark["since"]),
            members=frozenset(map(str, mark["members"])),
            departed=_time(mark["departed"]) if mark["departed"] else None,
            removed=_time(mark["removed"]) if mark["removed"] else None,
        )
        for slug, mark in document["topics"].items()
    }


def dump(marks: dict[str, TopicMark]) -> bytes:
    """Sorted, indented JSON: small diffs when committed."""
    topics = {
        slug: {
            "name": mark.name,
            "rules": mark.rules,
            "since": stamp(mark.since),
            "departed": stamp(mark.departed) if mark.departed else None,
            "removed": stamp(mark.removed) if mark.removed else None,
            "members": sorted(mark.members),
        }
        for slug, mark in marks.items()
    }
    document = {"feedsvc_topics": VERSION, "topics": topics}
    return (json.dumps(document, ensure_ascii=False, sort_keys=True, indent=1) + "\n").encode("utf-8")


def stamp(moment: dt.datetime) -> str:
    """UTC, to the second, as the ledger writes its times."""
    return moment.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _time(text: str) -> dt.datetime:
    moment = dt.datetime.fromisoformat(text)
    if moment.tzinfo is None:
        raise ValueError(f"timestamp {text!r} has no time zone")
    return moment.astimezone(dt.timezone.utc)
