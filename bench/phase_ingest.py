"""Phase 1: the floor, and ingest with a cold and a warm ledger."""

from __future__ import annotations

import json
import statistics
import subprocess

from context import BENCH, Context, Row, Section
from measure import PYTHON, Timing, time_command

FLOOR_CODE = "import feedsvc.cli, pathlib, sys; [p.read_bytes() for p in pathlib.Path(sys.argv[1]).glob('*.txt')]"


def measure_floor(ctx: Context) -> Timing:
    """`import feedsvc.cli` plus reading every page file once."""
    argv = [PYTHON, "-c", FLOOR_CODE, str(ctx.seeds)]
    shown = f'python -c "{FLOOR_CODE}" {ctx.shown([str(ctx.seeds)])}'
    ctx.floor = time_command("floor", argv, ctx.env, ctx.runs, shown=shown)
    return ctx.floor


def verdict(timing: Timing, ctx: Context, times_floor: float) -> str:
    met = timing.wall <= times_floor * ctx.floor.wall
    return ("met" if met else "NOT met") + f" ({timing.wall / ctx.floor.wall:.1f}x)"


def run(ctx: Context) -> Section:
    section = Section("Ingest")
    floor = ctx.floor

    listing = ctx.feedsvc("articles", *ctx.seeds_args(), "--json")
    cold = time_command("ingest cold", listing, ctx.env, ctx.runs, setup=ctx.clear_ledger, shown=ctx.shown(listing) + " > /dev/null")
    ctx.keep_warm()
    section.rows.append(Row("ingest, cold (empty ledger): `articles --json`", f"{cold.wall:.3f} s (cpu {cold.cpu:.3f} s)", ctx.ratio(cold), "report", "", cold.command))

    warm = time_command("ingest warm", listing, ctx.env, ctx.runs, setup=ctx.restore_warm_ledger, shown=ctx.shown(listing) + " > /dev/null")
    section.rows.append(Row("ingest, warm ledger: `articles --json`", f"{warm.wall:.3f} s (cpu {warm.cpu:.3f} s)", ctx.ratio(warm), "<= 4x floor", verdict(warm, ctx, 4), warm.command))

    table = ctx.feedsvc("articles", *ctx.seeds_args())
    warm_table = time_command("ingest warm (table)", table, ctx.env, ctx.runs, shown=ctx.shown(table) + " > /dev/null")
    section.rows.append(Row("ingest, warm ledger: `articles` (table)", f"{warm_table.wall:.3f} s (cpu {warm_table.cpu:.3f} s)", ctx.ratio(warm_table), "<= 4x floor", verdict(warm_table, ctx, 4), warm_table.command))

    stages = in_process_stages(ctx)
    ingest_alone = stages["ingest() total"]["wall"]
    floor_ratio = (ingest_alone + stages["import feedsvc.cli"]["wall"]) / floor.wall
    section.rows.append(
        Row(
            "ingest alone, in process: import + `ingest()` with a warm ledger",
            f"{ingest_alone + stages['import feedsvc.cli']['wall']:.3f} s",
            f"{floor_ratio:.2f}x floor",
            "<= 4x floor",
            ("met" if floor_ratio <= 4 else "NOT met") + f" ({floor_ratio:.1f}x)",
            f"python bench/stages.py {ctx.shown([str(ctx.seeds), str(ctx.ledger)])}",
        )
    )
    in_process = sum(stages[name]["wall"] for name in ("import feedsvc.cli", "ingest() total", "articles()"))
    opening = stages["open the ledger (seal + cache)"]["wall"]
    every = stages["every record from the cache"]["wall"]
    section.notes.append(
        f"Where a warm `articles --json` goes: importing, `ingest()` and listing the articles take {in_process:.2f} s in one "
        f"process; the command takes {warm.wall:.2f} s in all, printing {ctx.articles:,} articles as indented JSON included. "
        f"Opening the ledger (its seal and the SQLite cache) takes {opening:.3f} s; a run that merges new pages looks up "
        f"only the records they touch. Reading every record from the cache, which listing all articles needs, takes "
        f"{every:.2f} s = {every / floor.wall:.1f}x the floor."
    )
    section.notes.append(
        "In-process stages of a warm run (medians of %d runs, seconds; the page reading and ledger loading are "
        "timed on their own and are also part of `ingest()`):\n\n| stage | wall | cpu |\n|---|---|---|\n" % ctx.runs
        + "\n".join(f"| {name} | {times['wall']:.3f} | {times['cpu']:.3f} |" for name, times in stages.items())
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
