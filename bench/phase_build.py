"""Phase 2: `feedsvc build` cold (with an empty history, and with a warm
store into an empty folder), beside the file-system floor that writes the
same files; with nothing changed; and after one new page. Where wanted, also
the plain-lxml baseline that writes the same Atom and RSS bytes."""

from __future__ import annotations

import itertools
import json
import shutil
import statistics
import subprocess
from pathlib import Path

from lxml import etree

from context import BENCH, Context, Row, Section, seconds
from measure import PYTHON, Timing, run_once, time_command


# Rebuilds are cheap at any size: at least this many, so that the median is
# not the first one after the cold build, which waits for the disk to take
# the cold build's writes (2.4 s against 0.6 s at 100,000 articles).
REBUILD_RUNS = 3


def run(ctx: Context) -> Section:
    section = Section("Build")
    out, floor_out = ctx.work / "out", ctx.work / "floor-out"
    build = ctx.feedsvc("build", *ctx.seeds_args(), "--out", str(out))
    shown = ctx.shown(build)
    env = ctx.env

    def fresh(ledger: str) -> None:
        """Only the pages, and the history as `ledger` says; no output and no
        build state (it is local, so a fresh checkout has none)."""
        ctx.drop_extra_pages()
        if ledger == "none":
            ctx.clear_ledger()
        else:
            ctx.restore_warm_ledger()
        if ledger == "history only":
            shutil.rmtree(ctx.ledger.parent / ".feedsvc-cache", ignore_errors=True)
        shutil.rmtree(ctx.work / ".feedsvc-build", ignore_errors=True)
        ctx.discard(out)

    # The cold build and the file-system floor, interleaved: the floor
    # writes the files the cold build just wrote, with as many processes.
    cold = Timing("build, cold: empty history and output", shown)
    floor = Timing("file-system floor", "")
    for number in range(ctx.cold_runs):
        time_command(cold.name, build, env, 1, setup=lambda: fresh("none"), timing=cold)
        if number == 0:
            ctx.keep_warm()
        split = write_floor(ctx, out, floor_out, floor)
    ctx.keep_peak(cold)
    files, megabytes = int(split["files"]), split["bytes"] / 1e6
    ctx.figures.update({"cold empty": cold.wall, "fs floor": floor.wall})
    section.rows.append(
        Row("fs floor", f"file-system floor: the cold build's files written by a plain loop in {ctx.processes} process(es)", f"{floor.wall:.3f} s (cpu {floor.cpu:.3f} s); {files:,} files, {megabytes:,.0f} MB", "", floor.command)
    )
    section.rows.append(
        Row("cold", "cold build, empty history and output", seconds(cold), f"{cold.wall / floor.wall:.2f}x file-system floor; {ctx.ratio(cold)}", cold.command)
    )

    if ctx.wanted("lxml"):
        ctx.restore_warm_ledger()
        lxml_rows(ctx, section, out)

    # Each rebuild after a new page right after a rebuild with nothing
    # changed: the same state a site is in before its daily page.
    unchanged = Timing("rebuild, nothing changed", shown)
    new_page = Timing("rebuild after one new page", "(new page renamed into the seeds folder) " + shown)
    for number in range(max(ctx.runs, REBUILD_RUNS)):
        time_command(unchanged.name, build, env, 1, timing=unchanged)
        time_command(new_page.name, build, env, 1, setup=lambda: ctx.add_page(number), timing=new_page)
    ctx.keep_peak(unchanged)
    ctx.keep_peak(new_page)
    ctx.figures.update({"unchanged": unchanged.wall, "new page": new_page.wall})
    section.rows.append(Row("unchanged", "rebuild, nothing changed", seconds(unchanged), ctx.ratio(unchanged), unchanged.command))
    section.rows.append(Row("new page", "rebuild after one new page of 50 articles", seconds(new_page), ctx.ratio(new_page), new_page.command))

    if ctx.profile:
        pages = itertools.count(ctx.runs)
        section.notes.append(profile(ctx, build, "build-cold", lambda: fresh("none")))
        section.notes.append(profile(ctx, build, "build-new-page", lambda: ctx.add_page(next(pages))))

    section.notes.append(
        f"Every command runs with FEEDSVC_BUILD_PROCESSES={ctx.processes}, and the file-system floor writes with as many processes. "
        "A cold build starts without the build state (`.feedsvc-build/`), which is local and so absent from a fresh checkout. "
        "The most processes of a command's tree seen at once are shown beside its figure."
    )

    # Last, so that the tree left for the serving phase is the warm store's.
    warm = Timing("build, cold: warm store, empty output", shown)
    checkout = Timing("build, cold: history only, empty output", shown)
    for _ in range(ctx.cold_runs):
        time_command(warm.name, build, env, 1, setup=lambda: fresh("warm"), timing=warm)
        if ctx.wanted("checkout"):
            time_command(checkout.name, build, env, 1, setup=lambda: fresh("history only"), timing=checkout)
    ctx.keep_peak(warm)
    ctx.figures["cold warm"] = warm.wall
    section.rows.append(
        Row("cold warm", "cold build, warm store (history and cache), empty output", seconds(warm), f"{warm.wall / floor.wall:.2f}x file-system floor; {ctx.ratio(warm)}", warm.command)
    )
    if checkout.walls:
        ctx.keep_peak(checkout)
        section.rows.append(
            Row("cold checkout", "cold build, history only (a fresh checkout: no cache), empty output", seconds(checkout), f"{checkout.wall / floor.wall:.2f}x file-system floor; {ctx.ratio(checkout)}", checkout.command)
        )
    ctx.drop_extra_pages()
    ctx.restore_warm_ledger()
    ctx.empty_trash()
    return section


