"""Slow clients against `feedsvc serve` with no proxy in front: 200
connections that send a request's headers one byte every two seconds and
200 that open and never send, each opened again as soon as the server
drops it. While they are held, every feed request is answered promptly and
in full, and the server logs no error. And slow work inside the server: a
rebuild that waits for the ledger's lock holds up only the request that
started it."""

from __future__ import annotations

import http.client
import os
import re
import time
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from pathlib import Path

import feedparser
import pytest
from filelock import FileLock

from feedsvc.store import ledger as ledger_file
from sitebuild import card, write_page
from slow_sockets import SlowClients

from .servers import Gunicorn
from .test_crashes import environment
from .test_hostile_requests import NOW_EPOCH, copy_site

TRICKLING = 200
SILENT = 200
BYTE_EVERY = 2.0  # seconds between two bytes of a trickling client
# Generous: an answer takes milliseconds; this only tells "answered" from "stuck".
ANSWER_WITHIN = 5.0
SETTLE_TIMEOUT = 60.0
HELD = ["/feeds/all.atom", "/feeds/all.rss", "/feeds/all.json", "/", "/feeds.opml"]
ERROR_LINES = re.compile(r"\[(ERROR|CRITICAL)\]|Traceback|failed with", re.IGNORECASE)


def answer(port: int, path: str, within: float = ANSWER_WITHIN) -> tuple[int, bytes, float]:
    """GET `path` on a new connection: status, body and seconds taken."""
    started = time.monotonic()
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=within)
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        body = response.read()
    except TimeoutError:
        pytest.fail(f"GET {path} was not answered within {within} s")
    finally:
        connection.close()
    return response.status, body, time.monotonic() - started


def test_feeds_are_answered_promptly_while_slow_clients_are_held(tmp_path: Path) -> None:
    seeds = copy_site(tmp_path)
    server = Gunicorn(seeds, tmp_path / "gunicorn.log", environ=environment(NOW_EPOCH))
    clients = SlowClients(server.port, TRICKLING, SILENT, BYTE_EVERY)
    try:
        expected = {path: server.get(path).body for path in HELD}
        parsed = feedparser.parse(expected["/feeds/all.atom"])
        assert parsed.bozo == 0 and parsed.entries
        # Not yet prepared: rendered on first use while the clients are held.
        fresh = [link.href.replace("http://127.0.0.1:8000", "") for link in parsed.feed.links if link.rel == "alternate"]
        fresh += [entry.link.replace("http://127.0.0.1:8000", "") for entry in parsed.entries[:5]]

        clients.start()
        assert clients.wait_for(lambda: clients.open == TRICKLING + SILENT, SETTLE_TIMEOUT), clients.failures
        slowest = 0.0
        answered = 0
        for path in fresh:
            status, body, seconds = answer(server.port, path)
            assert status == 200 and body, path
            slowest = max(slowest, seconds)
        # Requests go on until the server has dropped as many connections as
        # it holds (its header timeout came round for each at least once), so
        # they meet fresh slow clients as well as old ones.
        while clients.dropped < TRICKLING + SILENT:
            assert not clients.failures, clients.failures
            path = HELD[answered % len(HELD)]
            status, body, seconds = answer(server.port, path)
            assert (status, body) == (200, expected[path]), (path, status, len(body))
            answered += 1
            slowest = max(slowest, seconds)
            assert answered < 100_000, "the server never dropped the slow clients"
        held = clients.wait_for(lambda: clients.open == TRICKLING + SILENT, SETTLE_TIMEOUT)
        assert held, f"{clients.open} slow clients held at the end; {clients.failures}"
        assert slowest < ANSWER_WITHIN, f"slowest answer took {slowest:.2f} s"
        assert server.get("/healthz").status == 200
    finally:
        clients.stop()
        server.stop()
    errors = [line for line in server.log().splitlines() if ERROR_LINES.search(line)]
    assert not errors, "\n".join(errors)


IN_FLIGHT = 4
# Requests answered, after it was sent, while one request is still waiting:
# proof enough that the worker's loop is not held by the waiting one.
OVERTAKEN_BY = 50


def test_a_rebuild_waiting_for_the_ledger_holds_up_only_its_own_request(tmp_path: Path) -> None:
    """The gevent worker patches threads and `time.sleep` after the site
    was built in the master. A rebuild that has to wait for the ledger's
    file lock (held here) waits without holding the worker's event loop,
    which goes on answering from the previous site, and it completes once
    the lock is free."""
    seeds = copy_site(tmp_path)
    server = Gunicorn(seeds, tmp_path / "gunicorn.log", workers=1, environ=environment(NOW_EPOCH))
    title = b"Harbour Cranes Return To Full Service"
    lock = FileLock(str(ledger_file.lock_path(seeds / "ledger.jsonl")))
    try:
        with ThreadPoolExecutor(IN_FLIGHT) as pool:
            with lock:
                page = write_page(seeds, "000_cranes.txt", [card(title.decode(), "All six cranes are back at work.")])
                settled = page.stat().st_mtime - 60
                os.utime(page, (settled, settled))
                waiting = overtaken_request(pool, server.port, title)
            # The lock is released: the waiting request gets the new site.
            status, body, _ = waiting.result()
            assert status == 200 and title in body
        assert title in server.get("/feeds/all.atom").body
    finally:
        server.stop()
    errors = [line for line in server.log().splitlines() if ERROR_LINES.search(line)]
    assert not errors, "\n".join(errors)


def overtaken_request(pool: ThreadPoolExecutor, port: int, title: bytes) -> Future:
    """Keeps IN_FLIGHT requests for the feed going, each answered promptly
    from the previous site, until one has waited while OVERTAKEN_BY
    requests sent after it were answered; returns that one."""
    in_flight: dict[Future, int] = {}  # request -> answers counted when it was sent
    answered = 0
    while answered < 100_000:
        while len(in_flight) < IN_FLIGHT:
            # Any of them may be the one that waits for the lock; `wait` below
            # holds the others to ANSWER_WITHIN.
            in_flight[pool.submit(answer, port, "/feeds/all.atom", ANSWER_WITHIN * 4)] = answered
        done, _ = wait(in_flight, timeout=ANSWER_WITHIN, return_when=FIRST_COMPLETED)
        assert done, f"no request was answered within {ANSWER_WITHIN} s"
        for request in done:
            del in_flight[request]
            status, body, _ = request.result()
            assert status == 200 and title not in body, "the new page was served while the ledger was locked"
            answered += 1
        waiting = [request for request, sent_at in in_flight.items() if answered - sent_at >= OVERTAKEN_BY]
        if waiting:
            assert len(waiting) == 1, "more than one request waited for the rebuild"
            return waiting[0]
    raise AssertionError("no request waited for the rebuild")
