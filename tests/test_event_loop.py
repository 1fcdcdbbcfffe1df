"""Under gevent's event loop, the CPU-bound work of the live site (the first
render of a document, a rebuild) runs in a native thread: the loop goes on
answering other requests from the current site meanwhile.

The work is held until another greenlet has run a few times; run on the
loop itself, it would hold that greenlet too, and the test would see it
never ran. gevent runs here without monkey-patching the test process, so
`offload.on_event_loop` is told what the gevent worker's patching says; the
last test checks, in processes of their own, that the patching says so.
"""

from __future__ import annotations

import subprocess
import sys
import threading
from typing import Callable, Iterator

import gevent
import pytest

from feedsvc.serve import live as live_module
from feedsvc.serve import offload
from feedsvc.serve.app import create_app
from sitebuild import card, write_page

from conftest import NOW_EPOCH

TICKS = 3
HOLD_TIMEOUT = 10.0


@pytest.fixture(autouse=True)
def event_loop(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("SOURCE_DATE_EPOCH", str(NOW_EPOCH))
    monkeypatch.setattr(offload, "on_event_loop", lambda: True)
    yield
    gevent.get_hub().destroy(destroy_loop=True)


class Hold:
    """Wraps a function so that it waits until `released` is set (by another
    greenlet), and says whether it was."""

    def __init__(self, function: Callable) -> None:
        self.function = function
        self.started = threading.Event()
        self.released = threading.Event()
        self.was_released: bool | None = None

    def __call__(self, *args: object, **kwargs: object) -> object:
        self.started.set()
        self.was_released = self.released.wait(HOLD_TIMEOUT)
        return self.function(*args, **kwargs)


def ticker(hold: Hold, step: Callable[[], None]) -> int:
    """Runs `step` on the loop until the held work has started and TICKS
    more times after that, then releases it."""
    ticks = 0
    while ticks < TICKS:
        step()
        if hold.started.is_set():
            ticks += 1
        gevent.sleep(0)  # hands the loop to the other greenlets
    hold.released.set()
    return ticks


def test_a_first_render_leaves_the_loop_answering(config, monkeypatch: pytest.MonkeyPatch) -> None:
    live = create_app(config, poll_seconds=3600).extensions["feedsvc"]
    generation = live.current()
    feed = generation.lookup("/feeds/all.atom")
    hold = Hold(generation.site.render)
    monkeypatch.setattr(generation.site, "render", hold)

    rendering = gevent.spawn(generation.lookup, "/feeds/all.rss")
    answering = gevent.spawn(ticker, hold, lambda: assert_same(generation.lookup("/feeds/all.atom"), feed))
    gevent.joinall([rendering, answering], raise_error=True)

    assert hold.was_released, "the render held the event loop"
    assert rendering.value.identity.body.startswith(b"<?xml")


def test_a_rebuild_leaves_the_loop_answering_from_the_previous_site(config, seeds, monkeypatch: pytest.MonkeyPatch) -> None:
    live = create_app(config, poll_seconds=0, settle_seconds=0).extensions["feedsvc"]
    before = live.current()
    write_page(seeds, "000_new.txt", [card("Harbour Cranes Return To Full Service", "All six cranes are back at work.")])
    hold = Hold(live_module.open_catalog)
    monkeypatch.setattr(live_module, "open_catalog", hold)

    rebuilding = gevent.spawn(live.current)
    answering = gevent.spawn(ticker, hold, lambda: assert_same(live.current(), before))
    gevent.joinall([rebuilding, answering], raise_error=True)

    assert hold.was_released, "the rebuild held the event loop"
    assert rebuilding.value is not before and live.current() is rebuilding.value
    assert rebuilding.value.site.article_count == before.site.article_count + 1


def test_an_error_in_the_native_thread_reaches_the_caller() -> None:
    def fails() -> None:
        raise LookupError("no such document")

    with pytest.raises(LookupError, match="no such document"):
        gevent.spawn(offload.run, fails).get()


@pytest.mark.parametrize("patch, expected", [("from gevent import monkey; monkey.patch_all()", "True"), ("", "False")])
def test_the_event_loop_is_told_by_gevents_patching(patch: str, expected: str) -> None:
    # What gunicorn's gevent worker does when it starts: monkey.patch_all().
    script = f"{patch}\nfrom feedsvc.serve import offload\nprint(offload.on_event_loop())"
    assert subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True).stdout.strip() == expected


def assert_same(found: object, expected: object) -> None:
    assert found is expected
