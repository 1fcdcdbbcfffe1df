"""Time the stages of one warm ingest inside a single process and print them
as JSON: importing the CLI, reading and decoding the pages, opening the
ledger, reading every record from its cache, the whole `ingest()` call,
and listing the articles.

    python bench/stages.py SEEDS LEDGER

The reading and opening stages are also part of `ingest()`; they are timed
on their own first so that their share of it can be seen.
"""

from __future__ import annotations

import json
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
    from feedsvc.store import ledger as ledger_file
    from feedsvc.clock import current_time
    from feedsvc.config import load_config
    from feedsvc.store.ingest import ingest
    from feedsvc.store.seeds import list_pages, read_page

    config = load_config(seeds, ledger)
    clock.measure("list + read + decode pages", lambda: [read_page(f, config.max_page_bytes) for f in list_pages(seeds)])
    opened = clock.measure("open the ledger (seal + cache)", lambda: ledger_file.read(config.ledger_path, config.cache_folder))
    clock.measure("every record from the cache", lambda: opened.ledger.records.values())
    result = clock.measure("ingest() total", lambda: ingest(config, current_time()))
    clock.measure("articles()", lambda: result.articles(config.site_key))
    json.dump(clock.stages, sys.stdout)


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))
