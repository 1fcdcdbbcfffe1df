"""The file-system floor of a build: write the files of a built tree again,
as plainly as Python can (a folder per file where the tree has one, one
open-write-close per file), into a new folder, and print the time as JSON.

    python bench/write_floor.py BUILT_TREE NEW_FOLDER [TIMINGS.json]

The bytes are read into memory first, untimed. No builder that writes the
same layout to the same disk can be faster than this loop by much.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path


def main(source: Path, target: Path, timings_file: Path | None) -> None:
    files = []
    for folder, _, names in os.walk(source):
        relative = os.path.relpath(folder, source)
        for name in names:
            if not name.startswith(".feedsvc"):
                files.append((os.path.normpath(os.path.join(relative, name)), Path(folder, name).read_bytes()))
    started, cpu = time.perf_counter(), time.process_time()
    made = set()
    for relative, body in files:
        path = os.path.join(target, relative)
        folder = os.path.dirname(path)
        if folder not in made:
            os.makedirs(folder, exist_ok=True)
            made.add(folder)
        with open(path, "wb") as handle:
            handle.write(body)
    timings = json.dumps({"files": len(files), "bytes": sum(len(b) for _, b in files), "wall": time.perf_counter() - started, "cpu": time.process_time() - cpu})
    if timings_file:
        timings_file.write_text(timings)
    print(timings)


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3]) if len(sys.argv) > 3 else None)
