"""SHA-256 digests of input files, remembered by their stat as git's index
does: a file whose inode, size, mtime and ctime are the recorded ones is
not read again. Any write changes the ctime, and nothing can set it back.

A write in the same clock tick as the recording would leave the stat
unchanged, so an entry whose ctime is not clearly older than the record
itself is not trusted: it is read again, and recorded again later."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import orjson

from feedsvc.store.files import atomic_write
from feedsvc.store.seeds import PageFile

STAMPS_NAME = "stamps.json"
# Filesystem timestamps advance in ticks of a few milliseconds; two seconds
# is far beyond any tick.
_RACY_NS = 2_000_000_000


class Stamps:
    """The digests recorded in `path` (nothing is recorded when None)."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self._entries: dict[str, list] = {}  # file -> [inode, size, mtime_ns, ctime_ns, sha256]
        self._used: dict[str, list] = {}
        self._trusted_before = 0
        self._changed = False
        if path is None:
            return
        try:
            data = path.read_bytes()
            recorded = os.stat(path).st_mtime_ns
            entries = json.loads(data)
        except (OSError, ValueError):
            return
        if isinstance(entries, dict):
            self._entries = {key: value for key, value in entries.items() if isinstance(value, list) and len(value) == 5}
            self._trusted_before = recorded - _RACY_NS

    def remembered(self, page: PageFile) -> str | None:
        """The recorded SHA-256 of `page` when its stat as listed says it is
        unchanged, without reading it; None when it must be read."""
        entry = self._entries.get(page.location)
        if entry is None or entry[:4] != _identity(page.stat):
            return None
        if page.stat.st_ctime_ns >= self._trusted_before:
            return None
        self._used[page.location] = entry
        return entry[4]

    def digest(self, page: PageFile, data: bytes | None = None) -> str:
        """The SHA-256 of `page`; `data`, when given, is its content, read
        by the caller while nothing could change it. Two threads may ask at
        once: each call sets only its own file's entry."""
        remembered = self.remembered(page)
        if remembered is not None:
            return remembered
        identity = _identity(os.stat(page.location))
        if data is None:
            with open(page.location, "rb") as handle:
                sha = hashlib.file_digest(handle, "sha256").hexdigest()
        else:
            sha = hashlib.sha256(data).hexdigest()
        self._used[page.location] = identity + [sha]
        self._changed = True
        return sha

    def save(self) -> None:
        """Record the digests used in this run, when any was new or any
        recorded file was not used (a page that was deleted)."""
        if self.path is None or not (self._changed or self._used.keys() != self._entries.keys()):
            return
        try:
            data = orjson.dumps(self._used, option=orjson.OPT_SORT_KEYS)
        except TypeError:  # a file name that is not UTF-8 (kept as surrogates), which only json writes
            data = json.dumps(self._used, sort_keys=True, separators=(",", ":")).encode("utf-8")
        atomic_write(self.path, data)


def _identity(stat: os.stat_result) -> list[int]:
    """What a recorded digest is trusted by: a file whose inode, size,
    mtime and ctime are these was not written since."""
    return [stat.st_ino, stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns]
