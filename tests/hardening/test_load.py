"""Load: many threads mixing good and hostile requests against a real
gunicorn while a page lands in the seeds folder. No answer is a 5xx, no
connection is dropped, and afterwards every worker serves the new page's
articles in feeds that pass `feedsvc check`."""

from __future__ import annotations

import random
import subprocess
import threading
import time
from collections import Counter
from pathlib import Path

from feedsvc.publish.check import check_tree
from feedsvc.core.text import article_id, title_key
from feedsvc.site.routes import article_path

from .servers import Gunicorn
from .test_crashes import BASE_URL, build_command, environment
from .test_hostile_requests import NOW_EPOCH, copy_site

from conftest import stored_ledger

THREADS = 16
MAX_REQUESTS_PER_THREAD = 1000  # the load runs until the page is served, at most this long
SEED = 7

GOOD = ["/", "/feeds/all.atom", "/feeds/all.rss", "/feeds/all.json", "/feeds.opml", "/style.css", "/healthz"]
HOSTILE = [
    ("GET", "/../feedsvc.toml", {}),
    ("GET", "/feeds/%2e%2e%2fledger.jsonl", {}),
    ("GET", "/feeds/%ff%fe.atom", {}),
    ("GET", "/" + "a" * 5000, {}),
    ("GET", "/feeds/all.atom?" + "q" * 5000, {}),
    ("GET", "/feeds/all.atom", {"If-None-Match": "W/" * 3000}),
    ("GET", "/feeds/all.atom", {"If-Modified-Since": "Mon, 32 Foo 2025 99:99:99 GMT"}),
    ("GET", "/feeds/all.atom", {"Host": "evil.example"}),
    ("POST", "/feeds/all.atom", {}),
    ("DELETE", "/", {}),
    ("FOO", "/healthz", {}),
    ("HEAD", "/feeds/all.rss", {}),
    ("OPTIONS", "/feeds/all.json", {}),
]

NEW_TITLES = [f"Night Train Number {n} Reaches The Inland Port" for n in range(8)]  # fewer than the feed holds


def new_page() -> bytes:
    cards = [f"{title}\n\n{title}\n\nThe night train {n} reached the inland port on time.\n\n" for n, title in enumerate(NEW_TITLES)]
    return "".join(cards).encode()


def land_slowly(path: Path, data: bytes, pieces: int = 6) -> None:
    """Write a page the way a slow scraper does: in pieces, a little apart."""
    step = -(-len(data) // pieces)
    with path.open("wb") as stream:
        for start in range(0, len(data), step):
            stream.write(data[start : start + step])
            stream.flush()
            time.sleep(0.15)


def test_mixed_load_while_a_page_lands(tmp_path: Path) -> None:
    seeds = copy_site(tmp_path)
    server = Gunicorn(seeds, tmp_path / "gunicorn.log", environ=environment(NOW_EPOCH))
    statuses: Counter = Counter()
    failures: list[str] = []
    lock = threading.Lock()
    etag = server.get("/feeds/all.atom").headers["etag"]

    stop = threading.Event()

    def client(number: int) -> None:
        rng = random.Random(SEED + number)
        for _ in range(MAX_REQUESTS_PER_THREAD):
            if stop.is_set():
                return
            if rng.random() < 0.6:
                method, path, headers, hostile = "GET", rng.choice(GOOD), rng.choice([{}, {"If-None-Match": etag}, {"Accept-Encoding": "gzip"}]), False
            else:
                (method, path, headers), hostile = rng.choice(HOSTILE), True
            try:
                reply = server.request(method, path, headers, timeout=30)
            except OSError as error:
                with lock:
                    failures.append(f"{method} {path[:40]}: {error!r}")
                continue
            with lock:
                statuses[reply.status] += 1
                if reply.status >= 500 or (not hostile and reply.status not in {200, 304}):
                    failures.append(f"{method} {path[:40]} -> {reply.status}")

    try:
        threads = [threading.Thread(target=client, args=(n,)) for n in range(THREADS)]
        for thread in threads:
            thread.start()
        # The page lands once the load is on: every client has had answers.
        deadline = time.monotonic() + 30
        while sum(statuses.values()) < THREADS * 3 and time.monotonic() < deadline:
            time.sleep(0.05)
        land_slowly(seeds / "000_landed.txt", new_page())

        # Under that load, every worker comes to serve every new article.
        paths = [article_path(article_id(title_key(title))) for title in NEW_TITLES]
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            missing = [path for path in paths for _ in range(4) if server.get(path).status != 200]
            if not missing:
                break
            time.sleep(0.3)
        load_was_on = not stop.is_set() and all(thread.is_alive() for thread in threads)
        stop.set()
        for thread in threads:
            thread.join(timeout=300)
        assert not missing, missing[:3]
        assert load_was_on, "the load ended before the page was served; raise MAX_REQUESTS_PER_THREAD"
        assert failures == [], failures[:10]
        assert not any(status >= 500 for status in statuses), statuses
        assert sum(statuses.values()) >= THREADS * 50
        feed = server.get("/feeds/all.atom").body.decode()
        assert all(title in feed for title in NEW_TITLES)

        # The page was read whole: its articles are exactly its cards,
        # never a card cut short while it was being written.
        ledger = stored_ledger(seeds / "ledger.jsonl")
        from_page = {record.title for record in ledger.records.values() if "000_landed.txt" in record.pages}
        assert from_page == set(NEW_TITLES)

        # The feeds are valid and are what a build from the same ledger writes.
        out = tmp_path / "out"
        subprocess.run(build_command(seeds, out), env=environment(NOW_EPOCH), check=True, capture_output=True)
        assert check_tree(out, BASE_URL).problems == []
        for name in ["feeds/all.atom", "feeds/all.rss", "feeds/all.json", "feeds.opml", "index.html"]:
            assert server.get("/" + name.removesuffix("index.html")).body == (out / name).read_bytes(), name
        assert "Traceback" not in server.log()
    finally:
        server.stop()
