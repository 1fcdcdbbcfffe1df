"""How much of a cold build is rendering, and what that leaves of the
target: the CPU time of rendering a built site's documents and article
pages in one process, beside the file-system floor of the same tree.

    python bench/render_cost.py --articles 10000,100000 [--processes 2] [--sample 5000] [--work bench/work-new-page]

The cold-build targets compare a build with the file-system floor, which
writes the same files from one buffer (bench/write_floor.py). A build has
to do at least what the floor does and render every file, so no build,
however its work is shared out, finishes before

    max(floor wall, (floor CPU + rendering CPU) / processes)

on `processes` cores, with nothing else on them. This prints that bound
and its ratio to the floor. Every document (feeds, archives, the HTML
pages of categories, the index) is rendered once; article pages are timed
on `--sample` articles spread evenly over the store and counted for all of
them. The site is read from its warm store, as a cold build with a warm
store reads it. Each size's corpus, history and built tree are those of
bench/new_page.py, made on the first run in the same work folder.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))

from measure import Timing  # noqa: E402
from new_page import prepared  # noqa: E402
from phase_build import write_floor  # noqa: E402


def rendering_cpu(seeds: Path, ledger: Path, sample: int) -> dict[str, float]:
    from feedsvc.config import load_config
    from feedsvc.publish.export import KEPT_ENTRIES
    from feedsvc.site.fingerprints import Fingerprints
    from feedsvc.site.model import Site
    from feedsvc.store.catalog import open_catalog

    config = load_config(seeds, ledger)
    catalog = open_catalog(config)
    if catalog is None:
        raise SystemExit(f"{ledger}: no warm store to read; build the site first")
    site = Site(config, catalog, KEPT_ENTRIES)
    fingerprints = Fingerprints(site)
    documents = [target.path for target in fingerprints.documents()]
    pages = [target.path for target in fingerprints.article_pages()]
    step = max(1, len(pages) // sample)
    sampled = pages[::step]

    started = time.process_time()
    for path in documents:
        site.render(path)
    documents_cpu = time.process_time() - started

    started = time.process_time()
    for path in sampled:
        site.render(path)
    page_cpu = (time.process_time() - started) / len(sampled)
    return {
        "documents": len(documents),
        "documents cpu": documents_cpu,
        "article pages": len(pages),
        "article page cpu": page_cpu,
        "article pages cpu": page_cpu * len(pages),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--articles", default="10000,100000", help="comma-separated corpus sizes, multiples of 50")
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--sample", type=int, default=5000, help="article pages timed (default 5000)")
    parser.add_argument("--work", type=Path, default=BENCH / "work-new-page")
    args = parser.parse_args()
    for size in (int(size) for size in args.articles.split(",")):
        ctx = prepared(size, args.work)
        ctx.processes = args.processes
        rendering = rendering_cpu(ctx.seeds, ctx.ledger, args.sample)
        written = write_floor(ctx, ctx.work / "out", ctx.work / "floor-out", Timing("file-system floor", ""))
        ctx.empty_trash()
        cpu = written["cpu"] + rendering["documents cpu"] + rendering["article pages cpu"]
        bound = max(written["wall"], cpu / args.processes)
        figures = {**rendering, "floor wall": written["wall"], "floor cpu": written["cpu"], "processes": args.processes, "least build wall": bound}
        print(json.dumps(figures))
        print(
            f"{rendering['article pages']:,} article pages at {rendering['article page cpu'] * 1e6:.0f} us each ({rendering['article pages cpu']:.1f} s); "
            f"{rendering['documents']:,} documents in {rendering['documents cpu']:.1f} s; file-system floor {written['wall']:.1f} s (cpu {written['cpu']:.1f} s); "
            f"no build on {args.processes} cores can take less than {bound:.1f} s = {bound / written['wall']:.2f}x the floor",
            flush=True,
        )


if __name__ == "__main__":
    main()
