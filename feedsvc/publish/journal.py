"""The build's journal, `pending.json` in its bookkeeping folder: the files
a build is about to create, replace or remove, each listed before its
temporary file is created or it is removed. It is there only while a build
writes. A build killed part-way leaves it behind, and the next build knows
from it which files may be half done (see `manifest`).

Names are appended in batches as the build reaches them, one JSON string
per line, and put on disk before the files they name are: a build of a
million article pages never holds the whole list. An earlier release wrote
one JSON list on one line; a line torn by a kill is skipped."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Iterable

from feedsvc.publish.manifest import PENDING_NAME, is_own_name


class Journal:
    """The journal of one build into an output folder, opened on the first
    `add`, closed by `finish` once the build's manifest is saved."""

    def __init__(self, state: Path) -> None:
        self.path = state / PENDING_NAME
        self._fd: int | None = None

    def add(self, files: Iterable[str]) -> None:
        """List `files`, on disk, before they are written or removed."""
        lines = "".join(json.dumps(file, ensure_ascii=False) + "\n" for file in files)
        if not lines:
            return
        if self._fd is None:
            self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o644)
            if _ends_inside_a_line(self._fd):
                os.write(self._fd, b"\n")  # a killed build's torn line stays a line of its own
            _sync_folder(self.path.parent)  # the journal's own name on disk
        os.write(self._fd, lines.encode("utf-8"))
        os.fsync(self._fd)

    def finish(self) -> None:
        """The build is saved: nothing is half done any more."""
        self.close()
        self.path.unlink(missing_ok=True)

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


def _sync_folder(folder: Path) -> None:
    descriptor = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def _ends_inside_a_line(fd: int) -> bool:
    size = os.fstat(fd).st_size
    return size > 0 and os.pread(fd, 1, size - 1) != b"\n"


def read_pending(state: Path) -> set[str]:
    """The files a killed build may have left half done: every name its
    journal lists (none when there is no journal)."""
    try:
        text = (state / PENDING_NAME).read_bytes().decode("utf-8", "replace")
    except OSError:
        return set()
    names: set[str] = set()
    for line in text.splitlines():
        try:
            listed = json.loads(line)
        except ValueError:
            continue
        names.update(name for name in (listed if isinstance(listed, list) else [listed]) if is_own_name(name))
    return names
