"""The file-system floor of a build: write the files of a built tree again,
as plainly as Python can (a folder per file where the tree has one, one
open-write-close per file), into a new folder, and print the time as JSON.

    python bench/write_floor.py BUILT_TREE NEW_FOLDER [TIMINGS.json] [--processes N]

The files are split into N runs of consecutive paths, one per process, so
that the floor uses as many processes as the build does. The list of files
and their sizes is made first, untimed; then the processes start together
and the time runs until the last one ends. Each file gets as many bytes as
the built one, cut from one buffer: the disk's cost depends on the sizes
and the layout, not on the bytes, and a buffer keeps the floor's memory
small for a tree of a million files. No builder that writes the same
layout to the same disk can be faster than this by much.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import resource
import time
from pathlib import Path


def listing(source: Path) -> list[tuple[str, int]]:
    """Every file of the built tree (but its own state files), with its size."""
    files = []
    for folder, _, names in os.walk(source):
        relative = os.path.relpath(folder, source)
        for name in names:
            if not name.startswith(".feedsvc"):
                files.append((os.path.normpath(os.path.join(relative, name)), os.stat(os.path.join(folder, name)).st_size))
    files.sort()
    return files


def write(target: Path, files: list[tuple[str, int]], buffer: bytes, go) -> None:
    go.wait()
    made = set()
    for relative, size in files:
        path = os.path.join(target, relative)
        folder = os.path.dirname(path)
        if folder not in made:
            os.makedirs(folder, exist_ok=True)
            made.add(folder)
        with open(path, "wb") as handle:
            handle.write(buffer[:size])


def main(source: Path, target: Path, timings_file: Path | None, processes: int) -> None:
    files = listing(source)
    buffer = memoryview(os.urandom(max((size for _, size in files), default=0)))
    share = -(-len(files) // processes)
    context = multiprocessing.get_context("fork")
    go = context.Event()
    workers = [context.Process(target=write, args=(target, files[i * share : (i + 1) * share], buffer, go)) for i in range(processes)]
    for worker in workers:
        worker.start()
    cpu_before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    go.set()
    for worker in workers:
        worker.join()
        if worker.exitcode:
            raise SystemExit(f"a writer failed ({worker.exitcode})")
    wall = time.perf_counter() - started
    cpu_after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = cpu_after.ru_utime + cpu_after.ru_stime - cpu_before.ru_utime - cpu_before.ru_stime
    timings = json.dumps({"files": len(files), "bytes": sum(size for _, size in files), "processes": processes, "wall": wall, "cpu": cpu})
    if timings_file:
        timings_file.write_text(timings)
    print(timings)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("source", type=Path)
    parser.add_argument("target", type=Path)
    parser.add_argument("timings", type=Path, nargs="?")
    parser.add_argument("--processes", type=int, default=1)
    args = parser.parse_args()
    main(args.source, args.target, args.timings, args.processes)
