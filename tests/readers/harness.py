"""Run feedsvc for real and point real clients at it: gunicorn on 127.0.0.1,
plain HTTP fetches that never follow redirects, the feed list a subscriber
would import, and the command-line readers newsboat and sfeed.

Every process started here is stopped by its own PID."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator, Mapping
from xml.etree import ElementTree

from feedsvc.serve import server as server_settings

from .watch import Seen

HOST = "127.0.0.1"
START_TIMEOUT = 30.0
# gunicorn's access log, one request a line: status, method, path, client.
ACCESS_FORMAT = '%(s)s %(m)s %(U)s "%(a)s"'


@dataclass(frozen=True)
class Reply:
    status: int
    headers: Mapping[str, str]
    body: bytes


class NoRedirects(urllib.request.HTTPRedirectHandler):
    """sfeed and some other readers follow no redirects; neither do we."""

    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None


_OPENER = urllib.request.build_opener(NoRedirects)


def fetch(url: str, headers: Mapping[str, str] | None = None, method: str = "GET") -> Reply:
    request = urllib.request.Request(url, headers=dict(headers or {}), method=method)
    try:
        with _OPENER.open(request, timeout=30) as response:
            return Reply(response.status, dict(response.headers.items()), response.read())
    except urllib.error.HTTPError as error:
        return Reply(error.code, dict(error.headers.items()), error.read())


def free_port(preferred: int = 0) -> int:
    """`preferred` when nothing listens there, else any free port."""
    with socket.socket() as probe:
        try:
            probe.bind((HOST, preferred))
        except OSError:
            probe.bind((HOST, 0))
        return probe.getsockname()[1]


@dataclass
class Server:
    """feedsvc under gunicorn, on a port of its own."""

    seeds: Path
    port: int
    process: subprocess.Popen
    access_log: Path
    error_log: Path
    environ: dict[str, str] = field(repr=False, default_factory=dict)

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}/"

    def absolute(self, path: str) -> str:
        return self.url + path.lstrip("/")

    def get(self, path: str, headers: Mapping[str, str] | None = None) -> Reply:
        return fetch(self.absolute(path), headers)

    def requests(self) -> list[tuple[int, str, str, str]]:
        """Every request answered so far, but the health checks that tell
        when the server is up: (status, method, path, user agent)."""
        rows = []
        for line in self.access_log.read_text(encoding="utf-8", errors="replace").splitlines():
            status, method, path, agent = line.split(" ", 3)
            if path != "/healthz":
                rows.append((int(status), method, path, agent.strip('"')))
        return rows

    def logged(self, agent: str, count: int, timeout: float = 15.0) -> list[tuple[int, str, str, str]]:
        """The requests of clients whose User-Agent starts with `agent`, in
        log order, once at least `count` of them are logged: gunicorn writes
        a line just after sending the response, so the newest may lag."""
        deadline = time.monotonic() + timeout
        while True:
            rows = [row for row in self.requests() if row[3].startswith(agent)]
            if len(rows) >= count or time.monotonic() > deadline:
                return rows
            time.sleep(0.05)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=15)


def server_environ(seeds: Path, port: int, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The process environment without any FEEDSVC_* setting of the caller's
    own shell, so only what the test chooses configures the server."""
    environ = {k: v for k, v in os.environ.items() if not k.startswith("FEEDSVC_") and k != "SOURCE_DATE_EPOCH"}
    environ.update(FEEDSVC_SEEDS=str(seeds), FEEDSVC_BASE_URL=f"http://{HOST}:{port}/")
    environ.update(extra or {})
    return environ


