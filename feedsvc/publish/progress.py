"""A progress bar for long builds, on a terminal only, shown once a build
has run for a second and erased when it ends."""

from __future__ import annotations

import threading
from types import TracebackType


class DelayedProgress:
    """Use as a context manager; call it with (done, total) as work moves.

    A timer thread shows the bar after `delay` seconds, so a build that
    spends its first seconds reading pages gets a bar before any file is
    written, and a quick build never imports rich at all."""

    def __init__(self, enabled: bool, description: str = "building", delay: float = 1.0) -> None:
        self.enabled = enabled
        self.description = description
        self.delay = delay
        self.done = 0
        self.total: int | None = None
        self._lock = threading.Lock()
        self._timer: threading.Timer | None = None
        self._bar = None
        self._task = None
        self._closed = False

    def __enter__(self) -> "DelayedProgress":
        if self.enabled:
            self._timer = threading.Timer(self.delay, self._show)
            self._timer.daemon = True
            self._timer.start()
        return self

    def __call__(self, done: int, total: int) -> None:
        with self._lock:
            self.done, self.total = done, total
            if self._bar is not None:
                self._bar.update(self._task, completed=done, total=total, description="writing files")

    def _show(self) -> None:
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

        with self._lock:
            if self._closed:
                return
            self._bar = Progress(
                SpinnerColumn(),
                TextColumn("{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                console=Console(stderr=True),
                transient=True,
            )
            self._bar.start()
            description = "writing files" if self.total else self.description
            self._task = self._bar.add_task(description, total=self.total, completed=self.done)

    def __exit__(self, kind: type | None, value: BaseException | None, trace: TracebackType | None) -> None:
        if self._timer is not None:
            self._timer.cancel()
        with self._lock:
            self._closed = True
            if self._bar is not None:
                self._bar.stop()
