"""Run the feedsvc benchmarks end to end and write bench/RESULTS.md.

    python bench/run.py                              # 100,000 articles, 5 runs each
    python bench/run.py --articles 20000 --runs 3    # a quick run
    python bench/run.py --phases ingest --profile    # one phase, with a profile

It generates its own corpus under bench/work/ (git-ignored), measures every
figure beside its baseline in the same run, and writes the medians, the
ratios and the exact commands to RESULTS.md.
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from context import BENCH, Context, Row, Section  # noqa: E402
from measure import load_average, machine  # noqa: E402

PHASES = ("ingest", "build", "serve")


def options(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--articles", type=int, default=100_000, help="corpus size, a multiple of 50 (default 100000)")
    parser.add_argument("--runs", type=int, default=5, help="runs per figure; medians are reported (default 5)")
    parser.add_argument("--seed", type=int, default=1, help="corpus seed (default 1)")
    parser.add_argument("--phases", default=",".join(PHASES), help="comma-separated subset of %s" % ",".join(PHASES))
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
    unknown = set(phases) - set(PHASES)
    if unknown:
        print(f"unknown phase(s): {', '.join(sorted(unknown))}", file=sys.stderr)
        return 2
    args.work.mkdir(parents=True, exist_ok=True)
    ctx = Context(args.articles, args.runs, args.seed, args.work.resolve(), args.profile)
    started = time.time()
    ctx.prepare_corpus()
    load_before = load_average()

    import phase_ingest

    for phase in phases:
        reason = available(phase)
        if reason:
            ctx.sections.append(Section(phase.title(), notes=[f"Not measured: {reason}."]))
            print(f"{phase}: skipped, {reason}", flush=True)
            continue
        # The floor again before every phase: the ratios of a phase compare
        # figures taken minutes apart, not an hour apart on a shared machine.
        print(f"{phase}: floor", flush=True)
        floor = phase_ingest.measure_floor(ctx)
        print(phase, flush=True)
        module = importlib.import_module(f"phase_{phase}")
        section = module.run(ctx)
        section.rows.insert(0, Row("floor, measured before this phase: import feedsvc.cli + read every page once", f"{floor.wall:.3f} s (cpu {floor.cpu:.3f} s; runs {floor.spread()} s)", "1x", "report", "", floor.command))
        ctx.sections.append(section)
    ctx.drop_extra_pages()
    command = "python bench/run.py " + " ".join(argv) if argv else "python bench/run.py"
    write_results(args.results, ctx, command.strip(), time.time() - started, load_before)
    print(f"wrote {args.results}")
    return 0


def write_results(path: Path, ctx: Context, command: str, seconds: float, load_before: str) -> None:
    lines = [
        "# feedsvc benchmark results",
        "",
        f"Produced by `{command}` on {dt.datetime.now(dt.timezone.utc):%Y-%m-%d %H:%M} UTC in {seconds:.0f} s.",
        f"Corpus: {ctx.articles:,} articles in {ctx.articles // 50:,} pages of 50, 20 categories, 70% dated (seed {ctx.seed}).",
        f"Every figure is the median of {ctx.runs} runs; ratios compare figures measured in the same run.",
        "Wall time is the figure; CPU time (user + system) is shown beside it because the machine is shared "
        f"with other work (load average before the run: {load_before}; after: {load_average()}).",
        "",
        "## Machine",
        "",
    ]
    lines += [f"- {name}: {value}" for name, value in machine().items()]
    for section in ctx.sections:
        lines += ["", f"## {section.title}", ""]
        if section.rows:
            lines += ["| what | median | ratio | target | verdict |", "|---|---|---|---|---|"]
            lines += [f"| {r.what} | {r.value} | {r.ratio} | {r.target} | {r.verdict} |" for r in section.rows]
            lines += ["", "Commands:", ""]
            lines += [f"- {r.what}: `{r.command}`" for r in section.rows if r.command]
        for note in section.notes:
            lines += ["", note]
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
