"""The history as text: append-only JSON lines, sealed.

The history is what CI commits: `ledger.jsonl` and, once it has grown past
SEGMENT_BYTES, further segments beside it (`ledger.2.jsonl`, ...), plus one
small seal file (`ledger.seal`). Lines are only ever appended, so a git
diff of a run is pure additions. The seal holds the number of lines and a
chain hash over all of them: each line's hash covers the one before it, so
a cut, a deleted, reordered or hand-edited line no longer matches, with or
without the cache.

A write appends the new lines, flushes them, and then replaces the seal
atomically: the seal is the commit point. Lines past what the seal covers
are an append a killed writer never finished; readers ignore them, and the
next writer removes them under the lock.

This module knows lines as bytes only; what a line means is ledger.py's.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import os
from pathlib import Path
from typing import BinaryIO, Iterable, Iterator

import orjson

from feedsvc.errors import LedgerError
from feedsvc.store.files import atomic_write

# GitHub refuses files over 100 MB and warns past 50 MB: a segment is
# closed once it passes this size, at a line boundary.
SEGMENT_BYTES = 40_000_000
SEAL_FORMAT = 2
HELP = "`feedsvc ledger verify` explains; `feedsvc ledger reseal` accepts the file as it now is (docs/store.md)"


def chain(previous: bytes, line: bytes) -> bytes:
    """The chain hash after `line`: it covers every line before it too."""
    return hashlib.sha256(previous + line).digest()


@dataclasses.dataclass(frozen=True)
class Segment:
    name: str
    lines: int
    size: int  # bytes, every line with its newline


@dataclasses.dataclass(frozen=True)
class Seal:
    """How much history was committed, and the hash it had."""

    segments: tuple[Segment, ...] = ()
    digest: bytes = b""

    @property
    def lines(self) -> int:
        return sum(segment.lines for segment in self.segments)

    def encode(self) -> bytes:
        body = {
            "feedsvc_seal": SEAL_FORMAT,
            "lines": self.lines,
            "chain": self.digest.hex(),
            "segments": [[s.name, s.lines, s.size] for s in self.segments],
        }
        return orjson.dumps(body) + b"\n"

    @classmethod
    def decode(cls, data: bytes, source: str) -> "Seal":
        try:
            body = orjson.loads(data)
            if body.get("feedsvc_seal") != SEAL_FORMAT:
                raise ValueError(f"seal format {body.get('feedsvc_seal')!r}, expected {SEAL_FORMAT}")
            segments = tuple(Segment(str(name), int(lines), int(size)) for name, lines, size in body["segments"])
            seal = cls(segments, bytes.fromhex(body["chain"]))
            if seal.lines != int(body["lines"]):
                raise ValueError("its line count does not add up")
        except (ValueError, KeyError, TypeError, AttributeError) as error:
            raise LedgerError(f"{source}: not a valid seal ({error}); {HELP}") from None
        return seal


class History:
    """The history files of one ledger path."""

    def __init__(self, first: Path) -> None:
        self.first = first
        self.folder = first.parent
        self.seal_path = first.with_name(f"{first.stem}.seal")

    def segment_path(self, number: int) -> Path:
        """Segment 1 is the ledger path itself, then stem.2.jsonl, ..."""
        return self.first if number == 1 else self.first.with_name(f"{self.first.stem}.{number}{self.first.suffix}")

    def files(self) -> list[Path]:
        """Every file of the history that exists: what users commit."""
        return ([self.seal_path] if self.seal_path.exists() else []) + list(self._segments_on_disk())

    def _segments_on_disk(self, first: int = 1) -> Iterator[Path]:
        """The segment files from number `first` on, as long as they exist."""
        number = first
        while (path := self.segment_path(number)).exists():
            yield path
            number += 1

    def seal(self) -> Seal | None:
        """The seal, or None for a history that has none (new, or version 1)."""
        try:
            data = self.seal_path.read_bytes()
        except FileNotFoundError:
            return None
        except OSError as error:
            raise LedgerError(f"{self.seal_path}: cannot read the seal: {error.strerror}") from None
        return Seal.decode(data, str(self.seal_path))

    def stats(self, seal: Seal) -> tuple:
        """What changes when a segment file is touched: its size and time."""
        found = []
        for segment in seal.segments:
            try:
                info = (self.folder / segment.name).stat()
            except OSError:
                return ()
            found.append((segment.name, info.st_size, info.st_mtime_ns))
        return tuple(found)

    # Reading

    def sealed_lines(self, seal: Seal) -> Iterator[tuple[int, bytes, bytes]]:
        """(number, line, chain hash after it) for every sealed line. Raises
        when the files do not hold what the seal says."""
        digest = b""
        number = 0
        for segment in seal.segments:
            for line in self._whole_lines(self.folder / segment.name, segment):
                number += 1
                digest = chain(digest, line)
                yield number, line, digest
        if digest != seal.digest:
            raise LedgerError(
                f"{self.first}: the history does not match its seal ({self.seal_path.name}): a line was changed, "
                f"removed or reordered since it was written. Restore it from version control; {HELP}"
            )

    def _whole_lines(self, path: Path, segment: Segment) -> Iterator[bytes]:
        """The sealed lines of one segment, without their newlines, read as
        they stream by (a segment is tens of megabytes: holding it whole
        would set every command's peak memory); refuses a segment with
        fewer lines than sealed once its end is reached."""
        count = 0
        try:
            with path.open("rb") as file:
                for line in file:
                    if count == segment.lines or not line.endswith(b"\n"):
                        break  # past the seal, or an unfinished append
                    count += 1
                    yield line[:-1]
        except FileNotFoundError:
            raise LedgerError(f"{path}: this part of the history is missing ({segment.lines} lines sealed); restore it from version control") from None
        except OSError as error:
            raise LedgerError(f"{path}: cannot read the history: {error.strerror}") from None
        if count < segment.lines:
            raise LedgerError(
                f"{path}: line {count} of {segment.lines} is the last one; the history was cut short, or lines were removed. "
                f"Restore it from version control; {HELP}"
            )

    def verify(self, seal: Seal) -> int:
        """Check every line against the seal; the number of lines."""
        count = 0
        for count, _, _ in self.sealed_lines(seal):
            pass
        return count

    def unsealed(self, seal: Seal) -> list[tuple[Path, int, int]]:
        """(file, sealed size, bytes past it) of each file that holds lines
        past the seal, an append a killed writer never finished: the last
        sealed segment, then every segment the append started (sealed size
        0). A first run's append may start several."""
        last = self.segment_path(len(seal.segments) or 1)
        sealed = seal.segments[-1].size if seal.segments else 0
        found = []
        with contextlib.suppress(FileNotFoundError):
            if (size := last.stat().st_size) > sealed:
                found.append((last, sealed, size - sealed))
        for path in self._segments_on_disk(max(len(seal.segments), 1) + 1):
            found.append((path, 0, path.stat().st_size))
        return found

    # Writing: only under the ledger's lock.

    def drop_unsealed(self, seal: Seal) -> int:
        """Remove what a killed writer appended past the seal; the number of
        bytes removed. The last file goes first, so that a kill meanwhile
        leaves no gap in the segments' numbers that would hide the rest."""
        unsealed = self.unsealed(seal)
        for path, sealed, _ in reversed(unsealed):
            if sealed == 0 and path != self.segment_path(1):
                path.unlink()
            else:
                with open(path, "r+b") as stream:
                    stream.truncate(sealed)
                    stream.flush()
                    os.fsync(stream.fileno())
        return sum(extra for _, _, extra in unsealed)

    def append(self, seal: Seal, lines: Iterable[bytes]) -> Seal:
        """Append `lines`, flush them, then seal them; the new seal. The
        lines are written as they come, not gathered first: a first run
        of a large site appends a million of them."""
        segments, digest = list(seal.segments), seal.digest
        if not self.seal_path.exists():
            # A first run seals the empty history before its first line:
            # a kill before the real seal then leaves an unfinished append,
            # which the next writer removes, not lines with no seal at all,
            # which read as a damaged history.
            self.write_seal(seal)
        try:
            with _Appender(self) as appender:
                for line in lines:
                    appender.write(self._place(segments, line), line)
                    digest = chain(digest, line)
            if segments == list(seal.segments):
                return seal
            new_seal = Seal(tuple(segments), digest)
            self.write_seal(new_seal)
        except BaseException:
            # A full disk, say, or a failure making the lines: take back what
            # was appended, so that what is on disk is what the seal says.
            with contextlib.suppress(OSError):
                self.drop_unsealed(seal)
            raise
        return new_seal

    def _place(self, segments: list[Segment], line: bytes) -> int:
        """Count `line` into the segment it goes to, the last one unless
        that has passed SEGMENT_BYTES; that segment's number."""
        if not segments or segments[-1].size >= SEGMENT_BYTES:
            segments.append(Segment(self.segment_path(len(segments) + 1).name, 0, 0))
        last = segments[-1]
        segments[-1] = Segment(last.name, last.lines + 1, last.size + len(line) + 1)
        return len(segments)

    def _laid_out(self, seal: Seal, lines: list[bytes]) -> tuple[Seal, dict[int, list[bytes]]]:
        """The seal once `lines` follow what `seal` covers, and the lines by
        segment number."""
        segments = list(seal.segments)
        digest = seal.digest
        batches: dict[int, list[bytes]] = {}
        for line in lines:
            batches.setdefault(self._place(segments, line), []).append(line)
            digest = chain(digest, line)
        return Seal(tuple(segments), digest), batches

    def write_seal(self, seal: Seal) -> None:
        try:
            atomic_write(self.seal_path, seal.encode())
        except OSError as error:
            raise LedgerError(f"{self.seal_path}: cannot write the seal: {error.strerror}") from None

    def rewrite(self, lines: list[bytes]) -> Seal:
        """Replace the whole history with `lines` (compact, migrate, reseal):
        the new segments are written under temporary names first, and the
        seal is replaced last. Segments past the new last one are removed."""
        seal, bodies = self._laid_out(Seal(), lines)
        # Each file is replaced whole, the seal last. A kill between them
        # leaves files that do not match the seal: refused and reported,
        # never a silent mix (`ledger reseal` accepts them).
        for number, body in bodies.items():
            try:
                atomic_write(self.segment_path(number), b"".join(line + b"\n" for line in body))
            except OSError as error:
                raise LedgerError(f"{self.segment_path(number)}: cannot write the history: {error.strerror}") from None
        for stale in list(self._segments_on_disk(len(bodies) + 1)):
            stale.unlink()
        self.write_seal(seal)
        return seal

    def read_lines(self) -> list[bytes]:
        """Every whole line of every segment, sealed or not (for reseal)."""
        lines: list[bytes] = []
        for path in self._segments_on_disk():
            data = path.read_bytes()
            lines += data[: data.rfind(b"\n") + 1].split(b"\n")[:-1]
        return lines


class _Appender:
    """Appends lines to the segment files one after the other, each file
    flushed to disk before the next is opened and when the block ends."""

    def __init__(self, history: History) -> None:
        self.history = history
        self.number = 0
        self.stream: BinaryIO | None = None

    def __enter__(self) -> "_Appender":
        return self

    def write(self, number: int, line: bytes) -> None:
        with self._errors():
            if number != self.number:
                self._finish()
                self.number = number
                self.stream = open(self.history.segment_path(number), "ab")
            self.stream.write(line)  # through the stream's buffer
            self.stream.write(b"\n")

    def __exit__(self, kind, error, trace) -> None:
        if kind is not None:
            if self.stream is not None:
                with contextlib.suppress(OSError):  # what it holds is taken back anyway
                    self.stream.close()
            return
        with self._errors():
            self._finish()

    def _finish(self) -> None:
        if self.stream is not None:
            self.stream.flush()
            os.fsync(self.stream.fileno())
            self.stream.close()
            self.stream = None

    @contextlib.contextmanager
    def _errors(self) -> Iterator[None]:
        try:
            yield
        except OSError as error:
            path = self.history.segment_path(self.number or 1)
            raise LedgerError(f"{path}: cannot append to the history: {error.strerror}; what was sealed before is intact") from None
