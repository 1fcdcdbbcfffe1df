"""Phase 1: the floor, and ingest with a cold and a warm ledger."""

from __future__ import annotations

import json
import statistics
import subprocess

from context import BENCH, FLOOR_CODE, Context, Row, Section, seconds
from measure import PYTHON, Timing, time_command

def measure_floor(ctx: Context) -> Timing:
    """`import feedsvc.cli` plus reading every page file once."""
    argv = [PYTHON, "-c", FLOOR_CODE, str(ctx.seeds)]
    shown = f'python -c "{FLOOR_CODE}" {ctx.shown([str(ctx.seeds)])}'
    ctx.floor = time_command("floor", argv, ctx.env, ctx.runs, shown=shown)
    return ctx.floor


def run(ctx: Context) -> Section:
    section = Section("Ingest")
    floor = ctx.floor

    listing = ctx.feedsvc("articles", *ctx.seeds_args(), "--json")
    shown = ctx.shown(listing) + " > /dev/null"
    cold = time_command("articles --json, cold", listing, ctx.env, ctx.cold_runs, setup=ctx.clear_ledger, shown=shown)
    ctx.keep_warm()
    ctx.keep_peak(cold)
    section.rows.append(Row("cold", "`articles --json`, empty history", seconds(cold), ctx.ratio(cold), cold.command))

    warm = time_command("articles --json, warm", listing, ctx.env, ctx.runs, setup=ctx.restore_warm_ledger, shown=shown)
    ctx.keep_peak(warm)
    ctx.figures["articles warm"] = warm.wall
    section.rows.append(Row("warm", "`articles --json`, warm store", seconds(warm), ctx.ratio(warm), warm.command))

    if ctx.wanted("table"):
        table = ctx.feedsvc("articles", *ctx.seeds_args())
        warm_table = time_command("articles (table), warm", table, ctx.env, ctx.runs, shown=ctx.shown(table) + " > /dev/null")
        ctx.keep_peak(warm_table)
        section.rows.append(Row("table", "`articles` (table), warm store", seconds(warm_table), ctx.ratio(warm_table), warm_table.command))

    if ctx.wanted("stages"):
        stages = in_process_stages(ctx)
        in_process = sum(stages[name]["wall"] for name in ("import feedsvc.cli", "ingest() total", "articles()"))
        every = stages["every record from the cache"]["wall"]
        section.notes.append(
            f"Where a warm `articles --json` goes: importing, `ingest()` and listing the articles take {in_process:.2f} s in one "
            f"process; the command takes {warm.wall:.2f} s in all, printing {ctx.articles:,} articles as indented JSON included. "
            f"Reading every record from the cache takes {every:.2f} s = {every / floor.wall:.1f}x the floor. In-process stages "
            f"(`python bench/stages.py {ctx.shown([str(ctx.seeds), str(ctx.ledger)])}`, medians of {ctx.runs} runs, seconds; "
            "the page reading and the opening of the store are timed on their own and are also part of `ingest()`): "
            + "; ".join(f"{name} {times['wall']:.3f}" for name, times in stages.items())
            + "."
        )
    if ctx.profile:
        section.notes.append(profile_warm(ctx, listing))
    return section


def in_process_stages(ctx: Context) -> dict[str, dict[str, float]]:
    argv = [PYTHON, str(BENCH / "stages.py"), str(ctx.seeds), str(ctx.ledger)]
    samples = []
    for _ in range(ctx.runs):
        ctx.restore_warm_ledger()
        out = subprocess.run(argv, env=ctx.env, capture_output=True, check=True)
        samples.append(json.loads(out.stdout))
        print("  stages:", {k: round(v["wall"], 3) for k, v in samples[-1].items()}, flush=True)
    return {
        name: {kind: statistics.median(s[name][kind] for s in samples) for kind in ("wall", "cpu")}
        for name in samples[0]
    }


def profile_warm(ctx: Context, listing: list[str]) -> str:
    """Profile one warm `articles --json` run with pyinstrument; keep the
    full call tree in the work folder and quote the top of the flat view."""
    ctx.restore_warm_ledger()
    folder = ctx.work / "profiles"
    folder.mkdir(exist_ok=True)
    tree, flat = folder / "ingest-warm.txt", folder / "ingest-warm-flat.txt"
    base = [PYTHON, "-m", "pyinstrument", "-r", "text"]
    command = listing[2:]
    subprocess.run(base + ["-o", str(tree), "-m", "feedsvc.cli", *command], env=ctx.env, stdout=subprocess.DEVNULL, check=True)
    ctx.restore_warm_ledger()
    subprocess.run(
        base + ["-p", "flat=true", "-p", "time=percent_of_total", "-o", str(flat), "-m", "feedsvc.cli", *command],
        env=ctx.env,
        stdout=subprocess.DEVNULL,
        check=True,
    )
    lines = [line for line in flat.read_text().splitlines() if "%" in line][:15]
    return (
        f"pyinstrument, warm `articles --json`, flat view by own time (full tree: {ctx.shown([str(tree)])}):\n\n```\n"
        + "\n".join(lines)
        + "\n```"
    )
