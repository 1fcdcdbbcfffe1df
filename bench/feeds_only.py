"""Render and write only the Atom and RSS documents of the site through
feedsvc's own Site, from a warm ledger, and print the timings as JSON: the
like-for-like counterpart of lxml_baseline.py.

    python bench/feeds_only.py SEEDS LEDGER OUT [TIMINGS.json]
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path


def main(seeds: Path, ledger: Path, out: Path, timings_file: Path | None) -> None:
    started = time.perf_counter()
    from feedsvc.clock import current_time
    from feedsvc.config import load_config
    from feedsvc.store.ingest import ingest
    from feedsvc.site.model import Site

    config = load_config(seeds, ledger)
    site = Site.from_ingest(config, ingest(config, current_time(), write=False))
    loaded = time.perf_counter()
    folders: set[Path] = set()
    count = 0
    for target in site.targets():
        if not target.path.startswith("/feeds/") or not target.path.endswith((".atom", ".rss")):
            continue
        path = out / target.file
        if path.parent not in folders:
            path.parent.mkdir(parents=True, exist_ok=True)
            folders.add(path.parent)
        path.write_bytes(site.render(target.path).body)
        count += 1
    done = time.perf_counter()
    timings = json.dumps({"files": count, "load": loaded - started, "render_write": done - loaded})
    if timings_file:
        timings_file.write_text(timings)
    print(timings)


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3]), Path(sys.argv[4]) if len(sys.argv) > 4 else None)
