"""What every benchmark phase shares: the options, the generated corpus, the
work folder, the environment the measured commands run in, and the rows
that end up in RESULTS.md."""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import corpus
from measure import PYTHON, Timing

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
# A fixed "now" so that cold runs write the same ledger and feeds every time.
EPOCH = 1769904000  # 2026-02-01T00:00:00Z
FEEDSVC = Path(PYTHON).parent / "feedsvc"
# The floor: import the CLI and read every page once, a page at a time (so
# that a million articles' pages do not have to fit in memory at once).
FLOOR_CODE = "import feedsvc.cli, pathlib, sys; sum(len(p.read_bytes()) for p in pathlib.Path(sys.argv[1]).glob('*.txt'))"


@dataclass
class Row:
    """One figure of a phase in RESULTS.md; rows of the same `key` measured
    at several corpus sizes share a line."""

    key: str
    what: str
    value: str
    ratio: str = ""
    command: str = ""


@dataclass
class Section:
    title: str
    rows: list[Row] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


@dataclass
class Context:
    articles: int
    runs: int
    seed: int
    work: Path
    profile: bool
    # Past this size, the figures no target needs are left out and cold
    # runs are made once (see run.py's --full-up-to).
    full_up_to: int = 100_000
    skip: frozenset[str] = frozenset()
    processes: int = field(default_factory=lambda: build_processes())
    sections: list[Section] = field(default_factory=list)
    floor: Timing | None = None
    # The numbers the targets table and the growth table are made of.
    figures: dict[str, float] = field(default_factory=dict)
    # Every timed feedsvc command: its peak memory, children included.
    peaks: dict[str, float] = field(default_factory=dict)

    @property
    def large(self) -> bool:
        return self.articles > self.full_up_to

    @property
    def cold_runs(self) -> int:
        """Runs of a cold figure: each one writes (and later deletes) the whole site."""
        return 1 if self.large else self.runs

    def wanted(self, extra: str) -> bool:
        """Whether a figure no target needs is measured at this size."""
        return extra not in self.skip and not self.large

    def keep_peak(self, timing: Timing) -> None:
        self.peaks[timing.name] = timing.peak

    @property
    def seeds(self) -> Path:
        return self.work / f"corpus-v{corpus.VERSION}-{self.articles}-{self.seed}" / "seeds"

    @property
    def ledger(self) -> Path:
        return self.work / "ledger.jsonl"

    @property
    def warm_ledger(self) -> Path:
        """A folder holding the history of the whole corpus and its cache,
        kept to restore from."""
        return self.work / f"ledger-warm-v{corpus.VERSION}-{self.articles}-{self.seed}"

    @property
    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("FEEDSVC_")}
        env["FEEDSVC_BUILD_PROCESSES"] = str(self.processes)
        env["SOURCE_DATE_EPOCH"] = str(EPOCH)
        env["PYTHONDONTWRITEBYTECODE"] = "0"
        return env

    def feedsvc(self, *args: str) -> list[str]:
        """The installed `feedsvc` command, run by this interpreter."""
        return [PYTHON, str(FEEDSVC), *args]

    def seeds_args(self) -> list[str]:
        return ["--seeds", str(self.seeds), "--ledger", str(self.ledger)]

    def prepare_corpus(self) -> None:
        """Generate the corpus once per size and seed; later runs reuse it."""
        marker = self.seeds.parent / "complete"
        if marker.exists():
            self.drop_extra_pages()
            return
        if self.seeds.exists():
            shutil.rmtree(self.seeds)
        print(f"generating {self.articles} articles into {self.seeds}", flush=True)
        corpus.write(self.seeds, self.seed, self.articles)
        marker.write_text("ok\n")

    def page_files(self) -> list[Path]:
        return sorted(self.seeds.glob("*.txt"))

    def drop_extra_pages(self) -> None:
        """Remove pages a rebuild benchmark dropped in, restoring the corpus."""
        last = self.articles // corpus.CARDS_PER_PAGE
        for path in self.seeds.glob("*.txt"):
            if corpus.page_number(path.name) >= last:
                path.unlink()

    def stage_page(self, index: int) -> Path:
        """New page `index`, written beside the seeds folder, to be renamed
        into it as a scraper would."""
        staging = self.work / "staging"
        staging.mkdir(exist_ok=True)
        return corpus.new_page(staging, self.seed, self.articles, index)

    def add_page(self, index: int = 0) -> Path:
        written = self.stage_page(index)
        return written.rename(self.seeds / written.name)

    def discard(self, folder: Path) -> None:
        """Move a folder out of the way at once; `empty_trash` deletes it
        later, or at once where the disk could not hold another tree."""
        if folder.exists():
            trash = self.work / "trash"
            trash.mkdir(exist_ok=True)
            folder.rename(trash / f"{folder.name}-{len(list(trash.iterdir()))}")
        if self.large:
            self.empty_trash()

    def empty_trash(self) -> None:
        """Delete the discarded folders. This disk deletes files at the pace
        of its latency (rm -rf of 10,000 article folders takes half a
        minute), so many rm processes work at once, on batches of the
        folders two levels down (an article's folder and its page)."""
        trash = self.work / "trash"
        if not trash.exists():
            return
        deep = []
        for tree in trash.iterdir():
            for child in tree.iterdir() if tree.is_dir() else []:
                if child.is_dir():
                    deep += [os.path.join(child, name) for name in os.listdir(child)]
        subprocess.run(["xargs", "-0", "-P", "16", "-n", "500", "rm", "-rf"], input="\0".join(deep).encode(), check=True)
        shutil.rmtree(trash, ignore_errors=True)

    def keep_warm(self) -> None:
        """Keep the history (and cache) as it stands, to restore from."""
        shutil.rmtree(self.warm_ledger, ignore_errors=True)
        self.warm_ledger.mkdir(parents=True)
        for part in history_parts(self.ledger):
            copy = shutil.copytree if part.is_dir() else shutil.copy2
            copy(part, self.warm_ledger / part.name)

    def restore_warm_ledger(self, ledger: Path | None = None) -> None:
        """The kept history (and cache) at `ledger` (default: the corpus's),
        with the files' times, so the cache trusts them as the same machine's."""
        target = ledger or self.ledger
        self.clear_ledger(target)
        for part in self.warm_ledger.iterdir():
            copy = shutil.copytree if part.is_dir() else shutil.copy2
            copy(part, target.parent / part.name.replace("ledger", target.stem, 1))

    def clear_ledger(self, ledger: Path | None = None) -> None:
        """No history at all: its files, its lock and its cache (the build
        state beside them stays)."""
        target = ledger or self.ledger
        for part in [*history_parts(target), target.with_name(target.name + ".lock")]:
            if part.is_dir():
                shutil.rmtree(part)
            else:
                part.unlink(missing_ok=True)

    def ratio(self, timing: Timing) -> str:
        if not self.floor:
            return ""
        return f"{timing.wall / self.floor.wall:.2f}x floor (cpu {timing.cpu / self.floor.cpu:.2f}x)"

    def shown(self, argv: list[str]) -> str:
        """A command as RESULTS.md shows it: paths relative to the repo, and
        the corpus size as N, so that one line serves every size."""
        text = " ".join(argv)
        text = text.replace(f"{PYTHON} {FEEDSVC}", "feedsvc").replace(PYTHON, "python")
        text = text.replace(str(self.work), "bench/work").replace(str(REPO) + "/", "")
        return text.replace(f"-{self.articles}-", "-N-")


