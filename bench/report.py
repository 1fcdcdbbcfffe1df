"""What bench/run.py writes to RESULTS.md: the issue's targets with a
verdict, how each figure grows with the corpus, and each phase's figures,
with a column per corpus size.

The figures of one corpus size (a `Measured`) are also saved as JSON in the
work folder, so that a size measured in an earlier run can join the tables
(run.py --reuse) without being measured again.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from context import Row, Section

HUNDRED_K, MILLION = 100_000, 1_000_000
PHASES = ["Ingest", "Build", "Serve"]  # the order of their sections


@dataclass
class Measured:
    """Everything one corpus size contributed to the results."""

    articles: int
    command: str
    date: str
    seconds: float
    load_average: str  # before and after
    runs: int
    cold_runs: int
    processes: int
    sections: list[Section] = field(default_factory=list)
    figures: dict[str, float] = field(default_factory=dict)
    peaks: dict[str, float] = field(default_factory=dict)  # MB, per timed feedsvc command

    def save(self, work: Path) -> None:
        saved(work, self.articles).write_text(json.dumps(dataclasses.asdict(self), indent=1), encoding="utf-8")

    @classmethod
    def load(cls, work: Path, articles: int) -> "Measured":
        data = json.loads(saved(work, articles).read_text(encoding="utf-8"))
        data["sections"] = [Section(s["title"], [Row(**r) for r in s["rows"]], s["notes"]) for s in data["sections"]]
        return cls(**data)


def saved(work: Path, articles: int) -> Path:
    return work / f"results-{articles}.json"


Sizes = dict[int, Measured]
Measure = Callable[[Sizes, int], "float | None"]


def over(key: str, base: str) -> Measure:
    """A figure over another figure of the same corpus size."""

    def measure(sizes: Sizes, size: int) -> float | None:
        figures = sizes[size].figures
        return figures[key] / figures[base] if key in figures and base in figures else None

    return measure


def across(key: str, base_size: int) -> Measure:
    """A figure over the same figure at another corpus size."""

    def measure(sizes: Sizes, size: int) -> float | None:
        if base_size not in sizes or key not in sizes[base_size].figures or key not in sizes[size].figures:
            return None
        return sizes[size].figures[key] / sizes[base_size].figures[key]

    return measure


def plain(key: str) -> Measure:
    return lambda sizes, size: sizes[size].figures.get(key)


@dataclass(frozen=True)
class Check:
    """One bound of a target: `measure` <= `limit` (or >= with `at_least`),
    at one corpus size, or at every size measured (None)."""

    size: int | None
    measure: Measure
    limit: float
    shown: str  # the figure's unit, as in "4.1x floor"
    at_least: bool = False

    def verdict(self, sizes: Sizes) -> list[str]:
        """What fails or is missing, as phrases; empty when met."""
        wanted = [self.size] if self.size else sorted(sizes)
        phrases = []
        for size in wanted:
            value = self.measure(sizes, size) if size in sizes else None
            if value is None:
                phrases.append(f"not measured at {size:,}")
            elif (value < self.limit) if self.at_least else (value > self.limit):
                phrases.append(f"NOT met at {size:,} ({value:.2f}{self.shown})")
        return phrases


@dataclass(frozen=True)
class Target:
    figure: str
    target: str
    cell: Callable[[Sizes, int], str]
    checks: tuple[Check, ...]

    def verdict(self, sizes: Sizes) -> str:
        phrases = dict.fromkeys(phrase for check in self.checks for phrase in check.verdict(sizes))
        return "; ".join(phrases) if phrases else "met"


def _cell(text: Callable[[dict[str, float], Sizes, int], str], *keys: str) -> Callable[[Sizes, int], str]:
    """A table cell from a size's figures, or empty when one is missing."""

    def cell(sizes: Sizes, size: int) -> str:
        figures = sizes[size].figures
        return text(figures, sizes, size) if all(key in figures for key in keys) else ""

    return cell


