"""Time the stages of one warm ingest inside a single process and print them
as JSON: importing the CLI, reading and decoding the pages, loading the
ledger, the whole `ingest()` call, and listing the articles.

    python bench/stages.py SEEDS LEDGER

The reading and loading stages are also part of `ingest()`; they are timed
on their own first so that their share of it can be seen. Unpickling the
parsed ledger is timed too: what loading it from a binary cache would cost.
"""

from __future__ import annotations

import dataclasses
import json
import pickle
import sys
import time
from pathlib import Path


class Clock:
    def __init__(self) -> None:
        self.stages: dict[str, dict[str, float]] = {}

    def measure(self, name: str, work):
        wall, cpu = time.perf_counter(), time.process_time()
        result = work()
        self.stages[name] = {"wall": time.perf_counter() - wall, "cpu": time.process_time() - cpu}
        return result


def main(seeds: Path, ledger: Path) -> None:
    clock = Clock()
    clock.measure("import feedsvc.cli", lambda: __import__("feedsvc.cli"))
    from feedsvc import collector
    from feedsvc.store import ledger as ledger_file
    from feedsvc.clock import current_time
    from feedsvc.config import load_config
    from feedsvc.store.ingest import ingest
    from feedsvc.store.seeds import list_pages, read_page

    config = load_config(seeds, ledger)
    clock.measure("list + read + decode pages", lambda: [read_page(f, config.max_page_bytes) for f in list_pages(seeds)])
    loaded, _ = clock.measure("load ledger", lambda: ledger_file.load(config.ledger_path))
    # What a binary cache of the parsed ledger would cost to read instead.
    # (Without the views of the file's lines the ledger keeps for writing
    # unchanged records back: a cache would hold the records alone.)
    cached = pickle.dumps(dataclasses.replace(loaded, lines={}), protocol=pickle.HIGHEST_PROTOCOL)
    with collector.paused():  # as load() pauses it
        clock.measure("(unpickle the same parsed ledger)", lambda: pickle.loads(cached))
    del loaded, cached
    result = clock.measure("ingest() total", lambda: ingest(config, current_time()))
    clock.measure("articles()", lambda: result.articles(config.site_key))
    json.dump(clock.stages, sys.stdout)


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))
