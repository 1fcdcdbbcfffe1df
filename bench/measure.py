"""Timing helpers for the benchmarks: run a command several times, keep the
wall-clock and CPU time of each run, and report medians.

CPU time (user + system of the child) is recorded beside wall time because
the machine may be shared: wall time then carries waits for a core, while
CPU time mostly does not.
"""

from __future__ import annotations

import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

PYTHON = sys.executable


@dataclass
class Timing:
    """Several runs of one measured thing."""

    name: str
    command: str
    walls: list[float] = field(default_factory=list)
    cpus: list[float] = field(default_factory=list)
    note: str = ""

    @property
    def wall(self) -> float:
        return statistics.median(self.walls)

    @property
    def cpu(self) -> float:
        return statistics.median(self.cpus) if self.cpus else float("nan")

    def spread(self) -> str:
        return f"{min(self.walls):.3f}-{max(self.walls):.3f}"


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_once(argv: Sequence[str], env: dict[str, str], stdout=subprocess.DEVNULL, cwd: Path | None = None) -> tuple[float, float]:
    """Wall and CPU seconds of one run; raises if the command fails."""
    cpu_before = _children_cpu()
    start = time.perf_counter()
    completed = subprocess.run(list(argv), env=env, stdout=stdout, stderr=subprocess.PIPE, cwd=cwd)
    wall = time.perf_counter() - start
    cpu = _children_cpu() - cpu_before
    if completed.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} failed ({completed.returncode}):\n{completed.stderr.decode(errors='replace')[-2000:]}")
    return wall, cpu


def time_command(
    name: str,
    argv: Sequence[str],
    env: dict[str, str],
    runs: int,
    setup: Callable[[], None] | None = None,
    shown: str | None = None,
    cwd: Path | None = None,
) -> Timing:
    """Run `argv` `runs` times, calling `setup` (untimed) before each run."""
    timing = Timing(name, shown or " ".join(argv))
    for _ in range(runs):
        if setup:
            setup()
        wall, cpu = run_once(argv, env, cwd=cwd)
        timing.walls.append(wall)
        timing.cpus.append(cpu)
        print(f"  {name}: {wall:.3f} s wall, {cpu:.3f} s cpu", flush=True)
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
