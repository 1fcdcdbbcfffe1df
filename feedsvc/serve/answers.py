"""Answers to HTTP requests, framework-free: a site's documents with their
caching headers and conditional requests (`respond`, `send`), its
redirects and short plain-text errors, and /healthz. The Flask app
(`app`) and an instance of several sites (`instance`) both answer
through these, so every path sends the same bytes either way."""

from __future__ import annotations

import json

from werkzeug.datastructures import Headers

from feedsvc.serve import conditional
from feedsvc.serve.live import GONE, Generation, LiveSite

ALLOWED_METHODS = "GET, HEAD, OPTIONS"
# No URL of the site is anywhere near this long.
MAX_PATH_CHARS = 2048
MAX_QUERY_CHARS = 2048

PLAIN = "text/plain; charset=utf-8"
NOT_FOUND = b"Not found: this site has no such feed, category or page.\n"
GONE_BODY = b"Gone: this category no longer has any articles, or this topic was removed.\n"
TOO_LONG = b"URI too long.\n"


Reply = tuple[int, Headers, "bytes | None"]


def respond(generation: Generation, environ: dict, render: bool = True, path: str | None = None, prefix: str = "") -> Reply | None:
    """The answer to a GET, HEAD or OPTIONS of a path of the site: status,
    headers and body (None for a 304 or a HEAD). With `render` false, only
    a GET or HEAD of a document already prepared is answered, and None
    says that the request needs more than a lookup. `path` is the site's
    own path when the request's is under `prefix` (an instance of several
    sites)."""
    method = environ["REQUEST_METHOD"]
    if path is None:
        path = environ.get("PATH_INFO") or "/"
    query = environ.get("QUERY_STRING")
    found = generation.prepared.get(path) or generation.rare.get(path)
    if not render and (found is None or found is GONE or method == "OPTIONS"):
        return None
    if method == "OPTIONS":
        return plain(200, b"", None, [("Allow", ALLOWED_METHODS)])
    if (query and len(query) > MAX_QUERY_CHARS) or (found is None and len(path) > MAX_PATH_CHARS):
        return plain(414, TOO_LONG)
    if found is None:
        found = generation.lookup(path)
        if found is None:
            return _missing(generation, path, prefix)
    if found is GONE:
        return plain(410, GONE_BODY, f"public, max-age={generation.config.cache_max_age}")
    return send(found, environ)


def send(found: conditional.Served, environ: dict) -> Reply:
    """A prepared document: 200, or 304 when the client's copy is current."""
    representation = conditional.choose(found, environ.get("HTTP_ACCEPT_ENCODING"))
    if conditional.is_not_modified(
        representation,
        found.modified,
        environ.get("HTTP_IF_NONE_MATCH"),
        environ.get("HTTP_IF_MODIFIED_SINCE"),
    ):
        return 304, representation.not_modified_headers, None
    return 200, representation.headers, None if environ["REQUEST_METHOD"] == "HEAD" else representation.body


def _missing(generation: Generation, path: str, prefix: str = "") -> Reply:
    """404, or a redirect to the page's own URL: from the page's folder
    without its trailing slash, or from its index.html (the links pages
    carry, so that they work from file:// too). Feed URLs are never
    redirected: some readers follow no redirects."""
    max_age = f"public, max-age={generation.config.cache_max_age}"
    page = _page_for(path)
    if page is not None and generation.has(page):
        # A relative Location, built from the path only, never the Host header.
        return redirect(prefix + page, max_age)
    return plain(404, NOT_FOUND, "public, max-age=60")


def redirect(location: str, cache: str) -> Reply:
    return plain(301, b"Moved to the page's own address.\n", cache, [("Location", location)])


def _page_for(path: str) -> str | None:
    """The page URL `path` may stand for: `/x` or `/x/index.html` for `/x/`."""
    if path.endswith("/index.html"):
        return path[: -len("index.html")]
    if not path.endswith("/") and "." not in path.rsplit("/", 1)[-1]:
        return path + "/"
    return None


def plain(status: int, body: bytes, cache: str | None = "no-store", extra: list | None = None) -> Reply:
    """A short plain-text answer; `cache` None sends no Cache-Control."""
    cache_control = [("Cache-Control", cache)] if cache else []
    headers = [("Content-Type", PLAIN), *cache_control, *conditional.COMMON_HEADERS, *(extra or [])]
    return status, Headers([*headers, ("Content-Length", str(len(body)))]), body


def site_health(live: LiveSite, generation: Generation) -> Reply:
    """/healthz of one site: 503 while its seeds cannot be rebuilt."""
    body: dict[str, object]
    if live.error:
        # The details (paths, ledger lines) go to the log, not to the public.
        status, body = 503, {"status": "error", "error": "cannot rebuild the site from the seeds; see the server log"}
    else:
        status, body = 200, {"status": "ok", **site_figures(generation)}
    return health_reply(status, body)


def site_figures(generation: Generation) -> dict[str, object]:
    newest = generation.newest_page_seen
    return {
        "articles": generation.site.article_count,
        "newest_page_seen": newest.strftime("%Y-%m-%dT%H:%M:%SZ") if newest else None,
        "updated": generation.site.updated.strftime("%Y-%m-%dT%H:%M:%SZ"),
    }


def health_reply(status: int, body: dict) -> Reply:
    data = (json.dumps(body, sort_keys=True) + "\n").encode()
    headers = [("Content-Type", "application/json"), ("Cache-Control", "no-store"), *conditional.COMMON_HEADERS]
    return status, Headers([*headers, ("Content-Length", str(len(data)))]), data
