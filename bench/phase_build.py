"""Phase 2: `feedsvc build` cold, with nothing changed, after one new page,
and with a warm ledger into an empty folder; beside the plain-lxml baseline
that writes the same Atom and RSS bytes, measured in the same run."""

from __future__ import annotations

import json
import statistics
import subprocess
from pathlib import Path

from lxml import etree

from context import BENCH, Context, Row, Section
from measure import PYTHON, Timing, run_once, time_command


def verdict(timing: Timing, ctx: Context, times_floor: float) -> str:
    ratio = timing.wall / ctx.floor.wall
    return ("met" if ratio <= times_floor else "NOT met") + f" ({ratio:.1f}x)"


def seconds(timing: Timing) -> str:
    return f"{timing.wall:.3f} s (cpu {timing.cpu:.3f} s)"


def run(ctx: Context) -> Section:
    section = Section("Build")
    out, baseline_out, feeds_out = ctx.work / "out", ctx.work / "lxml-out", ctx.work / "feeds-only-out"
    snapshot = ctx.work / f"out-snapshot-{ctx.articles}-{ctx.seed}"
    build = ctx.feedsvc("build", *ctx.seeds_args(), "--out", str(out))
    shown = ctx.shown(build)

    def cold_setup() -> None:
        ctx.drop_extra_pages()
        ctx.clear_ledger()
        ctx.discard(out)

    cold = time_command("build cold", build, ctx.env, ctx.runs, setup=cold_setup, shown=shown)
    ctx.keep_warm()
    files = sum(1 for path in out.rglob("*") if path.is_file())
    section.rows.append(Row(f"cold build, empty ledger and output ({files:,} files)", seconds(cold), ctx.ratio(cold), "< 20 s", ("met" if cold.wall < 20 else "NOT met"), cold.command))
    floor, floor_split = timed_script(ctx, "write floor", BENCH / "write_floor.py", ctx.work / "floor-out", source=out)
    section.rows.append(
        Row(
            f"file-system floor: write the same {int(floor_split['files']):,} files ({floor_split['bytes'] / 1e6:.0f} MB) in a plain loop",
            f"{floor_split['wall']:.3f} s (cpu {floor_split['cpu']:.3f} s)",
            f"cold build = {cold.wall / floor_split['wall']:.2f}x this",
            "report",
            "",
            floor.command,
        )
    )

    baseline, base_split = timed_script(ctx, "lxml baseline", BENCH / "lxml_baseline.py", baseline_out)
    feeds, feeds_split = timed_script(ctx, "feedsvc feeds only", BENCH / "feeds_only.py", feeds_out)
    same, total, canonical, differing = compare(out, baseline_out)
    section.rows.append(
        Row(
            f"plain-lxml baseline: read the ledger, write the {int(base_split['files']):,} Atom + RSS documents",
            seconds(baseline),
            f"cold build = {cold.wall / baseline.wall:.2f}x baseline",
            "ratio near 1",
            "",
            baseline.command,
        )
    )
    section.rows.append(
        Row(
            f"feedsvc, the same {int(feeds_split['files']):,} documents only (Site.render + write, warm ledger)",
            seconds(feeds),
            f"{feeds.wall / baseline.wall:.2f}x baseline; render+write alone {feeds_split['render_write']:.2f} s vs {base_split['render_write']:.2f} s = "
            f"{feeds_split['render_write'] / base_split['render_write']:.2f}x",
            "ratio near 1",
            "",
            feeds.command,
        )
    )
    section.notes.append(
        f"Baseline output against the cold build's files: {same:,} of {total:,} Atom/RSS documents byte-identical"
        + (f"; of the {total - same:,} others, {canonical:,} equal as canonical XML (C14N)" if same != total else "")
        + (f"; first differing file: {differing}" if differing else "")
        + ". The baseline builds one lxml tree per document (every entry built again for each document it is in); "
        "feedsvc renders each entry once and splices the bytes into each document."
    )

    section.notes.append(
        f"Cold build: writing the same {int(floor_split['files']):,} files in a plain Python loop takes {floor_split['wall']:.1f} s "
        f"on this disk (every article page is a folder with an index.html), {floor_split['wall'] / 20:.0%} of the 20 s budget "
        f"before any parsing or rendering. The build runs on one core ({cold.cpu:.1f} s CPU for {cold.wall:.1f} s wall)."
    )
    unchanged = time_command("build, nothing changed", build, ctx.env, ctx.runs, shown=shown)
    section.rows.append(Row("rebuild, nothing changed", seconds(unchanged), ctx.ratio(unchanged), "<= 2x floor", verdict(unchanged, ctx, 2), unchanged.command))

    ctx.discard(snapshot)
    subprocess.run(["cp", "-al", str(out), str(snapshot)], check=True)

    def new_page_setup() -> None:
        ctx.drop_extra_pages()
        ctx.restore_warm_ledger()
        ctx.discard(out)
        # Hard links are safe: the build replaces files by renaming, never in place.
        subprocess.run(["cp", "-al", str(snapshot), str(out)], check=True)
        ctx.add_page(0)

    new_page = time_command("build after one new page", build, ctx.env, ctx.runs, setup=new_page_setup, shown=shown)
    section.rows.append(
        Row("rebuild after one new page of 50 articles", seconds(new_page), ctx.ratio(new_page), "<= 4x floor", verdict(new_page, ctx, 4), "(new page dropped into the seeds) " + new_page.command)
    )

    section.notes.append(
        "A rebuild after one new page looks up in the ledger's cache only what the page touches and appends only "
        "its new lines to the history, but it still builds the whole site model (every article, its fingerprint, "
        "every target), checks the size of every file on disk, and reads and rewrites the manifest of every file; "
        "only the changed documents are rendered. See the profile below."
    )

    if ctx.profile:
        section.notes.append(profile(ctx, build, "build-cold", cold_setup))
        section.notes.append(profile(ctx, build, "build-new-page", new_page_setup))

    # Last, so that the tree left for the serving phase is the warm ledger's.
    def warm_setup() -> None:
        ctx.drop_extra_pages()
        ctx.restore_warm_ledger()
        ctx.discard(out)

    warm = time_command("build, warm ledger, empty output", build, ctx.env, ctx.runs, setup=warm_setup, shown=shown)
    section.rows.append(Row("cold build with a warm ledger and an empty output folder", seconds(warm), ctx.ratio(warm), "report", "", warm.command))

    ctx.drop_extra_pages()
    ctx.restore_warm_ledger()
    for folder in (baseline_out, feeds_out, snapshot, ctx.work / "floor-out"):
        ctx.discard(folder)
    ctx.empty_trash()
    return section


