"""The ledger on disk, behind two doors: `read` to look, and `transaction`
for a read-merge-write under the lock.

Behind them: the sealed, append-only text history that CI commits
(history.py), what its lines mean (lines.py), and the SQLite cache a run
queries by key (cache.py). docs/store.md says what to commit and what may
be deleted. A version-1 ledger (one sorted file, rewritten whole) is read
as it is by `read`, and converted by the first transaction.
"""

from __future__ import annotations

import contextlib
import hashlib
import itertools
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import orjson
from filelock import FileLock, Timeout

from feedsvc.core.models import Ledger
from feedsvc.errors import LedgerError
from feedsvc.store import lines as codec
from feedsvc.store.cache import Cache
from feedsvc.store.history import HELP, History, Seal

LOCK_TIMEOUT = 120
stamp = codec.stamp  # the one way the ledger and the CLI write a moment


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


@dataclass
class Opened:
    """A ledger as read, and a digest that changes whenever its files do."""

    ledger: Ledger
    digest: str


def digest(path: Path) -> str:
    """A cheap fingerprint of the history's files: the seal's chain hash
    and each segment's size and time. Reading nothing but the seal and a
    stat per segment, it tells a build whether the ledger changed."""
    history = History(path)
    seal = history.seal()
    if seal is not None:
        return hashlib.sha256(seal.encode() + orjson.dumps(history.stats(seal))).hexdigest()
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except FileNotFoundError:
        return ""
    except OSError as error:
        raise LedgerError(f"{path}: cannot read the ledger: {error.strerror}") from None


def read(path: Path, cache_folder: Path) -> Opened:
    """The ledger as it stands, without taking the lock or writing the
    history. A version-1 file is read as it is."""
    history = History(path)
    seal = history.seal()
    if seal is None:
        return _unsealed(history)
    cache = _synced(Cache.open(cache_folder, history), seal)
    return Opened(cache.snapshot(), digest(path))


def _synced(cache: Cache, seal: Seal) -> Cache:
    """The cache brought up to the seal, or the history's damage explained."""
    try:
        cache.sync(seal)
    except LedgerError as damage:
        raise _pinpointed(cache.history) or damage from None
    return cache


def _pinpointed(history: History) -> LedgerError | None:
    """The first line of a damaged history that makes no sense on its own,
    as an error naming it: more use to whoever edited it than a hash."""
    try:
        codec.replay(enumerate(history.read_lines(), start=1), str(history.first))
    except LedgerError as error:
        return LedgerError(f"{error} ({HELP})")
    return None


def _unsealed(history: History) -> Opened:
    """A history with no seal: none at all, or a version-1 file."""
    data = _read_first(history.first)
    if not data:
        return Opened(Ledger(), "")
    with codec.line_errors(str(history.first), 1):
        version = codec.version_of(data.split(b"\n", 1)[0])
    if version == codec.VERSION:
        raise LedgerError(
            f"{history.first}: its seal {history.seal_path.name} is missing, so nothing shows whether the history is whole; "
            f"restore the seal from version control; {HELP}"
        )
    return Opened(codec.parse_v1(data, str(history.first)), hashlib.sha256(data).hexdigest())


def _read_first(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        return b""
    except OSError as error:
        raise LedgerError(f"{path}: cannot read the ledger: {error.strerror}") from None


class Transaction:
    """The ledger under the lock: the state to merge into, and `commit`."""

    def __init__(self, history: History, cache: Cache, seal: Seal, notes: list[str]) -> None:
        self.history = history
        self.cache = cache
        self.seal = seal
        self.ledger = cache.ledger()
        self.notes = notes

    def commit(self, after: Ledger) -> bool:
        """Append what changed from the state read to `after`, seal it, and
        update the cache; whether anything was written."""
        new = codec.change_lines(self.ledger, after)
        first = next(new, None)
        if first is None:
            return False
        entries = itertools.chain([codec.header_entry()] if self.seal.lines == 0 else [], [first], new)
        # Each line goes to the cache's open transaction and to the history
        # as it is made; the cache commits only after the history is sealed.
        with self.cache.appending(self.seal) as appending:
            appending.seal = self.history.append(self.seal, appending.lines(entries))
        self.seal = appending.seal
        return True

    @property
    def digest(self) -> str:
        return digest(self.history.first)

    def settled(self) -> Ledger:
        """The ledger as committed, pinned to this moment: what the run
        renders, whatever other writers commit after it."""
        return self.cache.snapshot()


@contextlib.contextmanager
def transaction(path: Path, cache_folder: Path) -> Iterator[Transaction]:
    """Hold the lock, make the history whole (convert a version-1 file,
    drop what a killed writer left unsealed), and bring the cache up to it."""
    with locked(path):
        history = History(path)
        notes: list[str] = []
        seal = history.seal()
        if seal is None:
            seal = _first_seal(history, notes)
        # The sealed lines are checked first: only then are the bytes past
        # them known to be an unfinished append and not a damaged history.
        cache = _synced(Cache.open(cache_folder, history), seal)
        removed = history.drop_unsealed(seal)
        if removed:
            notes.append(f"{path}: removed {removed} bytes an interrupted run had appended past the seal; they were never published")
        yield Transaction(history, cache, seal, notes)


def _first_seal(history: History, notes: list[str]) -> Seal:
    """The seal of a history that has none: empty, or converted from version 1."""
    opened = _unsealed(history)
    if not opened.digest:
        return Seal()
    seal = history.rewrite(codec.state_lines(opened.ledger))
    notes.append(f"{history.first}: converted the version-1 ledger to the append-only history (docs/store.md); commit {history.seal_path.name} with it")
    return seal


# The `feedsvc ledger` commands


def verify(path: Path) -> str:
    """Check the history against its seal; what was found, or raise."""
    history = History(path)
    seal = history.seal()
    if seal is None:
        opened = _unsealed(history)
        return f"{path}: a version-1 ledger, unsealed; the next writing command converts it" if opened.digest else f"{path}: no history yet"
    try:
        lines = history.verify(seal)
    except LedgerError as damage:
        raise _pinpointed(history) or damage from None
    unsealed = sum(extra for _, _, extra in history.unsealed(seal))
    extra = f"; {unsealed} bytes past the seal are an interrupted append, which the next writing command removes" if unsealed else ""
    return f"{path}: {lines} lines in {len(seal.segments)} file(s) match the seal{extra}"


def reseal(path: Path) -> str:
    """Accept the history as its files now hold it, after a deliberate hand
    edit: every line is checked for sense, then sealed anew. The cache
    sees the files change and rebuilds itself."""
    with locked(path):
        history = History(path)
        found = history.read_lines()
        if not found:
            raise LedgerError(f"{path}: no history to seal")
        codec.replay(enumerate(found, start=1), str(path))  # refuses a line that makes no sense
        seal = history.rewrite(found)
    return f"{path}: sealed {seal.lines} lines as they are"


def compact(path: Path, cache_folder: Path) -> str:
    """Rewrite the history as one line per thing it remembers."""
    with transaction(path, cache_folder) as current:
        before = current.seal.lines
        seal = current.history.rewrite(codec.state_lines(current.ledger))
        current.cache.sync(seal)
    return f"{path}: {before} lines compacted to {seal.lines}"


def export(path: Path, cache_folder: Path) -> bytes:
    """The current state in the version-1 format, sorted."""
    return codec.dump_v1(read(path, cache_folder).ledger)

