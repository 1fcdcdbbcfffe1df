"""The Flask app through its test client: every route, every status rule,
the caching and security headers, hostile requests, and a page dropped
into the seeds folder showing up without a restart."""

from __future__ import annotations

import gzip
import json
import os
import re
import shutil
from pathlib import Path

import feedparser
import pytest
from click.testing import CliRunner

from feedcheck import check, feed_updated, rfc3339
from feedsvc.site import routes as urls
from feedsvc.serve.app import create_app
from feedsvc.cli import main
from feedsvc.config import load_config
from feedsvc.store.ingest import ingest
from feedsvc.site.model import Site
from sitebuild import card, write_page

from conftest import NOW, NOW_EPOCH

FEED_TYPES = {"atom": "application/atom+xml", "rss": "application/rss+xml", "json": "application/feed+json"}
CSP = (
    "default-src 'none'; style-src 'self'; script-src 'self'; img-src 'self' data:; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
HTTP_DATE = re.compile(r"(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d\d [A-Z][a-z]{2} \d{4} \d\d:\d\d:\d\d GMT")
# Long enough that nothing in a test can settle by waiting; tests settle a
# page by moving its mtime back instead.
NEVER = 3600.0


@pytest.fixture(autouse=True)
def fixed_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOURCE_DATE_EPOCH", str(NOW_EPOCH))


@pytest.fixture
def app(config):
    # Poll on every request; pages settle at once unless a test says otherwise.
    return create_app(config, poll_seconds=0, settle_seconds=0)


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def site(config) -> Site:
    """The site as built independently of the app, from the same seeds."""
    return Site.from_ingest(config, ingest(config, NOW, write=False))


def paths(site: Site) -> list[str]:
    return [target.path for target in site.targets()]


def feed_paths(site: Site) -> list[str]:
    return [p for p in paths(site) if p.startswith("/feeds/") and not p.endswith(".opml")]


def settle(path: Path) -> None:
    """Make a page look as if nobody had written to it for a long time."""
    moment = path.stat().st_mtime - 2 * NEVER
    os.utime(path, (moment, moment))


# Every URL of the site


def test_every_url_of_the_site_answers_with_its_bytes_and_type(client, site):
    assert len(paths(site)) > 20
    for path in paths(site):
        response = client.get(path)
        assert response.status_code == 200, path
        assert response.data == site.render(path).body, path
        assert response.headers["Content-Type"] == urls.content_type_for(path)
        assert response.headers["Content-Type"].endswith("; charset=utf-8")


def test_feeds_have_the_feed_content_types(client, site):
    for path in feed_paths(site):
        fmt = path.rsplit(".", 1)[1]
        assert client.get(path).headers["Content-Type"] == f"{FEED_TYPES[fmt]}; charset=utf-8"
    assert client.get(urls.OPML_PATH).headers["Content-Type"] == "text/x-opml; charset=utf-8"


def test_every_served_feed_is_valid_and_read_by_feedparser_without_bozo(client, site):
    for path in feed_paths(site):
        body = client.get(path).data
        check(path, body)
        if not path.endswith(".json"):
            parsed = feedparser.parse(body)
            assert parsed.bozo == 0, (path, parsed.get("bozo_exception"))
            assert parsed.entries


def test_feed_urls_answer_200_directly_without_redirects(client, site):
    for path in feed_paths(site) + [urls.OPML_PATH]:
        response = client.get(path)
        assert response.status_code == 200 and "Location" not in response.headers


def test_html_pages_without_their_trailing_slash_redirect_to_it(client, site):
    for path in [p for p in paths(site) if p.endswith("/") and p != "/"]:
        response = client.get(path[:-1])
        assert response.status_code == 301
        # Relative, built from the path alone: never from the Host header.
        assert response.headers["Location"] == path
        assert client.get(response.headers["Location"]).status_code == 200


# Caching headers


def test_feeds_carry_a_strong_etag_last_modified_and_cache_control(client, site, config):
    for path in feed_paths(site):
        response = client.get(path)
        etag = response.headers["ETag"]
        assert re.fullmatch(r'"[^"\sW]+"', etag), etag
        assert response.headers["Cache-Control"] == f"public, max-age={config.cache_max_age}"
        assert HTTP_DATE.fullmatch(response.headers["Last-Modified"])
        # JSON Feed has no feed-level date: it shares the Atom feed's.
        atom = path.rsplit(".", 1)[0] + ".atom"
        updated = feed_updated(atom, client.get(atom).data)
        assert response.last_modified == updated.replace(microsecond=0), path
        assert response.headers["Vary"] == "Accept-Encoding"


def test_last_modified_is_the_feeds_updated_time(client):
    response = client.get("/feeds/all.atom")
    updated = feed_updated("/feeds/all.atom", response.data)
    assert response.last_modified == updated.replace(microsecond=0)


def test_cache_max_age_comes_from_the_settings(seeds):
    client = create_app(load_config(seeds, environ={}, cache_max_age=123), poll_seconds=0, settle_seconds=0).test_client()
    assert client.get("/feeds/all.rss").headers["Cache-Control"] == "public, max-age=123"


def test_etag_depends_on_the_bytes_only(seeds, tmp_path):
    """Two apps (as two workers would be) give the same ETags, identity and gzip."""
    other = tmp_path / "other"
    shutil.copytree(seeds, other)
    first = create_app(load_config(seeds, environ={}), poll_seconds=0).test_client()
    second = create_app(load_config(other, environ={}), poll_seconds=0).test_client()
    for path in ("/feeds/all.atom", "/feeds/all.json", "/"):
        for encoding in ("identity", "gzip"):
            headers = {"Accept-Encoding": encoding}
            a, b = first.get(path, headers=headers), second.get(path, headers=headers)
            assert a.data == b.data
            assert a.headers["ETag"] == b.headers["ETag"]


@pytest.mark.parametrize(
    "if_none_match",
    ["{etag}", "W/{etag}", '"nope", {etag}', '"nope",{etag} , "other"', "*", "{bare}"],
    ids=["exact", "weak", "list", "list-spaces", "star", "unquoted"],
)
def test_if_none_match_that_matches_gets_304_without_body(client, if_none_match):
    first = client.get("/feeds/all.atom")
    etag = first.headers["ETag"]
    header = if_none_match.format(etag=etag, bare=etag.strip('"'))
    response = client.get("/feeds/all.atom", headers={"If-None-Match": header})
    assert response.status_code == 304
    assert response.data == b""
    assert response.headers["ETag"] == etag
    assert response.headers["Cache-Control"] == first.headers["Cache-Control"]
    assert response.headers["Vary"] == "Accept-Encoding"


@pytest.mark.parametrize("if_none_match", ['"nope"', 'W/"nope"', '"a", "b"', "", ","])
def test_if_none_match_that_does_not_match_gets_the_feed(client, if_none_match):
    response = client.get("/feeds/all.atom", headers={"If-None-Match": if_none_match})
    assert response.status_code == 200 and response.data


def test_if_modified_since_gets_304_when_not_modified(client):
    modified = client.get("/feeds/all.rss").headers["Last-Modified"]
    assert client.get("/feeds/all.rss", headers={"If-Modified-Since": modified}).status_code == 304
    later = "Fri, 01 Jan 2100 00:00:00 GMT"
    assert client.get("/feeds/all.rss", headers={"If-Modified-Since": later}).status_code == 304
    earlier = "Thu, 01 Jan 1970 00:00:01 GMT"
    response = client.get("/feeds/all.rss", headers={"If-Modified-Since": earlier})
    assert response.status_code == 200 and response.data


@pytest.mark.parametrize(
    "past, future",
    [
        ("Monday, 01-Jan-90 00:00:00 GMT", "Saturday, 01-Jan-50 00:00:00 GMT"),
        ("Mon Jan  1 00:00:00 1990", "Sat Jan  1 00:00:00 2050"),
    ],
    ids=["rfc850", "asctime"],
)
def test_if_modified_since_accepts_the_obsolete_date_forms(client, past, future):
    assert client.get("/feeds/all.rss", headers={"If-Modified-Since": past}).status_code == 200
    assert client.get("/feeds/all.rss", headers={"If-Modified-Since": future}).status_code == 304


def test_if_modified_since_is_ignored_when_if_none_match_is_present(client):
    modified = client.get("/feeds/all.rss").headers["Last-Modified"]
    headers = {"If-None-Match": '"something-else"', "If-Modified-Since": modified}
    assert client.get("/feeds/all.rss", headers=headers).status_code == 200


@pytest.mark.parametrize(
    "headers",
    [
        {"If-None-Match": '"' + "x" * 100_000 + '"'},
        {"If-None-Match": "W/" * 5000},
        {"If-None-Match": '"\x7f\x00'},
        {"If-None-Match": ",,,,,"},
        {"If-Modified-Since": "x" * 100_000},
        {"If-Modified-Since": "Mon, 99 Foo 99999 99:99:99 GMT"},
        {"If-Modified-Since": "Sun, 06 Nov 1994 08:49:37 GMT, Sun, 06 Nov 1994 08:49:37 GMT"},
        {"If-Modified-Since": "-1"},
        {"If-Modified-Since": "Thu, 01 Jan 10000 00:00:00 GMT"},
        {"If-Modified-Since": "Sat, 31 Feb 2020 00:00:00 GMT"},
        {"Accept-Encoding": "gzip;q=" + "9" * 5000},
        {"Accept-Encoding": "gzip;q=nan"},
        {"Accept-Encoding": "gzip;q=1e999"},
        {"Accept-Encoding": ";;;,,,=;q"},
        {"Accept-Encoding": "x" * 100_000},
    ],
    ids=lambda headers: next(iter(headers)),
)
def test_malformed_or_huge_conditional_headers_are_ignored(client, headers):
    response = client.get("/feeds/all.atom", headers=headers)
    assert response.status_code == 200
    assert response.data == client.get("/feeds/all.atom").data


def test_head_answers_like_get_without_a_body(client, site):
    for path in paths(site) + ["/healthz", "/nope", "/categories/customs"]:
        for encoding in ("identity", "gzip"):
            get = client.get(path, headers={"Accept-Encoding": encoding})
            head = client.head(path, headers={"Accept-Encoding": encoding})
            assert head.status_code == get.status_code, path
            assert head.data == b"", path
            assert head.headers == get.headers, path


@pytest.mark.parametrize("method", ["GET", "HEAD"])
@pytest.mark.parametrize("extra", [{}, {"Accept-Encoding": "gzip"}, "etag", {"If-Modified-Since": "Sun, 06 Nov 2050 08:49:37 GMT"}])
def test_a_prepared_document_is_answered_as_it_was_first(config, method, extra) -> None:
    # The first request for a document renders and prepares it; later ones
    # answer from memory. Both must send the same bytes.
    paths = ["/", "/feeds/all.atom", "/feeds/all.rss", "/feeds/all.json", "/feeds.opml"]
    app = create_app(config, poll_seconds=0, settle_seconds=0)
    client = app.test_client()
    first = {}
    for path in paths:
        headers = {"If-None-Match": client.get(path).headers["ETag"]} if extra == "etag" else extra
        first[path] = client.open(path, method=method, headers=headers)
    for path in paths:
        headers = {"If-None-Match": first[path].headers["ETag"]} if extra == "etag" else extra
        again = client.open(path, method=method, headers=headers)
        assert (again.status, list(again.headers), again.data) == (first[path].status, list(first[path].headers), first[path].data)
    assert first["/feeds/all.atom"].status_code == (304 if extra == "etag" or "If-Modified-Since" in extra else 200)


def test_head_with_a_matching_etag_gets_304(client):
    etag = client.head("/feeds/all.json").headers["ETag"]
    assert client.head("/feeds/all.json", headers={"If-None-Match": etag}).status_code == 304


# Compression


@pytest.mark.parametrize(
    "accept, gzipped",
    [
        ("gzip", True),
        ("GZIP", True),
        ("x-gzip", True),
        ("gzip, deflate, br", True),
        ("br;q=1.0, gzip;q=0.8, *;q=0.1", True),
        ("*", True),
        ("deflate, gzip;q=0.001", True),
        ("gzip;q=0", False),
        ("gzip; q=0.0", False),
        ("*;q=0", False),
        ("*, gzip;q=0", False),
        ("identity", False),
        ("br", False),
        ("", False),
        ("gzip;q=banana", False),
    ],
)
def test_gzip_follows_accept_encoding_q_values(client, accept, gzipped):
    plain = client.get("/feeds/all.atom")
    response = client.get("/feeds/all.atom", headers={"Accept-Encoding": accept})
    assert response.headers["Vary"] == "Accept-Encoding"
    if gzipped:
        assert response.headers["Content-Encoding"] == "gzip"
        assert gzip.decompress(response.data) == plain.data
        assert response.headers["ETag"] != plain.headers["ETag"]
    else:
        assert "Content-Encoding" not in response.headers
        assert response.data == plain.data


def test_every_representation_has_its_own_etag_for_304(client, site):
    for path in paths(site):
        plain = client.get(path)
        zipped = client.get(path, headers={"Accept-Encoding": "gzip"})
        assert client.get(path, headers={"Accept-Encoding": "gzip", "If-None-Match": zipped.headers["ETag"]}).status_code == 304
        assert client.get(path, headers={"If-None-Match": plain.headers["ETag"]}).status_code == 304
        # The other representation's ETag does not validate this one.
        assert client.get(path, headers={"Accept-Encoding": "gzip", "If-None-Match": plain.headers["ETag"]}).status_code == 200
        assert gzip.decompress(zipped.data) == plain.data
        assert "Vary" in client.get(path, headers={"If-None-Match": plain.headers["ETag"]}).headers


def test_gzip_bodies_are_the_same_every_time(client):
    first = client.get("/feeds/all.json", headers={"Accept-Encoding": "gzip"}).data
    # The gzip header's timestamp is zero, so nothing varies with the clock.
    assert first[4:8] == b"\0\0\0\0"
    assert client.get("/feeds/all.json", headers={"Accept-Encoding": "gzip"}).data == first


# Status rules


@pytest.mark.parametrize(
    "path",
    [
        "/feeds/nope.atom",
        "/feeds/all.xml",
        "/feeds/category/nope.rss",
        "/feeds/category/nope.json",
        "/feeds/all/archive/1.atom",
        "/feeds/all/archive/0.atom",
        "/feeds/all/archive/99.rss",
        "/feeds/all/archive/1.json",
        "/categories/nope/",
        "/categories/",
        "/articles/nope/",
        "/articles/",
        "/feeds/",
        "/articles/nope/index.html",
        "/favicon.ico",
        "/robots.txt",
    ],
)
def test_unknown_urls_get_a_short_plain_404(client, path):
    response = client.get(path)
    assert response.status_code == 404
    assert response.headers["Content-Type"] == "text/plain; charset=utf-8"
    assert len(response.data) < 200
    assert response.headers["X-Content-Type-Options"] == "nosniff"


@pytest.mark.parametrize("page", ["/", "/categories/customs/", "article"])
def test_a_page_asked_for_by_its_index_html_redirects_to_its_own_url(client, site, page):
    # Pages link to each other as .../index.html, so an exported tree works
    # from file://; on the server those links lead to the page's own URL.
    page = urls.article_path(site.articles[0].id) if page == "article" else page
    response = client.get(page + "index.html")
    assert response.status_code == 301 and response.headers["Location"] == page
    assert client.get(page).status_code == 200


def test_a_category_that_lost_all_its_articles_answers_410(client, config, seeds):
    slug = "customs"
    assert client.get(f"/feeds/category/{slug}.atom").status_code == 200
    result = ingest(config, NOW, write=False)
    withdrawn = [a.id for a in result.articles(config.site_key) if a.category_slug == slug]
    assert withdrawn
    runner = CliRunner()
    for article_id in withdrawn:
        outcome = runner.invoke(main, ["takedown", "--seeds", str(seeds), article_id])
        assert outcome.exit_code == 0, outcome.output
    # The ledger was changed by another process; the app notices.
    for fmt in urls.FORMATS:
        response = client.get(f"/feeds/category/{slug}.{fmt}")
        assert response.status_code == 410
        assert response.headers["Content-Type"] == "text/plain; charset=utf-8"
    assert client.get(f"/categories/{slug}/").status_code == 410
    assert client.get("/feeds/category/never-existed.atom").status_code == 404
    assert client.get("/feeds/all.atom").status_code == 200


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "PATCH", "TRACE", "PROPFIND", "FOO"])
@pytest.mark.parametrize("path", ["/", "/feeds/all.atom", "/healthz", "/nope"])
def test_other_methods_get_405_with_allow(client, method, path):
    response = client.open(path, method=method, data=b"x=1")
    assert response.status_code == 405
    assert set(response.headers["Allow"].replace(" ", "").split(",")) == {"GET", "HEAD", "OPTIONS"}
    assert response.headers["Content-Type"] == "text/plain; charset=utf-8"
    assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_options_answers_with_allow_on_every_route(client, site):
    for path in paths(site) + ["/healthz", "/nope"]:
        response = client.open(path, method="OPTIONS")
        assert response.status_code == 200
        assert set(response.headers["Allow"].replace(" ", "").split(",")) == {"GET", "HEAD", "OPTIONS"}
        assert response.data == b""


