"""The app under a real gunicorn on 127.0.0.1, started the three ways the
docs give: `gunicorn wsgi:app` from the repository, the installed factory
`gunicorn 'feedsvc.serve.app:create_app()'`, and `feedsvc serve`. Every feed is
fetched with feedparser, then fetched again with its ETag and
Last-Modified and must answer 304."""

from __future__ import annotations

import gzip
import os
import re
import resource
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Iterator

import feedparser
import pytest
from click.testing import CliRunner

from feedcheck import check_json
from feedsvc.cli import main
from feedsvc.config import load_config
from feedsvc.store.ingest import ingest
from feedsvc.site.model import Site
from sitebuild import card, write_page

from conftest import NOW, NOW_EPOCH, REPO, copy_seeds

START_TIMEOUT = 60
LISTENING = re.compile(r"Listening at: http://127\.0\.0\.1:(\d+)")


def gunicorn_flags() -> list[str]:
    """gunicorn 25.1+ opens a control socket at one path per user; tests run
    several servers side by side, so none of them takes it."""
    import gunicorn.config

    return ["--no-control-socket"] if "control_socket_disable" in gunicorn.config.make_settings() else []


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Server:
    """One gunicorn process tree, stopped by its PID."""

    def __init__(self, command: list[str], cwd: Path, env: dict[str, str], log: Path, port: int | None) -> None:
        self.log = log
        self.port = port
        self.seeds: Path | None = None
        self.base_url: str | None = None
        self._handle = log.open("wb")
        self.process = subprocess.Popen(command, cwd=cwd, env=env, stdout=self._handle, stderr=subprocess.STDOUT)

    def wait_until_listening(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                pytest.fail(f"the server exited with {self.process.returncode}:\n{self.log.read_text()}")
            if self.port is None:
                found = LISTENING.search(self.log.read_text())
                self.port = int(found.group(1)) if found else None
            if self.port is not None and self._answers():
                return
            time.sleep(0.1)
        pytest.fail(f"the server did not answer within {START_TIMEOUT} s:\n{self.log.read_text()}")

    def _answers(self) -> bool:
        try:
            with urllib.request.urlopen(self.url("/healthz"), timeout=5) as response:
                return response.status == 200
        except OSError:
            return False

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def stop(self) -> None:
        if self.process.poll() is None:
            # SIGINT: gunicorn's quick shutdown (SIGTERM waits for keep-alive clients).
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._handle.close()


def environment(seeds: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FEEDSVC_")}
    env.update(FEEDSVC_SEEDS=str(seeds), SOURCE_DATE_EPOCH=str(NOW_EPOCH), PYTHONUNBUFFERED="1")
    return env


def gunicorn(*arguments: str) -> list[str]:
    return [sys.executable, "-m", "gunicorn", "--bind", "127.0.0.1:0", *gunicorn_flags(), *arguments]


LAUNCHES = {
    # From the repository, three workers starting (and ingesting) at once.
    "wsgi": lambda seeds, port: (gunicorn("--workers", "3", "wsgi:app"), REPO),
    # The installed package, run from elsewhere, with gthread workers.
    "factory": lambda seeds, port: (
        gunicorn("--workers", "2", "--worker-class", "gthread", "--threads", "4", "feedsvc.serve.app:create_app()"),
        seeds.parent,
    ),
    "serve": lambda seeds, port: (
        # No base_url anywhere: links use the address it listens on.
        [sys.executable, "-m", "feedsvc.cli", "serve", "--seeds", str(seeds), "--port", str(port), "--workers", "2"],
        seeds.parent,
    ),
}
# The base URL each launch publishes links under: the built-in default, the
# environment's, or the address `feedsvc serve` listens on.
BASE_URLS = {"wsgi": "http://127.0.0.1:8000/", "factory": "https://feeds.example.org/news/", "serve": None}


@pytest.fixture(scope="module", params=sorted(LAUNCHES))
def server(request, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """One server per way of starting it, shared by the tests below; its
    seeds folder is `server.seeds`."""
    folder = tmp_path_factory.mktemp(request.param)
    seeds = copy_seeds(folder / "seeds")
    port = free_port() if request.param == "serve" else None
    command, cwd = LAUNCHES[request.param](seeds, port)
    env = environment(seeds)
    if request.param == "factory":
        env["FEEDSVC_BASE_URL"] = BASE_URLS["factory"]
    running = Server(command, cwd, env, folder / "server.log", port)
    running.seeds = seeds
    running.base_url = BASE_URLS[request.param] or f"http://127.0.0.1:{port}/"
    try:
        running.wait_until_listening()
        yield running
    finally:
        running.stop()


def test_serve_warns_that_threads_is_ignored(seeds: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    started = []
    monkeypatch.setattr("feedsvc.serve.server.serve", lambda app, host, port, workers: started.append((host, port, workers)))
    result = CliRunner().invoke(main, ["serve", "--seeds", str(seeds), "--port", "8123", "--threads", "8"], env=environment(seeds))
    assert result.exit_code == 0, result.output
    assert "--threads is deprecated and ignored" in result.stderr
    assert started == [("127.0.0.1", 8123, 2)]


LIMITS = """
import resource, sys
from feedsvc.serve.server import allow_open_files
resource.setrlimit(resource.RLIMIT_NOFILE, (int(sys.argv[1]), int(sys.argv[2])))
print(allow_open_files(int(sys.argv[3])), *resource.getrlimit(resource.RLIMIT_NOFILE))
"""


@pytest.mark.parametrize(
    "soft, hard, wanted, result",
    [
        (256, 4096, 2064, "2064 2064 4096"),  # raised to what a worker needs
        (256, 1000, 2064, "1000 1000 1000"),  # no further than the hard limit
        (4096, 4096, 2064, "2064 4096 4096"),  # a higher limit is kept
    ],
)
def test_serve_raises_the_open_files_limit_within_the_hard_limit(soft: int, hard: int, wanted: int, result: str) -> None:
    _, current_hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if current_hard != resource.RLIM_INFINITY and current_hard < hard:
        pytest.skip(f"the hard limit on open files here is {current_hard}")
    command = [sys.executable, "-c", LIMITS, str(soft), str(hard), str(wanted)]
    assert subprocess.run(command, capture_output=True, text=True, check=True).stdout.split() == result.split()


def feed_paths(seeds: Path) -> list[str]:
    config = load_config(seeds, environ={})
    site = Site.from_ingest(config, ingest(config, NOW, write=False))
    found = [t.path for t in site.targets() if t.path.startswith("/feeds/") and not t.path.endswith(".opml")]
    assert len(found) >= 9
    return found


def test_every_feed_reads_cleanly_and_answers_304_when_fetched_again(server: Server):
    for path in feed_paths(server.seeds):
        url = server.url(path)
        if path.endswith(".json"):
            check_conditional_json(url)
            continue
        first = feedparser.parse(url)
        assert first.status == 200, path
        assert first.bozo == 0, (path, first.get("bozo_exception"))
        assert first.entries, path
        assert first.etag and first.modified, path
        self_links = [link.href for link in first.feed.links if link.rel == "self"]
        assert self_links == [server.base_url + path.lstrip("/")], path
        again = feedparser.parse(url, etag=first.etag, modified=first.modified)
        assert again.status == 304, path
        assert not again.entries
        by_date = feedparser.parse(url, modified=first.modified)
        assert by_date.status == 304, path


def check_conditional_json(url: str) -> None:
    with urllib.request.urlopen(url, timeout=10) as response:
        etag = response.headers["ETag"]
        modified = response.headers["Last-Modified"]
        check_json(response.read())
    for headers in ({"If-None-Match": etag}, {"If-Modified-Since": modified}):
        request = urllib.request.Request(url, headers=headers)
        with pytest.raises(urllib.error.HTTPError) as answer:
            urllib.request.urlopen(request, timeout=10)
        assert answer.value.code == 304


def test_every_worker_gives_the_same_etag(server: Server):
    # Fresh connections are spread over the workers by the kernel.
    etags = set()
    for _ in range(12):
        with urllib.request.urlopen(server.url("/feeds/all.atom"), timeout=10) as response:
            etags.add(response.headers["ETag"])
    assert len(etags) == 1


def test_a_page_dropped_while_serving_reaches_every_worker(server: Server):
    title = "Inland Depot Opens Night Shift For Rail Freight"
    write_page(server.seeds, "000_dropped.txt", [card(title, "The inland depot now works through the night.")])
    deadline = time.monotonic() + 30
    seen_in_a_row = 0
    while seen_in_a_row < 12:
        assert time.monotonic() < deadline, "the dropped page did not reach every worker"
        parsed = feedparser.parse(server.url("/feeds/all.atom"))
        seen_in_a_row = seen_in_a_row + 1 if any(e.title == title for e in parsed.entries) else 0
        time.sleep(0.05)


RAW_REQUESTS = [
    b"GET /feeds/\xff\xfe.atom HTTP/1.1\r\nHost: x\r\n\r\n",
    b"GET /%2e%2e/%2e%2e/seeds/ledger.jsonl HTTP/1.1\r\nHost: x\r\n\r\n",
    b"GET /feeds/..%2f..%2fwsgi.py HTTP/1.1\r\nHost: x\r\n\r\n",
    b"GET /" + b"a" * 3000 + b" HTTP/1.1\r\nHost: x\r\n\r\n",
    b"GET /feeds/all.atom?" + b"q" * 3000 + b" HTTP/1.1\r\nHost: x\r\n\r\n",
    b"GET /feeds/all.atom HTTP/1.1\r\nHost: evil.example\r\nIf-None-Match: " + b"W/" * 3000 + b"\r\n\r\n",
    b"GET /feeds/all.atom HTTP/1.1\r\nHost: x\r\nIf-Modified-Since: \xff\xfe garbage\r\n\r\n",
    b"GET /feeds/all.atom HTTP/1.1\r\nHost: x\r\nX-Big: " + b"y" * 20000 + b"\r\n\r\n",
    b"BREW /feeds/all.atom HTTP/1.1\r\nHost: x\r\n\r\n",
    b"DELETE / HTTP/1.1\r\nHost: x\r\n\r\n",
    b"GET /feeds/all.atom HTTP/9.9\r\nHost: x\r\n\r\n",
    b"\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03" + b"\x00" * 40 + b"\r\n\r\n",
]


def raw_status(port: int, request: bytes) -> int | None:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as connection:
        connection.sendall(request)
        try:
            head = connection.recv(64)
        except ConnectionResetError:
            return None
    found = re.match(rb"HTTP/1\.[01] (\d{3})", head)
    return int(found.group(1)) if found else None


def test_hostile_raw_requests_get_no_5xx_and_the_server_stays_up(server: Server):
    for request in RAW_REQUESTS:
        status = raw_status(server.port, request)
        # None: the server closed the connection on bytes that are not HTTP.
        assert status is None or status < 500, (request[:60], status)
    with urllib.request.urlopen(server.url("/feeds/all.atom"), timeout=10) as response:
        assert response.status == 200
    assert "Traceback" not in server.log.read_text()


# nginx in front, configured exactly as docs/serving.md says

NGINX = shutil.which("nginx") or next((p for p in ("/usr/sbin/nginx",) if Path(p).exists()), None)


def documented_nginx_config(folder: Path, listen: int, upstream: int) -> Path:
    """The nginx block of docs/serving.md, pointed at test ports and folders,
    inside the smallest nginx.conf that runs it unprivileged."""
    doc = (REPO / "docs" / "serving.md").read_text(encoding="utf-8")
    block = re.search(r"```nginx\n(.*?)```", doc, re.S).group(1)
    for old, new in (
        ("/var/cache/nginx/feedsvc", str(folder / "cache")),
        ("server 127.0.0.1:8000;", f"server 127.0.0.1:{upstream};"),
        ("listen 80;", f"listen 127.0.0.1:{listen};"),
    ):
        assert old in block
        block = block.replace(old, new)
    temp = " ".join(f"{name}_temp_path {folder / name};" for name in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
    user = "user root;" if os.geteuid() == 0 else ""
    conf = folder / "nginx.conf"
    conf.write_text(
        f"{user}\nworker_processes 1;\nerror_log {folder / 'error.log'};\npid {folder / 'nginx.pid'};\n"
        f"events {{ worker_connections 128; }}\nhttp {{\naccess_log off;\n{temp}\n{block}\n}}\n"
    )
    return conf


def fetch(url: str, **headers: str) -> tuple[int, dict[str, str], bytes]:
    request = urllib.request.Request(url, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


@pytest.fixture
def behind_nginx(tmp_path: Path) -> Iterator[tuple[Server, str]]:
    if NGINX is None:
        pytest.skip("nginx is not installed (apt-get install nginx)")
    seeds = copy_seeds(tmp_path / "seeds")
    env = environment(seeds)
    env["FEEDSVC_CACHE_MAX_AGE"] = "1"
    app = Server(gunicorn("--workers", "2", "feedsvc.serve.app:create_app()"), tmp_path, env, tmp_path / "server.log", None)
    app.seeds = seeds
    nginx = None
    try:
        app.wait_until_listening()
        listen = free_port()
        conf = documented_nginx_config(tmp_path, listen, app.port)
        nginx = subprocess.Popen([NGINX, "-p", str(tmp_path), "-c", str(conf), "-g", "daemon off;"], stderr=subprocess.PIPE)
        base = f"http://127.0.0.1:{listen}"
        deadline = time.monotonic() + START_TIMEOUT
        while fetch_quietly(base + "/healthz") != 200:
            if nginx.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"nginx did not start: {nginx.stderr.read().decode(errors='replace')}")
            time.sleep(0.1)
        yield app, base
    finally:
        if nginx is not None and nginx.poll() is None:
            nginx.send_signal(signal.SIGQUIT)
            nginx.wait(timeout=20)
        app.stop()


def fetch_quietly(url: str) -> int | None:
    try:
        return fetch(url)[0]
    except OSError:
        return None


def test_nginx_caches_and_revalidates_with_the_documented_config(behind_nginx):
    app, base = behind_nginx
    url = base + "/feeds/all.atom"
    status, first, body = fetch(url)
    assert status == 200 and first["X-Cache-Status"] == "MISS"
    status, again, cached = fetch(url)
    assert again["X-Cache-Status"] == "HIT" and cached == body
    # The same ETag as feedsvc itself gives; a query string reuses the entry.
    assert again["ETag"] == fetch(app.url("/feeds/all.atom"))[1]["ETag"]
    assert fetch(url + "?utm_source=reader")[1]["X-Cache-Status"] == "HIT"
    # A reader's conditional request gets its 304 from the cache.
    status, headers, empty = fetch(url, **{"If-None-Match": again["ETag"]})
    assert (status, empty) == (304, b"")
    status, headers, empty = fetch(url, **{"If-Modified-Since": again["Last-Modified"]})
    assert status == 304
    # gzip and identity are cached apart, each with its own ETag.
    status, zipped, data = fetch(url, **{"Accept-Encoding": "gzip, deflate, br"})
    assert zipped["Content-Encoding"] == "gzip" and gzip.decompress(data) == body
    assert zipped["ETag"] != again["ETag"] and zipped["Vary"] == "Accept-Encoding"
    assert "Content-Encoding" not in fetch(url, **{"Accept-Encoding": "gzip;q=0"})[1]


def test_a_new_page_reaches_readers_through_nginx_once_the_cache_expires(behind_nginx):
    app, base = behind_nginx
    assert fetch(base + "/feeds/all.atom")[0] == 200
    title = "Container Terminal Adds Shore Power Berths"
    write_page(app.seeds, "000_new.txt", [card(title, "Ships at berth now plug into shore power.")])
    deadline = time.monotonic() + 60
    while not any(e.title == title for e in feedparser.parse(fetch(base + "/feeds/all.atom")[2]).entries):
        assert time.monotonic() < deadline, "the new page never came through nginx"
        time.sleep(0.2)
