"""Timing helpers for the benchmarks: run a command several times, keep the
wall-clock time, CPU time and peak memory of each run, and report medians.

CPU time (user + system of the command and its children) is recorded beside
wall time because the machine may be shared: wall time then carries waits
for a core, while CPU time mostly does not.

Peak memory, children included, is the larger of two figures: the largest
resident size of the command or of any child it waited for (`os.wait4`'s
ru_maxrss), and the sum of the proportional set sizes (PSS) of the
command's whole process tree, sampled every SAMPLE_SECONDS while it runs.
The first is exact for one process; the second counts processes that run
at the same time together, sharing their common pages fairly.

A child's ru_maxrss starts from the high-water mark of the process it was
forked from (Linux carries the old address space's peak over at exec), and
this harness holds about 220 MB at 1,000,000 articles: every command
measured from it read at least that much. So each command is started by a
small launcher, which forks and execs it, waits for it and reports the
command's own ru_maxrss, wall time and CPU time, so the launcher's own
start is in no figure; the PSS sample leaves the launcher out.
"""

from __future__ import annotations

import os
import platform
import statistics
import subprocess
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

PYTHON = sys.executable


SAMPLE_SECONDS = 0.2


@dataclass
class Timing:
    """Several runs of one measured thing."""

    name: str
    command: str
    walls: list[float] = field(default_factory=list)
    cpus: list[float] = field(default_factory=list)
    peaks: list[float] = field(default_factory=list)  # MB
    processes: int = 1  # the most processes of the command's tree seen at once
    note: str = ""

    @property
    def wall(self) -> float:
        return statistics.median(self.walls)

    @property
    def cpu(self) -> float:
        return statistics.median(self.cpus) if self.cpus else float("nan")

    @property
    def peak(self) -> float:
        """The highest peak of any run: a bound must hold for every run."""
        return max(self.peaks) if self.peaks else float("nan")

    def spread(self) -> str:
        return f"{min(self.walls):.3f}-{max(self.walls):.3f}"

    def add(self, run: "Run") -> None:
        self.walls.append(run.wall)
        self.cpus.append(run.cpu)
        self.peaks.append(run.peak)
        self.processes = max(self.processes, run.processes)


@dataclass
class Run:
    wall: float
    cpu: float
    peak: float  # MB, children included (see the module's docstring)
    processes: int


def children(pid: int) -> list[int]:
    """The PIDs whose parent is `pid`."""
    return sorted(child for child, parent in _parents().items() if parent == pid)


def descendants(pid: int) -> list[int]:
    """`pid`'s children, their children, and so on."""
    parents = _parents()
    found, frontier = [], {pid}
    while frontier:
        frontier = {child for child, parent in parents.items() if parent in frontier}
        found += sorted(frontier)
    return found


def _parents() -> dict[int, int]:
    parents = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            parents[int(entry)] = int(stat.rpartition(")")[2].split()[1])
    return parents


def pss_mb(pid: int) -> float:
    """The process's proportional set size: its private pages, plus its
    share of the pages it shares with others."""
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
        if line.startswith("Pss:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no Pss for {pid}")


# Runs argv[2:] and writes to descriptor argv[1] its ru_maxrss (kilobytes),
# wall time and CPU time (seconds), its waited-for children included.
_LAUNCHER = """
import os, sys, time
report, argv = int(sys.argv[1]), sys.argv[2:]
start = time.perf_counter()
pid = os.fork()
if pid == 0:
    os.close(report)
    try:
        os.execvp(argv[0], argv)
    finally:
        os._exit(127)
_, status, usage = os.wait4(pid, 0)
wall = time.perf_counter() - start
os.write(report, f"{usage.ru_maxrss} {wall} {usage.ru_utime + usage.ru_stime}".encode())
sys.exit(os.waitstatus_to_exitcode(status) % 256)
"""


class TreeSampler(threading.Thread):
    """Samples the summed PSS of a process's descendants until stopped."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid = pid
        self.peak = 0.0
        self.processes = 1
        self.stopped = threading.Event()

    def run(self) -> None:
        while not self.stopped.wait(SAMPLE_SECONDS):
            tree = descendants(self.pid)
            total = 0.0
            for pid in tree:
                try:
                    total += pss_mb(pid)
                except (OSError, RuntimeError):  # ended between the listing and the reading
                    pass
            self.peak = max(self.peak, total)
            self.processes = max(self.processes, len(tree))


def run_once(argv: Sequence[str], env: dict[str, str], stdout=subprocess.DEVNULL, cwd: Path | None = None) -> Run:
    """Wall time, CPU time and peak memory of one run; raises if the command fails."""
    report, reported = os.pipe()
    launched = [PYTHON, "-I", "-S", "-c", _LAUNCHER, str(reported), *argv]
    process = subprocess.Popen(launched, env=env, stdout=stdout, stderr=subprocess.PIPE, cwd=cwd, pass_fds=(reported,))
    os.close(reported)
    sampler = TreeSampler(process.pid)
    sampler.start()
    # stderr is read while the command runs, so that a chatty one cannot fill the pipe and stall.
    errors: list[bytes] = []
    reader = threading.Thread(target=lambda: errors.append(process.stderr.read()), daemon=True)
    reader.start()
    _, status, _ = os.wait4(process.pid, 0)
    sampler.stopped.set()
    sampler.join()
    reader.join()
    with os.fdopen(report, "rb") as stream:
        maxrss, wall, cpu = stream.read().split()
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} failed ({process.returncode}):\n{b''.join(errors).decode(errors='replace')[-2000:]}")
    peak = max(int(maxrss) / 1024, sampler.peak)  # ru_maxrss is in kilobytes on Linux
    return Run(float(wall), float(cpu), peak, sampler.processes)


def time_command(
    name: str,
    argv: Sequence[str],
    env: dict[str, str],
    runs: int,
    setup: Callable[[], None] | None = None,
    shown: str | None = None,
    cwd: Path | None = None,
    timing: Timing | None = None,
) -> Timing:
    """Run `argv` `runs` times, calling `setup` (untimed) before each run;
    with `timing`, add the runs to it (to interleave two measured things)."""
    timing = timing or Timing(name, shown or " ".join(argv))
    for _ in range(runs):
        if setup:
            setup()
        run = run_once(argv, env, cwd=cwd)
        timing.add(run)
        print(f"  {name}: {run.wall:.3f} s wall, {run.cpu:.3f} s cpu, {run.peak:.0f} MB", flush=True)
    return timing


def machine() -> dict[str, str]:
    """What the figures were measured on."""
    model = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory = "unknown"
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                memory = f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
                break
    except OSError:
        pass
    return {
        "cpus": str(os.cpu_count()),
        "cpu model": model,
        "memory": memory,
        "python": platform.python_version(),
        "platform": platform.platform(),
    }


def load_average() -> str:
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f} {five:.2f} {fifteen:.2f}"
