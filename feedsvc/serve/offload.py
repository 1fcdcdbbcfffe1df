"""Running the server's CPU-bound work (a rebuild, the first render of a
document) where it cannot hold up the other requests.

Under gunicorn's gevent worker, every connection of a worker is served by
one OS thread running one event loop: an ingest or a render run there would
stop every other connection, idle or not, until it finished. There the work
goes to gevent's pool of native threads; only the request that asked for it
waits, and the loop goes on answering the others (from the previous site,
during a rebuild). Under a threaded or sync worker each request already has
a thread of its own, and the work runs where it is called.
"""

from __future__ import annotations

import sys
import threading
import time
from typing import Callable, TypeVar

T = TypeVar("T")


def on_event_loop() -> bool:
    """Whether this process serves requests from gevent's event loop (the
    gevent worker has monkey-patched it)."""
    monkey = sys.modules.get("gevent.monkey")
    return monkey is not None and monkey.is_module_patched("socket")


def run(function: Callable[..., T], *args: object) -> T:
    """`function(*args)`, run in a native thread when called from the event
    loop, so that only the calling request waits for it."""
    if not on_event_loop():
        return function(*args)
    import gevent

    # Exceptions come back as values: gevent would print the traceback of a
    # task that raises, and the caller logs it (or handles it) already.
    raised, outcome = gevent.get_hub().threadpool.apply(_capture, (function, args))
    if raised:
        raise outcome
    return outcome


def _capture(function: Callable[..., T], args: tuple) -> tuple[bool, object]:
    try:
        return False, function(*args)
    except BaseException as error:  # noqa: BLE001 - re-raised in the caller
        return True, error


def native_lock() -> threading.Lock:
    """A lock of the operating system, never a green one: it guards work
    that runs in native threads, which a green lock cannot block."""
    if on_event_loop():
        from gevent.monkey import get_original

        return get_original("threading", "Lock")()
    return threading.Lock()


class Poll:
    """Slow work that follows a folder, run at most once every `seconds`,
    off the event loop. A request that finds it due runs it; one that finds
    it running goes on with what is there."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.next_at = time.monotonic() + seconds
        self._lock = native_lock()

    def due(self) -> bool:
        return time.monotonic() >= self.next_at

    def soon(self, at: float) -> None:
        """Look again by `at` (monotonic), sooner than the interval says."""
        self.next_at = min(self.next_at, at)

    def run(self, work: Callable[[float], None]) -> None:
        """`work(now)`, if the interval has passed and nobody runs it now."""
        if not self._lock.acquire(blocking=False):
            return
        try:
            now = time.monotonic()
            if now < self.next_at:
                return
            self.next_at = now + self.seconds
            run(work, now)
        finally:
            self._lock.release()