def _seconds_over(key: str, base: str, label: str = "floor") -> Callable[[Sizes, int], str]:
    """A cell showing a time and how many times another time of the same size it is."""
    return _cell(lambda f, *_: _ratio_text(f, key, base, label), key, base)


def _ratio_text(figures: dict[str, float], key: str, base: str, label: str) -> str:
    return f"{figures[key]:.2f} s = {figures[key] / figures[base]:.2f}x {label}"


def _new_page(figures: dict[str, float], sizes: Sizes, size: int) -> str:
    text = _ratio_text(figures, "new page", "build floor", "floor")
    growth = across("new page", HUNDRED_K)(sizes, size) if size > HUNDRED_K else None
    return text + (f"; {growth:.2f}x the 100,000 figure" if growth else "")


def _peak(figures: dict[str, float], sizes: Sizes, size: int) -> str:
    peaks = sizes[size].peaks
    worst = max(peaks, key=peaks.get)
    return f"{peaks[worst]:.0f} MB ({worst})"


TARGETS = (
    Target(
        "rebuild after one new page of 50 (right after a no-change rebuild)",
        "<= 4x floor at 100,000; at 1,000,000 <= 1.5x its 100,000 figure",
        _cell(_new_page, "new page", "build floor"),
        (Check(HUNDRED_K, over("new page", "build floor"), 4, "x floor"), Check(MILLION, across("new page", HUNDRED_K), 1.5, "x the 100,000 figure")),
    ),
    Target(
        "`feedsvc articles --json`, warm",
        "<= 4x floor at 100,000",
        _seconds_over("articles warm", "ingest floor"),
        (Check(HUNDRED_K, over("articles warm", "ingest floor"), 4, "x floor"),),
    ),
    Target(
        "rebuild with nothing changed",
        "<= 2x floor",
        _seconds_over("unchanged", "build floor"),
        (Check(None, over("unchanged", "build floor"), 2, "x floor"),),
    ),
    Target(
        "cold build, warm store, empty output folder",
        "<= 1.5x the file-system floor",
        _seconds_over("cold warm", "fs floor", "fs floor"),
        (Check(None, over("cold warm", "fs floor"), 1.5, "x fs floor"),),
    ),
    Target(
        "cold build, empty history and output",
        "<= 2.5x the file-system floor",
        _seconds_over("cold empty", "fs floor", "fs floor"),
        (Check(None, over("cold empty", "fs floor"), 2.5, "x fs floor"),),
    ),
    Target(
        "peak memory of any command, children included",
        "<= 600 MB at 1,000,000",
        _cell(_peak, "peak"),
        (Check(MILLION, plain("peak"), 600, " MB"),),
    ),
    Target(
        "server worker memory (PSS) after 1,000 random requests",
        "<= 120 MB at 100,000; <= 200 MB at 1,000,000",
        _cell(lambda f, *_: f"{f['worker pss']:.0f} MB", "worker pss"),
        (Check(HUNDRED_K, plain("worker pss"), 120, " MB"), Check(MILLION, plain("worker pss"), 200, " MB")),
    ),
    Target(
        "a new page in every worker's /feeds/all.atom, from its rename",
        "median <= 2 s, worst <= 3 s at 100,000",
        _cell(lambda f, *_: f"median {f['visible median']:.2f} s, worst {f['visible worst']:.2f} s", "visible median"),
        (Check(HUNDRED_K, plain("visible median"), 2, " s median"), Check(HUNDRED_K, plain("visible worst"), 3, " s worst")),
    ),
    Target(
        "requests/s on /feeds/all.atom",
        ">= 1.1x a minimal Flask app with the same bytes",
        _cell(lambda f, *_: f"{f['rps ratio']:.2f}x Flask", "rps ratio"),
        (Check(None, plain("rps ratio"), 1.1, "x Flask", at_least=True),),
    ),
)