def test_overlong_paths_and_query_strings_get_414(client):
    assert client.get("/feeds/" + "a" * 3000 + ".atom").status_code == 414
    assert client.get("/feeds/all.atom?" + "q=" + "x" * 5000).status_code == 414


@pytest.mark.parametrize(
    "query",
    ["?page=abc", "?format=html", "?%ff%fe=%00", "?a=1&a=2&b", "?utm_source=reader", "?x=" + "y" * 1000],
)
def test_query_parameters_are_ignored(client, query):
    plain = client.get("/feeds/all.atom")
    response = client.get("/feeds/all.atom" + query)
    assert response.status_code == 200 and response.data == plain.data


def test_feeds_are_never_negotiated_into_html(client):
    browser = {"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}
    response = client.get("/feeds/all.atom", headers=browser)
    assert response.headers["Content-Type"].startswith("application/atom+xml")


# Security


def test_html_pages_send_the_security_headers(client, site):
    for path in [p for p in paths(site) if p.endswith("/")]:
        response = client.get(path)
        assert response.headers["Content-Security-Policy"] == CSP
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["Referrer-Policy"]


def test_every_answer_sends_nosniff(client, site):
    etag = client.get("/feeds/all.atom").headers["ETag"]
    answers = [
        client.get("/feeds/all.atom"),
        client.get("/feeds/all.atom", headers={"If-None-Match": etag}),
        client.get("/nope"),
        client.get("/categories/customs"),
        client.get("/x" * 2000),
        client.post("/feeds/all.atom"),
        client.open("/", method="OPTIONS"),
        client.get("/healthz"),
        client.get("//etc/passwd"),
    ] + [client.get(path) for path in paths(site)]
    for response in answers:
        assert response.headers["X-Content-Type-Options"] == "nosniff", response.status


HOSTILE_PATHS = [
    "/../seeds/feedsvc.toml",
    "/%2e%2e/%2e%2e/etc/passwd",
    "/feeds/..%2f..%2fseeds%2fledger.jsonl",
    "/feeds/%2e%2e/%2e%2e/wsgi.py",
    "/..%2f..%2f..%2fetc%2fpasswd",
    "/%2e%2e%2f%2e%2e%2fetc%2fpasswd",
    "/ledger.jsonl",
    "/seeds/ledger.jsonl",
    "/feedsvc.toml",
    "/seeds/feedsvc.toml",
    "/seeds/000_a8dcd73938fed7e5.txt",
    "/000_a8dcd73938fed7e5.txt",
    "/wsgi.py",
    "/feedsvc/app.py",
    "/app.py",
    "/.git/config",
    "/.env",
    "/static/../../feedsvc/config.py",
    "//etc/passwd",
    "/\\..\\..\\etc\\passwd",
    "/feeds/all.atom%00.txt",
    "/console",
    "/feeds/all.atom/",
    "/feeds/all.atom/..",
    "/%ff%fe%fd",
    "/categories/%c0%ae%c0%ae/",
    "/articles/\u202e/",
]


@pytest.mark.parametrize("path", HOSTILE_PATHS)
def test_hostile_paths_get_a_4xx_and_nothing_private(client, seeds, path):
    response = client.get(path)
    assert 400 <= response.status_code < 500
    private = [(seeds / "ledger.jsonl").read_bytes()[:60], b"site_key", b"Traceback", b"import ", b"root:"]
    assert not any(secret in response.data for secret in private)


@pytest.mark.parametrize("raw", [b"/feeds/\xff\xfe.atom", b"/categories/\xc3(/", b"/\xed\xa0\x80", b"/articles/\x80/"])
def test_invalid_utf8_in_paths_gets_a_4xx(client, raw):
    # The WSGI server hands PATH_INFO over as bytes decoded as Latin-1.
    response = client.get("/", environ_overrides={"PATH_INFO": raw.decode("latin-1")})
    assert 400 <= response.status_code < 500


@pytest.mark.parametrize("host", ["evil.example", "evil.example:666", "127.0.0.1:8000 evil.example", "x" * 3000, "[::1"])
def test_a_forged_host_never_reaches_a_link(client, site, host):
    for path in ("/", "/feeds/all.atom", "/feeds/all.rss", "/feeds/all.json", "/feeds.opml", "/categories/customs/"):
        response = client.get(path, headers={"Host": host})
        if response.status_code == 200:
            assert response.data == site.render(path).body
            assert b"evil" not in response.data
        else:
            assert 400 <= response.status_code < 500
    redirect = client.get("/categories/customs", headers={"Host": "evil.example"})
    assert "evil" not in redirect.headers.get("Location", "")


def test_no_request_produces_a_5xx_or_a_traceback(client, site):
    requests = [
        ("GET", path, headers)
        for path in paths(site)[:10] + HOSTILE_PATHS
        for headers in (
            {},
            {"If-None-Match": "*" * 10_000, "Accept-Encoding": "gzip;q=-1"},
            {"If-Modified-Since": "\x00\xff", "Range": "bytes=99999-0", "Accept": "\x00"},
        )
    ]
    requests += [(method, "/feeds/all.atom", {}) for method in ("GET", "HEAD", "OPTIONS", "POST", "CONNECT", "get", "M-SEARCH")]
    for method, path, headers in requests:
        response = client.open(path, method=method, headers=headers)
        assert response.status_code < 500, (method, path, headers)
        assert b"Traceback" not in response.data and b"Werkzeug Debugger" not in response.data


def test_debug_mode_and_exception_propagation_are_off(app):
    assert not app.debug
    assert app.config["PROPAGATE_EXCEPTIONS"] is False


# Health


def test_healthz_reports_the_articles_and_the_newest_page(client, site):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/json"
    assert response.headers["Cache-Control"] == "no-store"
    health = response.get_json()
    assert health["status"] == "ok"
    assert health["articles"] == site.article_count
    assert rfc3339(health["newest_page_seen"]) == NOW


def test_healthz_answers_503_when_the_seeds_cannot_be_read(client, seeds):
    shutil.rmtree(seeds)
    response = client.get("/healthz")
    assert response.status_code == 503
    assert json.loads(response.data)["status"] == "error"
    # Where the seeds live is nobody's business outside.
    assert str(seeds).encode() not in response.data
    # The last good site is still served.
    assert client.get("/feeds/all.atom").status_code == 200


def test_healthz_recovers_when_the_seeds_come_back(client, seeds, tmp_path):
    moved = tmp_path / "moved"
    seeds.rename(moved)
    assert client.get("/healthz").status_code == 503
    moved.rename(seeds)
    assert client.get("/healthz").status_code == 200


# New pages


NEW_CARDS = [card("Harbour Cranes Get Automated Remote Control", "Operators of the harbour cranes now work from an office.")]


def titles(client, path: str = "/feeds/all.atom") -> list[str]:
    return [entry.title for entry in feedparser.parse(client.get(path).data).entries]


def test_a_dropped_page_appears_without_a_restart(client, seeds, config):
    before = client.get("/feeds/all.atom")
    write_page(seeds, "000_new.txt", NEW_CARDS)
    after = client.get("/feeds/all.atom", headers={"If-None-Match": before.headers["ETag"]})
    assert after.status_code == 200
    assert "Harbour Cranes Get Automated Remote Control" in titles(client)
    assert after.headers["ETag"] != before.headers["ETag"]
    # The app wrote the ledger, so the next build agrees on first-seen times.
    assert "000_new.txt" in (seeds / "ledger.jsonl").read_text()


def test_a_page_still_being_written_is_not_read_until_it_settles(config, seeds):
    client = create_app(config, poll_seconds=0, settle_seconds=NEVER).test_client()
    page = seeds / "000_new.txt"
    text = "\n".join(NEW_CARDS + [card("Second Story About Bonded Warehouses", "Bonded warehouses expand.")])
    half = len(text) // 2
    page.write_text(text[:half], encoding="utf-8")
    assert "Harbour Cranes Get Automated Remote Control" not in titles(client)
    with page.open("a", encoding="utf-8") as handle:
        handle.write(text[half:])
    assert "Second Story About Bonded Warehouses" not in titles(client)
    settle(page)
    found = titles(client)
    assert "Harbour Cranes Get Automated Remote Control" in found
    assert "Second Story About Bonded Warehouses" in found
    entry = next(e for e in feedparser.parse(client.get("/feeds/all.atom").data).entries if e.title.startswith("Harbour"))
    assert "now work from an office." in entry.summary


def test_a_dropped_page_appears_after_the_settle_time(config, seeds):
    """Real settle and poll intervals, shortened; waits for the page by
    polling as a reader would (no assertion on how long it took)."""
    import time

    client = create_app(config, poll_seconds=0.05, settle_seconds=0.2).test_client()
    write_page(seeds, "000_new.txt", NEW_CARDS)
    deadline = time.monotonic() + 30
    while "Harbour Cranes Get Automated Remote Control" not in titles(client):
        assert time.monotonic() < deadline, "the dropped page never appeared"
        time.sleep(0.05)


def test_a_removed_page_keeps_its_articles_and_changes_nothing(client, seeds):
    before = client.get("/feeds/all.atom")
    (seeds / "004_cd0edd78a113db88.txt").unlink()
    after = client.get("/feeds/all.atom")
    # Articles are remembered in the ledger; the feed is the same.
    assert after.data == before.data


def test_nothing_is_rebuilt_while_the_seeds_stay_the_same(app, client):
    live = app.extensions["feedsvc"]
    first = live.generation
    for _ in range(3):
        client.get("/feeds/all.atom")
        client.get("/healthz")
    assert live.generation is first


def test_read_only_mode_never_writes_the_ledger(seeds):
    config = load_config(seeds, environ={"FEEDSVC_READ_ONLY": "1"})
    assert config.read_only
    client = create_app(config, poll_seconds=0, settle_seconds=0).test_client()
    assert client.get("/feeds/all.atom").status_code == 200
    write_page(seeds, "000_new.txt", NEW_CARDS)
    assert "Harbour Cranes Get Automated Remote Control" in titles(client)
    assert not (seeds / "ledger.jsonl").exists()


def test_a_ledger_written_elsewhere_is_picked_up_in_read_only_mode(seeds, config):
    reader = create_app(load_config(seeds, environ={"FEEDSVC_READ_ONLY": "1"}), poll_seconds=0, settle_seconds=NEVER)
    client = reader.test_client()
    page = write_page(seeds, "000_new.txt", NEW_CARDS)
    settle(page)
    # Another machine (CI) ingests and writes the ledger the server reads.
    ingest(config, NOW)
    assert "Harbour Cranes Get Automated Remote Control" in titles(client)


def test_a_broken_ledger_keeps_the_last_good_site_and_fails_health(client, seeds):
    before = client.get("/feeds/all.atom").data
    (seeds / "ledger.jsonl").write_text("this is not a ledger\n")
    assert client.get("/feeds/all.atom").data == before
    assert client.get("/healthz").status_code == 503


def test_settings_changes_apply_when_the_app_loads_its_own_settings(seeds, monkeypatch):
    monkeypatch.setenv("FEEDSVC_SEEDS", str(seeds))
    client = create_app(poll_seconds=0, settle_seconds=0).test_client()
    assert b"Customs &amp; Logistics News" in client.get("/feeds/all.atom").data
    toml = seeds / "feedsvc.toml"
    toml.write_text(toml.read_text().replace('site_title = "Customs & Logistics News"', 'site_title = "Renamed News"'))
    assert b"Renamed News" in client.get("/feeds/all.atom").data


def test_create_app_reads_the_environment(seeds, monkeypatch):
    monkeypatch.setenv("FEEDSVC_SEEDS", str(seeds))
    monkeypatch.setenv("FEEDSVC_BASE_URL", "https://feeds.example.org/news/")
    body = create_app().test_client().get("/feeds/all.atom").data
    assert b'href="https://feeds.example.org/news/feeds/all.atom"' in body


def test_the_app_refuses_to_start_without_seeds(tmp_path):
    with pytest.raises(Exception, match="seeds folder"):
        create_app(load_config(tmp_path / "missing", environ={}))


# Commands


@pytest.mark.parametrize("command", ["serve", "ping"])
def test_commands_have_help(command):
    result = CliRunner().invoke(main, [command, "--help"])
    assert result.exit_code == 0
    assert len(result.output.splitlines()) > 5


def test_a_dropped_html_page_is_picked_up_like_a_text_page(seeds):
    """HTML pages land in a running server as text pages do."""
    second = seeds / "004_cd0edd78a113db88.txt"
    html_copy = Path(__file__).parent / "html_pages" / "samples" / (second.stem + ".html")
    expected = titles_of_page(second)
    assert len(expected) > 3
    second.unlink()
    with (seeds / "feedsvc.toml").open("a", encoding="utf-8") as settings:
        settings.write('\n[html]\nmode = "text"\n')
    client = create_app(load_config(seeds, environ={}), poll_seconds=0, settle_seconds=0).test_client()
    assert not expected & set(titles(client))
    (seeds / "004_next.html").write_bytes(html_copy.read_bytes())
    assert expected <= set(titles(client))


def titles_of_page(page: Path) -> set[str]:
    """The titles a text page's cards carry (each card's first line)."""
    blocks = [block.strip() for block in page.read_text(encoding="utf-8").split("\n\n") if block.strip()]
    return {blocks[i] for i in range(len(blocks) - 1) if blocks[i] == blocks[i + 1]}