def write_floor(ctx: Context, source: Path, folder: Path, timing: Timing) -> dict[str, float]:
    """One run of bench/write_floor.py, added to `timing`; its report."""
    report = ctx.work / "write_floor.json"
    argv = [PYTHON, str(BENCH / "write_floor.py"), str(source), str(folder), str(report), "--processes", str(ctx.processes)]
    timing.command = ctx.shown(argv[:4] + argv[5:])
    ctx.discard(folder)
    run_once(argv, ctx.env)
    ctx.discard(folder)
    split = json.loads(report.read_text())
    timing.walls.append(split["wall"])
    timing.cpus.append(split["cpu"])
    print(f"  {timing.name}: {split}", flush=True)
    return split


def lxml_rows(ctx: Context, section: Section, out: Path) -> None:
    """The plain-lxml baseline and feedsvc writing the same feeds only."""
    baseline_out, feeds_out = ctx.work / "lxml-out", ctx.work / "feeds-only-out"
    baseline, base_split = timed_script(ctx, "lxml baseline", BENCH / "lxml_baseline.py", baseline_out)
    feeds, feeds_split = timed_script(ctx, "feedsvc feeds only", BENCH / "feeds_only.py", feeds_out)
    same, total, canonical, differing = compare(out, baseline_out)
    section.rows.append(
        Row("lxml", "plain-lxml baseline: read the history, write the Atom + RSS documents", seconds(baseline) + f"; {int(base_split['files']):,} files", "", baseline.command)
    )
    section.rows.append(
        Row(
            "feeds only",
            "feedsvc, the same documents only (Site.render + write, warm store)",
            seconds(feeds) + f"; {int(feeds_split['files']):,} files",
            f"{feeds.wall / baseline.wall:.2f}x baseline; render+write alone {feeds_split['render_write'] / base_split['render_write']:.2f}x",
            feeds.command,
        )
    )
    section.notes.append(
        f"Baseline output against the cold build's files: {same:,} of {total:,} Atom/RSS documents byte-identical"
        + (f"; of the {total - same:,} others, {canonical:,} equal as canonical XML (C14N)" if same != total else "")
        + (f"; first differing file: {differing}" if differing else "")
        + ". The baseline builds one lxml tree per document; feedsvc renders each entry once and splices its bytes into each document."
    )
    ctx.discard(baseline_out)
    ctx.discard(feeds_out)


def timed_script(ctx: Context, name: str, script: Path, folder: Path) -> tuple[Timing, dict[str, float]]:
    """Run a bench script that writes files under `folder` and reports its
    own split (e.g. loading vs rendering and writing) as JSON."""
    report = ctx.work / f"{script.stem}.json"
    argv = [PYTHON, str(script), str(ctx.seeds), str(ctx.ledger), str(folder), str(report)]
    timing = Timing(name, ctx.shown(argv[:-1]))
    splits = []
    for _ in range(ctx.runs):
        ctx.discard(folder)
        run = run_once(argv, ctx.env)
        timing.add(run)
        splits.append(json.loads(report.read_text()))
        print(f"  {name}: {run.wall:.3f} s wall, {run.cpu:.3f} s cpu, {splits[-1]}", flush=True)
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
