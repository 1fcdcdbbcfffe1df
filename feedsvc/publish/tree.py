"""The output folder of a build: every file written through one atomic
write (store.files), and the temporary files a killed build left behind."""

from __future__ import annotations

import contextlib
import os
import re
from pathlib import Path
from typing import Iterable

from feedsvc.store.files import TEMPORARY_SUFFIX, Folder

# Temporary files: ".{name}." + 8 hex digits + ".tmp", as Folder.stage names them.
_TEMPORARY = re.compile(r"^\.(?P<name>.+)\.[0-9a-f]{8}" + re.escape(TEMPORARY_SUFFIX) + "$")


class Tree(Folder):
    """The output folder; `out` is its path."""

    def __init__(self, out: Path, create: bool = True) -> None:
        super().__init__(out, create)
        self.out = out


def remove_temporaries(folder: Path, files: Iterable[str]) -> int:
    """Delete the temporary files a killed build left beside `files` (paths
    relative to `folder`); return how many."""
    names_by_folder: dict[Path, set[str]] = {}
    for file in files:
        path = folder / file
        names_by_folder.setdefault(path.parent, set()).add(path.name)
    removed = 0
    for place, names in names_by_folder.items():
        try:
            entries = list(os.scandir(place))
        except OSError:
            continue
        for entry in entries:
            match = _TEMPORARY.match(entry.name)
            if match and match.group("name") in names:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(entry.path)
                    removed += 1
    return removed