def build_processes() -> int:
    """How many processes `feedsvc build` uses: FEEDSVC_BUILD_PROCESSES if set,
    else one per CPU. The file-system floor writes with as many."""
    return int(os.environ.get("FEEDSVC_BUILD_PROCESSES") or os.cpu_count() or 1)


def seconds(timing: Timing) -> str:
    """A timed figure as the tables show it."""
    processes = f", {timing.processes} processes" if timing.processes > 1 else ""
    return f"{timing.wall:.3f} s (cpu {timing.cpu:.3f} s, {timing.peak:.0f} MB{processes})"


def write_section(results: Path, title: str, lines: list[str]) -> None:
    """Put `lines` (starting with "## title") in RESULTS.md in place of the
    section of that title, or at its end; and print them."""
    text = results.read_text(encoding="utf-8") if results.exists() else "# feedsvc benchmark results\n"
    start = text.find(f"## {title}\n")
    if start >= 0:
        end = text.find("\n## ", start + 1)
        text = text[:start] + text[end + 1 if end >= 0 else len(text) :]
    results.write_text(text.rstrip("\n") + "\n\n" + "\n".join(lines), encoding="utf-8")
    print("\n".join(lines))


def history_parts(ledger: Path) -> list[Path]:
    """The files of the history that starts at `ledger` (its segments and
    seal, not its lock), and the folder of its cache."""
    from feedsvc.store.history import History

    parts = History(ledger).files()
    cache = ledger.parent / ".feedsvc-cache"
    return parts + ([cache] if cache.exists() else [])