def start_server(seeds: Path, logs: Path, extra: Mapping[str, str] | None = None, workers: int = 2, port: int | None = None) -> Server:
    """Start `gunicorn 'feedsvc.serve.app:create_app()'` as `feedsvc serve` would,
    with an access log, and wait until it answers."""
    port = port or free_port()
    logs.mkdir(parents=True, exist_ok=True)
    access_log, error_log = logs / f"access-{port}.log", logs / f"error-{port}.log"
    environ = server_environ(seeds, port, extra)
    command = [
        sys.executable, "-m", "gunicorn", "feedsvc.serve.app:create_app()",
        "--bind", f"{HOST}:{port}", "--workers", str(workers), *deployed_settings(),
        "--access-logfile", str(access_log), "--access-logformat", ACCESS_FORMAT,
        "--error-logfile", str(error_log), "--graceful-timeout", "5",
    ]  # fmt: skip
    process = subprocess.Popen(command, env=environ, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    server = Server(seeds, port, process, access_log, error_log, environ)
    try:
        wait_until_up(server)
    except BaseException:
        server.stop()
        raise
    return server


def deployed_settings() -> list[str]:
    """The gunicorn settings `feedsvc serve` uses (feedsvc.server), as
    command-line flags: the same server, plus an access log to count 304s."""
    from gunicorn.config import Config

    flags = [
        "--worker-class", server_settings.WORKER_CLASS, "--worker-connections", str(server_settings.WORKER_CONNECTIONS),
        "--timeout", str(server_settings.TIMEOUT), "--keep-alive", str(server_settings.KEEPALIVE), "--preload",
    ]  # fmt: skip
    if "control_socket_disable" in Config().settings:
        # Newer gunicorn opens one control socket per user at a fixed path,
        # which servers running side by side would fight over.
        flags.append("--no-control-socket")
    return flags


def wait_until_up(server: Server) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(f"gunicorn exited with {server.process.returncode}:\n{log_tail(server.error_log)}")
        with contextlib.suppress(OSError):
            if fetch(server.absolute("/healthz")).status == 200:
                return
        time.sleep(0.1)
    raise RuntimeError(f"gunicorn did not answer within {START_TIMEOUT:.0f} s:\n{log_tail(server.error_log)}")


def log_tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


@contextlib.contextmanager
def serving(seeds: Path, logs: Path, extra: Mapping[str, str] | None = None, workers: int = 2, port: int | None = None) -> Iterator[Server]:
    server = start_server(seeds, logs, extra, workers, port)
    try:
        yield server
    finally:
        server.stop()


def wait_for_change(server: Server, path: str, etag: str | None, timeout: float = 30.0) -> Reply:
    """Poll `path` until its ETag is no longer `etag`: the server picks up
    new pages by itself, after they have settled."""
    deadline = time.monotonic() + timeout
    while True:
        reply = server.get(path)
        if reply.status == 200 and reply.headers.get("ETag") != etag:
            return reply
        if time.monotonic() > deadline:
            raise AssertionError(f"{path} still has ETag {etag} after {timeout:.0f} s")
        time.sleep(0.25)


# The feeds a subscriber can find -------------------------------------------


def subscription_feeds(server: Server) -> list[str]:
    """Every subscription feed URL in every format: the Atom URLs the OPML
    lists, and the RSS and JSON Feed beside each (same path, other extension)."""
    atom = opml_feeds(server)
    return [url[: -len(".atom")] + ext for url in atom for ext in (".atom", ".rss", ".json")]


def opml_feeds(server: Server) -> list[str]:
    reply = server.get("/feeds.opml")
    assert reply.status == 200, f"/feeds.opml answered {reply.status}"
    tree = ElementTree.fromstring(reply.body)
    return [outline.attrib["xmlUrl"] for outline in tree.iter("outline") if "xmlUrl" in outline.attrib]


def json_items(server: Server, path: str = "/feeds/all.json") -> list[dict]:
    reply = server.get(path)
    assert reply.status == 200, f"{path} answered {reply.status}"
    return json.loads(reply.body)["items"]


def atom_grammar():
    """The RFC 4287 RELAX NG grammar the package ships."""
    from feedcheck import atom_grammar as shared

    return shared()


# newsboat -------------------------------------------------------------------

NEWSBOAT_CONFIG = """\
reload-threads 4
download-timeout 30
max-items 0
keep-articles-days 0
show-read-feeds yes
"""


def have(program: str) -> bool:
    return shutil.which(program) is not None


class Newsboat:
    """A newsboat profile of its own: HOME, url list, config and cache."""

    def __init__(self, home: Path, urls: list[str]) -> None:
        self.home = home
        home.mkdir(parents=True, exist_ok=True)
        self.urls_file = home / "urls"
        self.urls_file.write_text("".join(url + "\n" for url in urls), encoding="utf-8")
        self.config = home / "config"
        self.config.write_text(NEWSBOAT_CONFIG, encoding="utf-8")
        self.cache = home / "cache.db"

    def reload(self) -> None:
        """`newsboat -x reload`, with no terminal, as cron would run it."""
        environ = {**os.environ, "HOME": str(self.home), "TERM": "dumb"}
        command = ["newsboat", "-u", str(self.urls_file), "-c", str(self.cache), "-C", str(self.config), "-x", "reload"]
        done = subprocess.run(command, env=environ, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=120)
        if done.returncode != 0:
            raise AssertionError(f"newsboat failed ({done.returncode}): {done.stdout}{done.stderr}")

    def rows(self) -> list[dict]:
        with contextlib.closing(sqlite3.connect(self.cache)) as db:
            db.row_factory = sqlite3.Row
            query = "SELECT guid, title, content, pubDate, feedurl, deleted FROM rss_item ORDER BY id"
            return [dict(row) for row in db.execute(query)]

    def entries(self, feed_url: str | None = None) -> list[Seen]:
        """The cached items, one per guid: newsboat matches guids across
        all feeds, so an item in two feeds is one entry."""
        import datetime as dt

        by_guid: dict[str, Seen] = {}
        for row in self.rows():
            if feed_url is None or row["feedurl"] == feed_url:
                published = dt.datetime.fromtimestamp(row["pubDate"], dt.timezone.utc)
                by_guid.setdefault(row["guid"], Seen(row["guid"], row["title"], row["content"], published))
        return list(by_guid.values())

    def guid_counts(self) -> Counter:
        return Counter(row["guid"] for row in self.rows())

    def feed_errors(self) -> list[str]:
        """Feeds newsboat could not fetch or parse: it then leaves no title."""
        with contextlib.closing(sqlite3.connect(self.cache)) as db:
            fetched = {row[0] for row in db.execute("SELECT rssurl FROM rss_feed WHERE title != ''")}
        wanted = self.urls_file.read_text(encoding="utf-8").split()
        return [url for url in wanted if url not in fetched]


# sfeed ----------------------------------------------------------------------


def sfeed_rows(feed: bytes) -> list[list[str]]:
    """sfeed's TSV for one feed document (sfeed reads the feed on stdin):
    timestamp, title, link, content, content-type, id, author, enclosure, category."""
    done = subprocess.run(["sfeed"], input=feed, capture_output=True, timeout=60)
    if done.returncode != 0:
        raise AssertionError(f"sfeed failed ({done.returncode}): {done.stderr.decode(errors='replace')}")
    return [line.split("\t") for line in done.stdout.decode("utf-8").splitlines() if line]
