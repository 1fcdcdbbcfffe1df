"""A folder of three sites served by a real gunicorn (`feedsvc serve
--sites`, two workers): a new page lands in one site while another site's
settings are broken; the broken site keeps serving its last good version
and is reported, the others carry on. Then the folder's static export,
served by `python -m http.server`, answers every file with the app's
bytes."""

from __future__ import annotations

import http.client
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable

import pytest

from conftest import NOW_EPOCH
from hardening.servers import Gunicorn, Reply, free_port
from sitebuild import card
from sitesfolder import BASE_URL, bad_settings, make_sites

NEW_TITLE = "Harbour Cranes Get Automated Remote Control"
DEADLINE = 60
IN_A_ROW = 8  # answers in a row, so that both workers have it


def until(what: str, holds: Callable[[], bool]) -> None:
    """Poll until `holds()` is true IN_A_ROW times running."""
    deadline = time.monotonic() + DEADLINE
    streak = 0
    while streak < IN_A_ROW:
        streak = streak + 1 if holds() else 0
        assert time.monotonic() < deadline, f"not within {DEADLINE} s: {what}"
        if streak < IN_A_ROW:
            time.sleep(0.05)


def feedsvc(*arguments: str) -> subprocess.CompletedProcess:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("FEEDSVC_")}
    environ.update(SOURCE_DATE_EPOCH=str(NOW_EPOCH), FEEDSVC_BASE_URL=BASE_URL)
    return subprocess.run([sys.executable, "-m", "feedsvc.cli", *arguments], env=environ, capture_output=True, text=True, timeout=300)


@pytest.fixture
def served(tmp_path: Path):
    sites = make_sites(tmp_path / "sites")
    server = Gunicorn(sites, tmp_path / "server.log", folder_option="--sites", environ={"SOURCE_DATE_EPOCH": str(NOW_EPOCH)})
    try:
        yield sites, server
    finally:
        server.stop()


def test_a_new_page_lands_in_one_site_while_another_is_broken_and_the_export_matches(served, tmp_path):
    sites, server = served
    rail_before = server.get("/rail/feeds/all.atom").body
    trade_before = server.get("/trade/feeds/all.atom").body
    assert server.get("/").status == 200 and b"Rail News" in server.get("/").body

    bad_settings(sites / "rail")
    # Written beside the folder's pages and renamed in, as a scraper does.
    landing = sites / "harbour" / ".000_new.txt.part"
    landing.write_text(card(NEW_TITLE, "Operators of the harbour cranes now work from an office."), encoding="utf-8")
    landing.rename(sites / "harbour" / "000_new.txt")

    until("the new page is in the harbour feed", lambda: NEW_TITLE.encode() in server.get("/harbour/feeds/all.atom").body)
    until("healthz reports the rail site", lambda: json.loads(server.get("/healthz").body)["sites"]["rail"]["status"] == "error")
    until("the root no longer lists the rail site", lambda: b"Rail News" not in server.get("/").body)
    for _ in range(IN_A_ROW):
        rail = server.get("/rail/feeds/all.atom")
        assert rail.status == 200 and rail.body == rail_before  # its last good version
        assert server.get("/trade/feeds/all.atom").body == trade_before
    health = server.get("/healthz")
    assert health.status == 200 and json.loads(health.body)["status"] == "degraded"
    assert "site rail:" in server.log()

    out = tmp_path / "out"
    built = feedsvc("build", "--sites", str(sites), "--out", str(out))
    assert built.returncode == 1 and "site rail:" in built.stderr
    assert "rail" in built.stderr.splitlines()[-1] and "harbour" not in built.stderr.splitlines()[-1]
    checked = feedsvc("check", str(out))
    assert checked.returncode == 0, checked.stdout + checked.stderr

    files = sorted(path.relative_to(out).as_posix() for path in out.rglob("*") if path.is_file())
    assert {file.split("/")[0] for file in files} == {"harbour", "trade", "index.html", "feeds.opml", "style.css"}
    port = free_port()
    static = subprocess.Popen(
        [sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1", "--directory", str(out)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        for file in files:
            path = "/" + file.removesuffix("index.html")
            from_file = fetch(port, path, static)
            answer = server.get(path)
            assert (from_file.status, answer.status) == (200, 200), path
            assert from_file.body == answer.body, path
    finally:
        static.kill()
        static.wait()


def fetch(port: int, path: str, process: subprocess.Popen):
    """GET from the static server, once it listens."""
    deadline = time.monotonic() + DEADLINE
    while True:
        assert process.poll() is None, "python -m http.server exited"
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        try:
            connection.request("GET", path)
            response = connection.getresponse()
            return Reply(response.status, {k.lower(): v for k, v in response.getheaders()}, response.read())
        except ConnectionRefusedError:
            assert time.monotonic() < deadline, "python -m http.server did not start"
            time.sleep(0.05)
        finally:
            connection.close()


def test_a_site_broken_from_the_start_is_named_on_stderr_and_answers_503(tmp_path):
    sites = make_sites(tmp_path / "sites")
    bad_settings(sites / "trade")
    server = Gunicorn(sites, tmp_path / "server.log", folder_option="--sites", workers=1)
    try:
        assert "feedsvc: error: site trade:" in server.log() and "feed_sise" in server.log()
        assert server.get("/trade/feeds/all.atom").status == 503
        assert server.get("/harbour/feeds/all.atom").status == 200
        health = json.loads(server.get("/healthz").body)
        assert health["status"] == "degraded" and health["sites"]["trade"]["status"] == "error"
    finally:
        server.stop()
