"""Run the feedsvc benchmarks end to end and write bench/RESULTS.md.

    python bench/run.py                                        # 100,000 articles, 5 runs each
    python bench/run.py --articles 10000,100000,1000000 --runs 3   # every size the targets name
    python bench/run.py --articles 20000 --runs 3              # a quick run
    python bench/run.py --phases ingest --profile              # one phase, with a profile
    python bench/run.py --articles 1000000 --reuse 10000,100000    # one size more, beside saved ones
    python bench/run.py --articles '' --reuse 10000,100000,1000000 # only write the saved figures again

For each corpus size in turn, it generates its own corpus under the work
folder (reused by later runs), measures every figure beside its floor in the
same run, and saves the size's figures there. RESULTS.md then opens with the
issue's targets and a verdict, a table of how each figure grows with the
corpus, and each phase's figures with a column per size and the exact
commands. --reuse adds sizes measured by an earlier run with the same work
folder, so that a long size can be measured on its own.

Past --full-up-to articles, the figures that no target needs (the lxml
baseline, the in-process stages, the `articles` table, the fresh-checkout
build) are left out, each cold figure is measured once, and each discarded
tree is deleted at once: a built tree of 1,000,000 articles takes about
13 GB, and at most two (the build's and the file-system floor's) exist at
a time (with the corpus, the history and its copies, 1,000,000 articles
need about 35 GB free). 100,000 articles take about 7 minutes with --runs 1
on the 2-core machine the results come from.
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib
import shlex
import shutil
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import report  # noqa: E402
from context import BENCH, Context, Row, Section, build_processes  # noqa: E402
from measure import load_average, machine  # noqa: E402

PHASES = ("ingest", "build", "serve")
EXTRAS = ("lxml", "stages", "table", "checkout")


def options(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--articles", default="100000", help="comma-separated corpus sizes, multiples of 50 (default 100000)")
    parser.add_argument("--reuse", default="", help="comma-separated sizes whose figures an earlier run saved in the work folder")
    parser.add_argument("--runs", type=int, default=5, help="runs per figure; medians are reported (default 5)")
    parser.add_argument("--seed", type=int, default=1, help="corpus seed, and seed of the random requests (default 1)")
    parser.add_argument("--phases", default=",".join(PHASES), help="comma-separated subset of %s" % ",".join(PHASES))
    parser.add_argument("--skip", default="", help="comma-separated figures no target needs, to leave out: %s" % ",".join(EXTRAS))
    parser.add_argument("--full-up-to", type=int, default=100_000, help="larger corpora: no extra figures, one run per cold figure (default 100000)")
    parser.add_argument("--processes", type=int, default=build_processes(), help="FEEDSVC_BUILD_PROCESSES for the commands and the file-system floor's processes (default: FEEDSVC_BUILD_PROCESSES, else the CPU count)")
    parser.add_argument("--profile", action="store_true", help="also profile with pyinstrument (slower)")
    parser.add_argument("--work", type=Path, default=BENCH / "work", help="scratch folder (default bench/work)")
    parser.add_argument("--results", type=Path, default=BENCH / "RESULTS.md", help="where to write the figures")
    return parser.parse_args(argv)


def available(phase: str) -> str | None:
    """Why a phase cannot run yet, or None when it can."""
    if phase == "build":
        from feedsvc.cli import main

        return None if "build" in main.commands else "`feedsvc build` does not exist yet"
    if phase == "serve":
        try:
            importlib.import_module("feedsvc.serve.app")
        except ImportError as error:
            return f"feedsvc.serve.app cannot be imported ({error})"
    return None


def main(argv: list[str]) -> int:
    args = options(argv)
    phases = [p.strip() for p in args.phases.split(",") if p.strip()]
    skip = frozenset(e.strip() for e in args.skip.split(",") if e.strip())
    unknown = (set(phases) - set(PHASES)) | (skip - set(EXTRAS))
    if unknown:
        print(f"unknown phase(s) or figure(s): {', '.join(sorted(unknown))}", file=sys.stderr)
        return 2
    args.work.mkdir(parents=True, exist_ok=True)
    work = args.work.resolve()
    command = " ".join(["python bench/run.py", *map(shlex.quote, argv)])
    sizes = {size: report.Measured.load(work, size) for size in numbers(args.reuse)}
    for articles in numbers(args.articles):
        ctx = Context(articles, args.runs, args.seed, work, args.profile, args.full_up_to, skip, args.processes)
        sizes[articles] = measure(ctx, phases, command)
        sizes[articles].save(work)
    write_results(args.results, sizes, command)
    print(f"wrote {args.results}")
    return 0


def numbers(text: str) -> list[int]:
    return [int(n) for n in text.split(",") if n.strip()]


def measure(ctx: Context, phases: list[str], command: str) -> report.Measured:
    started, load_before = time.time(), load_average()
    ctx.prepare_corpus()
    # Nothing of another corpus size: its history, its build state or its output.
    ctx.clear_ledger()
    shutil.rmtree(ctx.work / ".feedsvc-build", ignore_errors=True)
    ctx.discard(ctx.work / "out")
    ctx.empty_trash()

    import phase_ingest

    for phase in phases:
        reason = available(phase)
        if reason:
            ctx.sections.append(Section(phase.title(), notes=[f"Not measured: {reason}."]))
            print(f"{phase}: skipped, {reason}", flush=True)
            continue
        # The floor again before every phase: the ratios of a phase compare
        # figures taken minutes apart, not an hour apart on a shared machine.
        print(f"{ctx.articles:,} articles, {phase}: floor", flush=True)
        floor = phase_ingest.measure_floor(ctx)
        ctx.figures[f"{phase} floor"] = floor.wall
        print(f"{ctx.articles:,} articles, {phase}", flush=True)
        module = importlib.import_module(f"phase_{phase}")
        section = module.run(ctx)
        section.rows.insert(0, Row("floor", "floor, measured before this phase: import feedsvc.cli + read every page once", f"{floor.wall:.3f} s (cpu {floor.cpu:.3f} s; runs {floor.spread()} s)", "", floor.command))
        ctx.sections.append(section)
    ctx.drop_extra_pages()
    if ctx.peaks:
        ctx.figures["peak"] = max(ctx.peaks.values())
    return report.Measured(
        articles=ctx.articles,
        command=command,
        date=f"{dt.datetime.now(dt.timezone.utc):%Y-%m-%d %H:%M} UTC",
        seconds=time.time() - started,
        load_average=f"{load_before}, then {load_average()}",
        runs=ctx.runs,
        cold_runs=ctx.cold_runs,
        processes=ctx.processes,
        sections=ctx.sections,
        figures=ctx.figures,
        peaks=ctx.peaks,
    )


def write_results(path: Path, sizes: dict[int, report.Measured], command: str) -> None:
    order = sorted(sizes)
    lines = [
        "# feedsvc benchmark results",
        "",
        f"Produced by `{command}`. Corpora from bench/corpus.py: pages of 50 articles, 20 categories, 70% dated.",
        "",
    ]
    for size in order:
        m = sizes[size]
        reused = "" if m.command == command else f", by `{m.command}`"
        runs = f"medians of {m.runs} run(s)" + (f" ({m.cold_runs} for each cold figure)" if m.cold_runs != m.runs else "")
        lines.append(f"- {size:,} articles: {m.date}{reused}, {m.seconds / 60:.0f} min; {runs}; FEEDSVC_BUILD_PROCESSES={m.processes}; load average {m.load_average}.")
    lines += [
        "",
        "Ratios compare figures measured in the same run, on this machine: "
        + ", ".join(f"{name} {value}" for name, value in machine().items())
        + ". Wall time is the figure; CPU time is shown beside it because the machine is shared with other work.",
        "",
        "## Targets",
        "",
        "From issue 10. The floor is `import feedsvc.cli` plus reading every page once, measured before each phase; "
        "the file-system floor writes the cold build's files again in a plain loop, with as many processes as the build uses.",
        "",
        *report.targets(sizes),
    ]
    grown = report.growth(sizes)
    if grown:
        lines += ["", "## How each figure grows with the corpus", "", *grown]
    lines += report.phases(sizes)
    lines += report.peaks(sizes)
    lines += kept_sections(path)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


# Sections that other tools write into RESULTS.md (fuzz/run.py's figures):
# carried over as they are when the benchmarks rewrite the file.
KEPT_SECTIONS = ("## Fuzzing", "## Focused measurements", "## Store", "## Sites")


def kept_sections(path: Path) -> list[str]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError:
        return []
    kept: list[str] = []
    keeping = False
    for line in text.splitlines():
        if line.startswith("## "):
            keeping = line.strip() in KEPT_SECTIONS
            if keeping:
                kept.append("")
        if keeping:
            kept.append(line)
    return kept


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
