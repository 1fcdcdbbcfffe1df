"""Hostile requests, against the Flask app in-process and against a real
gunicorn on 127.0.0.1: never a 5xx, never anything private, the server
stays up, and legitimate requests still get their normal answer."""

from __future__ import annotations

import datetime as dt
import re
import shutil
from pathlib import Path
from typing import Callable, Iterator

import pytest

from feedsvc.serve.app import create_app
from feedsvc.config import load_config
from feedsvc.store.ingest import ingest
from feedsvc.site.model import Site

from .servers import Gunicorn, Reply

REPO = Path(__file__).resolve().parents[2]
NOW_EPOCH = 1_760_000_000
NOW = dt.datetime.fromtimestamp(NOW_EPOCH, dt.timezone.utc)
FORGED = "evil.example"

Fetch = Callable[..., Reply]


def copy_site(folder: Path) -> Path:
    seeds = folder / "seeds"
    seeds.mkdir(parents=True)
    for name in [p.name for p in (REPO / "seeds").glob("*.txt")] + ["feedsvc.toml"]:
        shutil.copyfile(REPO / "seeds" / name, seeds / name)
    return seeds


@pytest.fixture(scope="module")
def seeds(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return copy_site(tmp_path_factory.mktemp("hostile"))


@pytest.fixture(scope="module")
def site_paths(seeds: Path) -> list[str]:
    config = load_config(seeds, environ={})
    site = Site.from_ingest(config, ingest(config, NOW, write=False))
    return [target.path for target in site.targets()]


@pytest.fixture(scope="module")
def server(seeds: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gunicorn]:
    running = Gunicorn(seeds, tmp_path_factory.mktemp("log") / "gunicorn.log", environ={"SOURCE_DATE_EPOCH": str(NOW_EPOCH)})
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture(scope="module")
def client(seeds: Path):
    app = create_app(load_config(seeds, environ={}))
    return app.test_client()


@pytest.fixture(params=["flask", "gunicorn"])
def fetch(request) -> Fetch:
    """The same requests, through the in-process test client or over a socket."""
    if request.param == "gunicorn":
        return request.getfixturevalue("server").request
    client = request.getfixturevalue("client")

    def through_flask(method: str, path: str, headers: dict[str, str] | None = None) -> Reply:
        response = client.open(path, method=method, headers=headers or {})
        return Reply(response.status_code, {k.lower(): v for k, v in response.headers.items()}, response.get_data())

    return through_flask


@pytest.fixture(scope="module")
def private(seeds: Path) -> list[bytes]:
    """Bytes that only private files hold: a page as scraped (title, blank
    line, title again), the ledger's header, the settings file."""
    page = sorted(seeds.glob("*.txt"))[0].read_bytes()
    title_and_repeat = b"\n\n".join(page.split(b"\n\n")[:2])
    return [title_and_repeat, b'"feedsvc_ledger"', b"site_key", b"[[categories]]", b"Traceback", b"Werkzeug", b"root:x:0:0"]


def assert_harmless(reply: Reply, private: list[bytes], what: str) -> None:
    assert reply.status < 500, f"{what}: {reply.status} {reply.body[:200]!r}"
    for secret in private:
        assert secret not in reply.body, f"{what}: the answer holds {secret!r}"


TRAVERSALS = [
    "/../feedsvc.toml",
    "/feeds/../../seeds/ledger.jsonl",
    "/feeds/../ledger.jsonl",
    "/%2e%2e/%2e%2e/etc/passwd",
    "/%2E%2E%2F%2E%2E%2Fetc%2Fpasswd",
    "/feeds/%2e%2e%2fledger.jsonl",
    "/feeds/category/..%2f..%2fledger.jsonl",
    "/feeds/category/%2e%2e%2f%2e%2e%2ffeedsvc.toml.atom",
    "/articles/..%2f..%2ffeedsvc.toml/",
    "/%252e%252e/%252e%252e/feedsvc.toml",
    "/..%5c..%5cfeedsvc.toml",
    "/..\\..\\feedsvc.toml",
    "//etc/passwd",
    "/feeds/all.atom/../../ledger.jsonl",
    "/feeds/all.atom%00.txt",
    "/categories/%c0%ae%c0%ae/%c0%ae%c0%ae/feedsvc.toml",
    "/ledger.jsonl",
    "/ledger.jsonl.lock",
    "/feedsvc.toml",
    "/seeds/ledger.jsonl",
    "/000_a8dcd73938fed7e5.txt",
    "/seeds/000_a8dcd73938fed7e5.txt",
    "/.feedsvc-manifest.json",
    "/wsgi.py",
    "/feedsvc/app.py",
    "/app.py",
    "/.git/config",
    "/.env",
    "/console",
    "/?__debugger__=yes&cmd=resource&f=debugger.js",
    "/static/../feedsvc.toml",
    "/healthz/../feedsvc.toml",
    "/proc/self/environ",
]


@pytest.mark.parametrize("path", TRAVERSALS)
def test_traversal_and_private_files_are_never_served(fetch: Fetch, private: list[bytes], site_paths: list[str], path: str) -> None:
    reply = fetch("GET", path)
    assert_harmless(reply, private, path)
    # Whatever a server makes of the dots, a 200 is only ever a page of the site.
    if reply.status == 200:
        assert reply.headers["content-type"].split(";")[0] in {"application/atom+xml", "application/rss+xml", "application/feed+json", "text/html", "text/x-opml", "application/json", "text/css", "text/javascript"}


INVALID_UTF8 = ["/feeds/%ff%fe.atom", "/articles/%c0%af/", "/categories/%ed%a0%80/", "/%80", "/feeds/category/%fe.rss", "/%e2%82"]


@pytest.mark.parametrize("path", INVALID_UTF8)
def test_invalid_utf8_in_paths_is_a_4xx(fetch: Fetch, private: list[bytes], path: str) -> None:
    reply = fetch("GET", path)
    assert_harmless(reply, private, path)
    assert 400 <= reply.status < 500


@pytest.mark.parametrize("length", [3000, 9000])
def test_overlong_paths_and_queries_are_a_4xx(fetch: Fetch, private: list[bytes], length: int) -> None:
    for path in ["/" + "a" * length, "/feeds/" + "../" * (length // 3), "/feeds/all.atom?" + "q=1&" * (length // 4), "/articles/" + "x" * length + "/"]:
        reply = fetch("GET", path)
        assert_harmless(reply, private, path[:40])
        assert 400 <= reply.status < 500, (path[:40], reply.status)


def test_an_ordinary_query_string_does_not_change_the_answer(fetch: Fetch) -> None:
    plain = fetch("GET", "/feeds/all.atom")
    tagged = fetch("GET", "/feeds/all.atom?utm_source=reader&x=%ff%00")
    assert plain.status == tagged.status == 200 and plain.body == tagged.body


ETAG_HEADERS = [
    "*",
    "*, " * 3000,
    '"' * 9000,
    "W/" * 4000,
    ",,,,,,",
    'W/"unterminated',
    "\"a\", W/\"b\", garbage, 'single'",
    "x" * 100_000,
]
DATE_HEADERS = [
    "yesterday",
    "Mon, 32 Foo 2025 99:99:99 GMT",
    "Sat, 01 Jan 10000 00:00:00 GMT",
    "Thu, 01 Jan 1970 00:00:00 GMT",
    "Fri, 31 Dec 9999 23:59:59 GMT",
    "Sun, 06 Nov 1994 08:49:37 +9999",
    "-1",
    "99999999999999999999",
    "Sun, 06 Nov 1994 08:49:37 GMT, Sun, 06 Nov 1994 08:49:37 GMT",
    "Sun, 06 Nov 1994 08:49:37 GMT" * 300,
]


@pytest.mark.parametrize("value", ETAG_HEADERS, ids=range(len(ETAG_HEADERS)))
def test_malformed_or_huge_if_none_match(fetch: Fetch, private: list[bytes], value: str) -> None:
    reply = fetch("GET", "/feeds/all.atom", {"If-None-Match": value})
    assert_harmless(reply, private, value[:20])
    if len(value) <= 8190 and value.startswith("*"):
        assert reply.status == 304  # `*` matches any current representation
    else:
        assert reply.status in {200, 400, 431}


@pytest.mark.parametrize("value", DATE_HEADERS, ids=range(len(DATE_HEADERS)))
def test_malformed_or_huge_if_modified_since(fetch: Fetch, private: list[bytes], value: str) -> None:
    reply = fetch("GET", "/feeds/all.atom", {"If-Modified-Since": value})
    assert_harmless(reply, private, value[:20])
    assert reply.status in {200, 304, 400, 431}
    # An unparsable or out-of-range date is ignored: the full feed is sent.
    if value in {"yesterday", "Mon, 32 Foo 2025 99:99:99 GMT", "-1", "Thu, 01 Jan 1970 00:00:00 GMT"}:
        assert reply.status == 200 and reply.body


def test_a_real_validator_still_gets_304(fetch: Fetch) -> None:
    first = fetch("GET", "/feeds/all.atom")
    assert fetch("GET", "/feeds/all.atom", {"If-None-Match": first.headers["etag"]}).status == 304
    assert fetch("GET", "/feeds/all.atom", {"If-Modified-Since": first.headers["last-modified"]}).status == 304


FORGERIES = [
    {"Host": FORGED},
    {"Host": f"{FORGED}:8000", "X-Forwarded-Host": FORGED, "X-Forwarded-Proto": "https"},
    {"Forwarded": f"host={FORGED};proto=https", "X-Forwarded-Host": FORGED, "X-Forwarded-Prefix": "/evil", "X-Original-URL": "/ledger.jsonl"},
    {"Host": f"127.0.0.1@{FORGED}"},
]


@pytest.mark.parametrize("forged", FORGERIES, ids=range(len(FORGERIES)))
def test_a_forged_host_never_reaches_a_link(fetch: Fetch, site_paths: list[str], forged: dict[str, str]) -> None:
    """Every document is the same bytes whatever the Host header says."""
    for path in site_paths:
        honest = fetch("GET", path)
        lied_to = fetch("GET", path, forged)
        assert lied_to.status == honest.status == 200, path
        assert lied_to.body == honest.body, path
        assert FORGED.encode() not in lied_to.body
    # A redirect to the slashed address is relative: no host to forge.
    category = next(p for p in site_paths if p.startswith("/categories/"))
    moved = fetch("GET", category.rstrip("/"), forged)
    assert moved.status == 301 and FORGED not in moved.headers.get("location", "")


def test_head_and_options_answer_on_every_route(fetch: Fetch, site_paths: list[str]) -> None:
    for path in site_paths + ["/healthz"]:
        full = fetch("GET", path)
        head = fetch("HEAD", path)
        assert head.status == full.status == 200, path
        assert head.body == b"", path
        assert head.headers.get("content-length") == str(len(full.body)), path
        assert head.headers.get("etag") == full.headers.get("etag"), path
        assert head.headers["content-type"] == full.headers["content-type"], path
        options = fetch("OPTIONS", path)
        assert options.status in {200, 204}, path
        assert {m.strip() for m in options.headers["allow"].split(",")} >= {"GET", "HEAD", "OPTIONS"}, path
    # And on a URL the site does not have: the same 404 as GET, without a body.
    assert fetch("HEAD", "/no/such/page").status == fetch("GET", "/no/such/page").status == 404


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "PATCH", "TRACE", "PROPFIND", "MKCOL", "FOO", "BREW"])
def test_unknown_methods_are_405(fetch: Fetch, private: list[bytes], method: str) -> None:
    for path in ["/", "/feeds/all.atom", "/healthz", "/no/such/page"]:
        reply = fetch(method, path, {"X-Secret-Probe": "echo-me"})
        assert reply.status == 405, (method, path, reply.status)
        assert b"echo-me" not in reply.body  # TRACE must not reflect the request
        assert "GET" in reply.headers.get("allow", ""), (method, path)
        assert_harmless(reply, private, method)


# Raw malformed requests, which no HTTP library will send, to gunicorn only.

RAW = {
    "invalid utf-8 in the request line": b"GET /feeds/\xff\xfe.atom HTTP/1.1\r\nHost: x\r\n\r\n",
    "control characters in the path": b"GET /feeds/\x01\x7f.atom HTTP/1.1\r\nHost: x\r\n\r\n",
    "a NUL in the path": b"GET /feeds/all.atom\x00../../ledger.jsonl HTTP/1.1\r\nHost: x\r\n\r\n",
    "raw dots": b"GET /../../../seeds/ledger.jsonl HTTP/1.1\r\nHost: x\r\n\r\n",
    "unknown HTTP version": b"GET / HTTP/9.9\r\nHost: x\r\n\r\n",
    "no version": b"GET /\r\n\r\n",
    "no Host in HTTP/1.1": b"GET /feeds/all.atom HTTP/1.1\r\n\r\n",
    "a header without a colon": b"GET / HTTP/1.1\r\nHost: x\r\nthis is not a header\r\n\r\n",
    "a NUL in a header": b"GET / HTTP/1.1\r\nHost: x\r\nIf-None-Match: \"a\x00b\"\r\n\r\n",
    "a header of 100 KB": b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 100_000 + b"\r\n\r\n",
    "a thousand headers": b"GET / HTTP/1.1\r\nHost: x\r\n" + b"".join(b"X-%d: y\r\n" % n for n in range(1000)) + b"\r\n",
    "a request line of 64 KB": b"GET /" + b"a" * 65536 + b" HTTP/1.1\r\nHost: x\r\n\r\n",
    "Content-Length and Transfer-Encoding": b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
    "a negative Content-Length": b"GET / HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n",
    "a Content-Length that is not a number": b"GET / HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n",
    "a bad chunk": b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n",
    "an absolute-form target on another host": b"GET http://evil.example/feeds/all.atom HTTP/1.1\r\nHost: evil.example\r\n\r\n",
    "an asterisk target": b"OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n",
    "CONNECT": b"CONNECT evil.example:443 HTTP/1.1\r\nHost: evil.example:443\r\n\r\n",
    "a TLS handshake": bytes.fromhex("16030100a5010000a10303") + b"\x00" * 160,
    "half a request": b"GET /feeds/all.at",
    "binary noise": bytes(range(256)) * 4,
    "an empty line only": b"\r\n\r\n",
    "a method of 10 KB": b"A" * 10_000 + b" / HTTP/1.1\r\nHost: x\r\n\r\n",
    "bare LF line ends": b"GET /feeds/all.atom HTTP/1.1\nHost: x\n\n",
    "obsolete line folding": b"GET / HTTP/1.1\r\nHost: x\r\nX-Folded: a\r\n b\r\n\r\n",
}
STATUS = re.compile(rb"^HTTP/1\.[01] (\d{3}) ", re.MULTILINE)


@pytest.mark.parametrize("name", sorted(RAW))
def test_raw_malformed_requests_never_get_a_5xx(server: Gunicorn, private: list[bytes], name: str) -> None:
    answer = server.raw(RAW[name])
    statuses = [int(code) for code in STATUS.findall(answer)]
    # An answer, or a closed connection: both are fine; a 5xx is not.
    assert all(status < 500 for status in statuses), (name, answer[:300])
    for secret in private:
        assert secret not in answer, (name, secret)
    if name == "an absolute-form target on another host" and statuses == [200]:
        assert b"evil.example" not in answer
    assert server.get("/healthz").status == 200, name


def test_the_server_logged_no_error_and_kept_its_workers(server: Gunicorn, private: list[bytes]) -> None:
    """Run last in this module: after every hostile request above, the
    same workers are alive and nothing reached an error handler."""
    workers = server.workers()
    assert len(workers) == 2
    for _ in range(5):
        assert server.get("/feeds/all.atom").status == 200
    assert server.workers() == workers
    log = server.log()
    assert "Traceback" not in log and "Exception" not in log, log[-3000:]
    assert "Worker exiting" not in log and "WORKER TIMEOUT" not in log, log[-3000:]