def timed_script(ctx: Context, name: str, script: Path, folder: Path, source: Path | None = None) -> tuple[Timing, dict[str, float]]:
    """Run a bench script that writes files under `folder` and reports its
    own split (e.g. loading vs rendering and writing) as JSON."""
    report = ctx.work / f"{script.stem}.json"
    inputs = [str(source)] if source else [str(ctx.seeds), str(ctx.ledger)]
    argv = [PYTHON, str(script), *inputs, str(folder), str(report)]
    timing = Timing(name, ctx.shown(argv[:-1]))
    splits = []
    for _ in range(ctx.runs):
        ctx.discard(folder)
        wall, cpu = run_once(argv, ctx.env)
        timing.walls.append(wall)
        timing.cpus.append(cpu)
        splits.append(json.loads(report.read_text()))
        print(f"  {name}: {wall:.3f} s wall, {cpu:.3f} s cpu, {splits[-1]}", flush=True)
    split = {key: statistics.median(s[key] for s in splits) for key in splits[0]}
    return timing, split


def compare(out: Path, baseline_out: Path) -> tuple[int, int, int, str]:
    """How many baseline files equal feedsvc's byte for byte, how many
    more are equal as canonical XML, and the first that differs."""
    same = canonical = total = 0
    differing = ""
    for path in sorted(baseline_out.rglob("*")):
        if not path.is_file():
            continue
        total += 1
        relative = path.relative_to(baseline_out)
        theirs = out / relative
        mine = path.read_bytes()
        if theirs.exists() and theirs.read_bytes() == mine:
            same += 1
        elif theirs.exists() and c14n(theirs.read_bytes()) == c14n(mine):
            canonical += 1
        elif not differing:
            differing = str(relative)
    return same, total, canonical, differing


def c14n(data: bytes) -> bytes:
    return etree.tostring(etree.fromstring(data), method="c14n")


def profile(ctx: Context, build: list[str], name: str, setup) -> str:
    setup()
    folder = ctx.work / "profiles"
    folder.mkdir(exist_ok=True)
    tree, flat = folder / f"{name}.txt", folder / f"{name}-flat.txt"
    base = [PYTHON, "-m", "pyinstrument", "-r", "text"]
    subprocess.run(base + ["-o", str(tree), "-m", "feedsvc.cli", *build[2:]], env=ctx.env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    setup()
    subprocess.run(
        base + ["-p", "flat=true", "-p", "time=percent_of_total", "-o", str(flat), "-m", "feedsvc.cli", *build[2:]],
        env=ctx.env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        check=True,
    )
    lines = [line for line in flat.read_text().splitlines() if "%" in line][:15]
    return f"pyinstrument, {name}, flat view by own time (full tree: {ctx.shown([str(tree)])}):\n\n```\n" + "\n".join(lines) + "\n```"
