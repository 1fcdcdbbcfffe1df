"""The rebuild after one new page, at several corpus sizes in one run.

    python bench/new_page.py --articles 100000,1000000 [--rounds 5] [--work bench/work-new-page]

The target compares this figure at 1,000,000 articles with the one at
100,000, and the two are only worth comparing when the same disk, in the
same hour, measured both: this machine's disk speed moves during the day.
So each size gets its own folder (its corpus, its history and its built
tree, made once and reused by later runs), and the rounds alternate between
the sizes. In each round, each size has a rebuild with nothing changed,
then a new page renamed into its seeds folder and the rebuild that is
timed, the state a site is in before its daily page (as in the build
phase of bench/run.py). The floor, `import feedsvc.cli` plus reading every
page once, is measured beside it in each round. Prints each run, then the
medians and the ratios.

With --unsynced MB, MB megabytes of new files are written into the work
folder before each timed rebuild and not synced, as a checkout or a `pip
install` right before a build in CI leaves them: a build that syncs the
whole file system waits for them.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from context import FLOOR_CODE, Context  # noqa: E402
from measure import PYTHON, Timing, load_average, time_command  # noqa: E402


def prepared(articles: int, work: Path) -> Context:
    """The size's corpus, history and built tree, made on the first run;
    on later runs, the history as the first build left it (the pages an
    earlier run added are gone from the corpus, and their articles from
    the history, so that they are new again) and the tree rebuilt from it."""
    ctx = Context(articles=articles, runs=1, seed=1, work=work / str(articles), profile=False)
    ctx.work.mkdir(parents=True, exist_ok=True)
    ctx.prepare_corpus()
    built = ctx.work / "built"
    if built.exists():
        ctx.restore_warm_ledger()
        time_command("rebuild from the first build's history", build_argv(ctx), ctx.env, 1)
    else:
        print(f"{articles:,} articles: first build", flush=True)
        ctx.clear_ledger()
        time_command("first build", build_argv(ctx), ctx.env, 1)
        ctx.keep_warm()
        built.write_text("ok\n")
    return ctx


def write_unsynced(folder: Path, megabytes: int) -> None:
    """`megabytes` of new files in `folder`, left for the kernel to write
    back, in place of the last ones: what a checkout or a `pip install`
    leaves behind just before a build."""
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    chunk = os.urandom(1 << 20)
    for number in range(megabytes):
        (folder / f"{number}.bin").write_bytes(chunk)


def build_argv(ctx: Context) -> list[str]:
    return ctx.feedsvc("build", *ctx.seeds_args(), "--out", str(ctx.work / "out"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--articles", default="100000,1000000", help="comma-separated corpus sizes, multiples of 50")
    parser.add_argument("--rounds", type=int, default=5, help="rounds of each size (0: only prepare the sizes)")
    parser.add_argument("--unsynced", type=int, default=0, metavar="MB", help="MB megabytes of new files written, not synced, before each timed rebuild")
    parser.add_argument("--work", type=Path, default=Path(__file__).resolve().parent / "work-new-page")
    args = parser.parse_args()
    sizes = [int(size) for size in args.articles.split(",")]
    contexts = [prepared(size, args.work) for size in sizes]
    if not args.rounds:  # only prepared
        return
    timings = {ctx.articles: (Timing("floor", ""), Timing("unchanged", ""), Timing("new page", "")) for ctx in contexts}
    print(f"load average before the rounds: {load_average()}", flush=True)
    for number in range(args.rounds):
        for ctx in contexts:
            floor, unchanged, new_page = timings[ctx.articles]
            print(f"round {number + 1}, {ctx.articles:,} articles", flush=True)
            time_command("floor", [PYTHON, "-c", FLOOR_CODE, str(ctx.seeds)], ctx.env, 1, timing=floor)
            time_command("rebuild, nothing changed", build_argv(ctx), ctx.env, 1, timing=unchanged)

            def setup() -> None:
                ctx.add_page(number)
                if args.unsynced:
                    write_unsynced(args.work / "unsynced", args.unsynced)

            time_command("rebuild after one new page", build_argv(ctx), ctx.env, 1, setup=setup, timing=new_page)
    print(f"load average after the rounds: {load_average()}")
    print()
    print("| articles | floor | nothing changed | one new page | new page / floor |")
    print("|---|---|---|---|---|")
    for size, (floor, unchanged, new_page) in timings.items():
        print(f"| {size:,} | {floor.wall:.3f} s | {unchanged.wall:.3f} s | {new_page.wall:.3f} s (runs {new_page.spread()} s, {new_page.peak:.0f} MB) | {new_page.wall / floor.wall:.2f}x |")
    first = timings[sizes[0]][2]
    for size in sizes[1:]:
        later = timings[size][2]
        pairs = [b / a for a, b in zip(first.walls, later.walls)]
        print(f"one new page at {size:,} over {sizes[0]:,}: {later.wall / first.wall:.2f}x (medians); per round {', '.join(f'{r:.2f}x' for r in pairs)}, median {statistics.median(pairs):.2f}x")


if __name__ == "__main__":
    main()
