"""How a run's cost grows with the history: the store benchmark.

    python bench/store.py --articles 10000,100000 --baseline eb06c8d,HEAD~1
    python bench/store.py --articles 10000,100000,1000000 --baseline eb06c8d

For each corpus size it generates its own pages (bench/corpus.py), records
them once, and then measures, with this checkout and, with --baseline REV,
with other revisions of feedsvc on the same corpus in the same run:

- floor: import feedsvc.cli and read every page once;
- one new page: a page of 50 new articles dropped in, then `feedsvc
  takedown ID` (an ingest of the new page plus an operator mark; it prints
  one line, so the figure is the run's own cost), wall time and peak memory;
- a fresh checkout: the same with no cache (this version only: the first
  run after a clone rebuilds the cache from the history);
- `articles --json`, which lists every article;
- `ledger verify`, which reads and hashes the whole history (this version);
- cold: `articles --json` with no history at all;
- build: `feedsvc build` after one new page, into a tree built before.

Medians of --runs runs. The figures go to bench/RESULTS.md, in the section
"Store", with this command line.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import corpus  # noqa: E402
from context import BENCH, EPOCH, FLOOR_CODE, REPO, write_section  # noqa: E402
from measure import PYTHON, load_average, machine, run_once  # noqa: E402

FIGURES = ("floor", "new page", "fresh checkout", "articles", "verify", "cold", "build")


def options(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--articles", default="10000,100000", help="comma-separated corpus sizes, multiples of 50")
    parser.add_argument("--runs", type=int, default=3, help="runs per figure; medians are reported")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--baseline", default="", help="comma-separated git revisions to measure beside this checkout")
    parser.add_argument("--skip", default="", help=f"comma-separated figures to leave out: {', '.join(FIGURES)}")
    parser.add_argument(
        "--full-up-to", type=int, default=100_000, help="larger corpora are measured without baselines and without `build` (default 100000)"
    )
    parser.add_argument("--work", type=Path, default=BENCH / "work" / "store")
    parser.add_argument("--results", type=Path, default=BENCH / "RESULTS.md")
    return parser.parse_args(argv)


class Version:
    """One feedsvc to measure: this checkout, or a revision checked out beside it."""

    def __init__(self, name: str, source: Path) -> None:
        self.name = name
        self.source = source

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("FEEDSVC_")}
        env.update(SOURCE_DATE_EPOCH=str(EPOCH), PYTHONPATH=str(self.source))
        return env

    def command(self, *args: str) -> list[str]:
        return [PYTHON, "-m", "feedsvc.cli", *args]


def run(argv: list[str], env: dict[str, str]) -> tuple[float, int]:
    """Wall seconds and peak memory (MB, children included) of one run;
    raises if it fails."""
    # Not from the checkout: Python puts the working folder first on the
    # path, which would shadow the version chosen by PYTHONPATH.
    result = run_once(argv, env, cwd=Path("/"))
    return result.wall, int(result.peak)


def history_of(seeds: Path) -> list[Path]:
    return [path for path in seeds.glob("ledger*") if not path.name.endswith(".lock")]


class Site:
    """A recorded corpus for one version, and a pristine copy to restore."""

    def __init__(self, work: Path, version: Version, articles: int, seed: int) -> None:
        self.version = version
        self.articles = articles
        self.seed = seed
        pages = work / f"corpus-{articles}-{seed}"
        if not (pages / "feedsvc.toml").exists():
            corpus.write(pages, seed, articles)
        self.seeds = work / f"{version.name}-{articles}" / "seeds"
        self.saved = work / f"{version.name}-{articles}" / "recorded"
        shutil.rmtree(self.seeds.parent, ignore_errors=True)
        shutil.copytree(pages, self.seeds)

    def record(self) -> float:
        """Record the corpus once (a cold run), keep the result; its wall time."""
        wall, _ = run(self.version.command("articles", "--json", "--seeds", str(self.seeds)), self.version.env())
        shutil.copytree(self.seeds, self.saved)
        return wall

    def restore(self, cache: bool = True) -> None:
        """Back to the recorded state, plus one new page."""
        for path in history_of(self.seeds):
            path.unlink()
        # Copied with their times: the next run on the same machine, not a
        # fresh checkout (which "fresh checkout" measures).
        for path in history_of(self.saved):
            shutil.copy2(path, self.seeds / path.name)
        shutil.rmtree(self.seeds / ".feedsvc-cache", ignore_errors=True)
        if cache and (self.saved / ".feedsvc-cache").exists():
            shutil.copytree(self.saved / ".feedsvc-cache", self.seeds / ".feedsvc-cache")
        for extra in self.seeds.glob("*.txt"):
            if not (self.saved / extra.name).exists():
                extra.unlink()
        corpus.new_page(self.seeds, self.seed, self.articles)

    def some_id(self) -> str:
        listed = subprocess.run(
            self.version.command("articles", "--seeds", str(self.saved), "--ledger", str(self.saved / "ledger.jsonl")),
            env={**self.version.env(), "FEEDSVC_READ_ONLY": "1"},
            capture_output=True,
            check=True,
            cwd="/",
        )
        return listed.stdout.split(maxsplit=1)[0].decode()


def measure(name: str, runs: int, setup, argv: list[str], env: dict[str, str]) -> tuple[float, int]:
    walls, peaks = [], []
    for _ in range(runs):
        setup()
        wall, peak = run(argv, env)
        walls.append(wall)
        peaks.append(peak)
        print(f"  {name}: {wall:.3f} s, {peak} MB", flush=True)
    return statistics.median(walls), int(statistics.median(peaks))


def figures(site: Site, runs: int, skip: set[str], current: bool) -> dict[str, tuple[float, int]]:
    version, seeds = site.version, str(site.seeds)
    env = version.env()
    found: dict[str, tuple[float, int]] = {}
    print(f"{version.name}, {site.articles:,} articles", flush=True)
    cold = site.record()
    if "cold" not in skip:
        found["cold"] = (cold, 0)
    target = site.some_id()
    floor = [PYTHON, "-c", FLOOR_CODE, seeds]
    if "floor" not in skip:
        found["floor"] = measure("floor", runs, site.restore, floor, env)
    if "new page" not in skip:
        found["new page"] = measure("new page", runs, site.restore, version.command("takedown", target, "--seeds", seeds), env)
    if current and "fresh checkout" not in skip:
        found["fresh checkout"] = measure(
            "fresh checkout", runs, lambda: site.restore(cache=False), version.command("takedown", target, "--seeds", seeds), env
        )
    if "articles" not in skip:
        found["articles"] = measure("articles", runs, site.restore, version.command("articles", "--json", "--seeds", seeds), env)
    if current and "verify" not in skip:
        found["verify"] = measure("verify", runs, site.restore, version.command("ledger", "verify", "--seeds", seeds), env)
    if "build" not in skip:
        out = site.seeds.parent / "out"
        run(version.command("build", "--seeds", str(site.saved), "--ledger", str(site.saved / "ledger.jsonl"), "--out", str(out)), env)
        found["build"] = measure("build", runs, site.restore, version.command("build", "--seeds", seeds, "--out", str(out)), env)
    return found


def worktree(revision: str, work: Path) -> Path:
    path = work / f"baseline-{revision}"
    if not (path / "feedsvc").exists():
        subprocess.run(["git", "-C", str(REPO), "worktree", "add", "--detach", "--force", str(path), revision], check=True)
    return path


def main(argv: list[str]) -> int:
    args = options(argv)
    sizes = [int(size) for size in args.articles.split(",")]
    skip = {name.strip() for name in args.skip.split(",") if name.strip()}
    args.work.mkdir(parents=True, exist_ok=True)
    versions = [Version("this", REPO)]
    for revision in filter(None, args.baseline.split(",")):
        versions.append(Version(f"baseline {revision}", worktree(revision, args.work)))
    started, load_before = time.monotonic(), load_average()
    results: dict[int, dict[str, dict[str, tuple[float, int]]]] = {}
    for size in sizes:
        results[size] = {}
        large = size > args.full_up_to
        for version in versions[:1] if large else versions:
            site = Site(args.work, version, size, args.seed)
            results[size][version.name] = figures(site, args.runs, skip | ({"build"} if large else set()), current=version.source == REPO)
    write_results(args, argv, sizes, versions, results, time.monotonic() - started, load_before)
    return 0


def write_results(args, argv, sizes, versions, results, seconds: float, load_before: str) -> None:
    lines = [
        "## Store",
        "",
        f"Produced by `python bench/store.py {' '.join(argv)}` on {dt.datetime.now(dt.timezone.utc):%Y-%m-%d %H:%M} UTC in {seconds:.0f} s "
        f"({machine()['cpus']} cpus; load average before: {load_before}, after: {load_average()}). Medians of {args.runs} run(s); "
        "memory is the command's peak resident size. Ratios compare figures measured in the same run.",
        "",
    ]
    header = ["figure", *[f"{size:,} articles" for size in sizes]]
    lines += ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    described = {
        "floor": "floor: import + read every page",
        "new page": "one new page: `takedown ID`",
        "fresh checkout": "one new page, no cache (fresh checkout)",
        "articles": "`articles --json` (lists all)",
        "verify": "`ledger verify` (hashes all)",
        "cold": "cold: `articles --json`, no history",
        "build": "`build` after one new page",
    }
    for figure in FIGURES:
        for version in versions:
            cells = []
            for size in sizes:
                value = results[size].get(version.name, {}).get(figure)
                if value is None:
                    cells.append("")
                    continue
                wall, peak = value
                floor = results[size].get(version.name, {}).get("floor")
                ratio = f", {wall / floor[0]:.1f}x floor" if floor and figure != "floor" else ""
                memory = f", {peak} MB" if peak else ""
                cells.append(f"{wall:.2f} s{memory}{ratio}")
            if any(cells):
                lines.append(f"| {described[figure]} ({version.name}) | " + " | ".join(cells) + " |")
    lines += ["", *growth(sizes, results, versions[0].name, described), ""]
    write_section(args.results, "Store", lines)


def growth(sizes, results, name: str, described: dict[str, str]) -> list[str]:
    """How each figure of this version grows from one corpus size to the next."""
    if len(sizes) < 2:
        return []
    steps = list(zip(sizes, sizes[1:]))
    lines = [
        f"How each figure grows ({name}): the time at the larger corpus over the time at the smaller, memory likewise.",
        "",
        "| figure | " + " | ".join(f"{small:,} -> {large:,} ({large // small}x articles)" for small, large in steps) + " |",
        "|" + "---|" * (len(steps) + 1),
    ]
    for figure in FIGURES:
        cells = []
        for small, large in steps:
            before, after = results[small].get(name, {}).get(figure), results[large].get(name, {}).get(figure)
            if not before or not after:
                cells.append("")
                continue
            memory = f", memory {after[1] / before[1]:.1f}x" if before[1] and after[1] else ""
            cells.append(f"time {after[0] / before[0]:.1f}x{memory}")
        if any(cells):
            lines.append(f"| {described[figure]} | " + " | ".join(cells) + " |")
    return lines


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