# Figures whose growth with the corpus the growth table shows.
GROWTH = (
    ("floor: import feedsvc.cli + read every page", "build floor"),
    ("`articles --json`, warm", "articles warm"),
    ("rebuild, nothing changed", "unchanged"),
    ("rebuild after one new page", "new page"),
    ("cold build, empty history and output", "cold empty"),
    ("cold build, warm store, empty output", "cold warm"),
    ("file-system floor", "fs floor"),
    ("peak memory of any command", "peak"),
    ("server worker memory (PSS)", "worker pss"),
    ("new page in every worker's feed (median)", "visible median"),
    ("requests/s, feedsvc over Flask", "rps ratio"),
)


def table(header: list[str], rows: list[list[str]]) -> list[str]:
    return ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)] + ["| " + " | ".join(row) + " |" for row in rows]


def targets(sizes: Sizes) -> list[str]:
    order = sorted(sizes)
    rows = [[t.figure, t.target, *[t.cell(sizes, size) for size in order], t.verdict(sizes)] for t in TARGETS]
    return table(["figure", "target", *[f"{size:,}" for size in order], "verdict"], rows)


def growth(sizes: Sizes) -> list[str]:
    order = sorted(sizes)
    steps = list(zip(order, order[1:]))
    if not steps:
        return []
    rows = []
    for what, key in GROWTH:
        cells = []
        for small, large in steps:
            before, after = sizes[small].figures.get(key), sizes[large].figures.get(key)
            cells.append(f"{after / before:.1f}x" if before and after else "")
        if any(cells):
            rows.append([what, *cells])
    header = ["figure", *[f"{small:,} -> {large:,} ({large / small:g}x articles)" for small, large in steps]]
    return ["The figure at the larger corpus over the same figure at the smaller.", "", *table(header, rows)]


def phases(sizes: Sizes) -> list[str]:
    """Each phase's figures, a column per size; its commands once; its notes per size."""
    order = sorted(sizes)
    titles = sorted(dict.fromkeys(s.title for size in order for s in sizes[size].sections), key=lambda t: (t not in PHASES, PHASES.index(t) if t in PHASES else 0))
    lines: list[str] = []
    for title in titles:
        by_size = {size: next((s for s in sizes[size].sections if s.title == title), None) for size in order}
        rows: dict[str, dict[int, Row]] = {}
        for size, section in by_size.items():
            for row in section.rows if section else []:
                rows.setdefault(row.key, {})[size] = row
        lines += ["", f"## {title}", ""]
        body = []
        for found in rows.values():
            first = next(iter(found.values()))
            body.append([first.what, *["; ".join(filter(None, [found[s].value, found[s].ratio])) if s in found else "" for s in order]])
        if body:
            lines += table(["what", *[f"{size:,} articles" for size in order]], body)
            commands = [next(iter(found.values())) for found in rows.values()]
            lines += ["", "Commands (N: the corpus size):", ""]
            lines += [f"- {row.what}: `{row.command}`" for row in commands if row.command]
        notes = [(size, note) for size, section in by_size.items() for note in (section.notes if section else [])]
        for size, note in notes:
            everywhere = all(note in (section.notes if section else []) for section in by_size.values())
            if not everywhere or size == order[0]:
                lines += ["", note if everywhere else f"{size:,} articles: {note}"]
    return lines


def peaks(sizes: Sizes) -> list[str]:
    order = sorted(sizes)
    names = list(dict.fromkeys(name for size in order for name in sizes[size].peaks))
    if not names:
        return []
    rows = [[name, *[f"{sizes[size].peaks[name]:.0f}" if name in sizes[size].peaks else "" for size in order]] for name in names]
    return [
        "",
        "## Peak memory of every timed feedsvc command",
        "",
        "MB, children included: the larger of the largest resident size of the command or any child it waited for "
        "(`os.wait4`'s ru_maxrss, as a small launcher that forks the command reports it: a child of the harness itself would "
        "start from the harness's own peak) and the summed PSS of its process tree, sampled every 0.2 s; the highest of its runs.",
        "",
        *table(["command", *[f"{size:,} articles" for size in order]], rows),
    ]
