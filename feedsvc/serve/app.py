"""The web server: a Flask app that answers every URL of the site from
memory, with the caching headers feed readers and proxies rely on.

`create_app()` reads its settings from the environment (FEEDSVC_SEEDS and
the rest), so `gunicorn 'feedsvc.serve.app:create_app()'` works without a
repository checkout. What is sent, and when a 304 is allowed, is decided in
`conditional`; how the site is kept current, in `live`.
"""

from __future__ import annotations

import functools
import json
from typing import Callable, Iterable

from flask import Flask, Response, request
from werkzeug.datastructures import Headers
from werkzeug.exceptions import HTTPException

from feedsvc.serve import conditional
from feedsvc.config import Config, load_config
from feedsvc.serve.live import GONE, Generation, LiveSite

ALLOWED_METHODS = "GET, HEAD, OPTIONS"
# No URL of the site is anywhere near this long.
MAX_PATH_CHARS = 2048
MAX_QUERY_CHARS = 2048

PLAIN = "text/plain; charset=utf-8"
NOT_FOUND = b"Not found: this site has no such feed, category or page.\n"
GONE_BODY = b"Gone: this category no longer has any articles, or this topic was removed.\n"
TOO_LONG = b"URI too long.\n"


class PreparedResponse(Response):
    """A response whose headers were built, checked and given their
    Content-Length once, when the document was prepared, and are shared by
    every response that sends it: nothing here may change them."""

    automatically_set_content_length = False
    default_mimetype = None  # the prepared headers carry Content-Type

    def __init__(self, body: bytes | None, status: int, headers: Headers) -> None:
        # The body is one bytes object: hand it to the server as it is.
        super().__init__(body, status, headers, direct_passthrough=True)

    def get_wsgi_headers(self, environ: dict) -> Headers:
        return self.headers


def create_app(
    config: Config | Callable[[], Config] | None = None,
    *,
    poll_seconds: float = 1.0,
    settle_seconds: float = 1.0,
) -> Flask:
    """The feedsvc WSGI app.

    `config`: the settings, a function returning them (called again when
    feedsvc.toml changes), or None to load them from the environment.
    `poll_seconds`: how often a worker looks at the seeds folder at most.
    `settle_seconds`: how long a changed page must stay unchanged before
    it is read.
    """
    if config is None:
        load = load_config
    elif isinstance(config, Config):
        load = lambda: config  # noqa: E731 - settings given once are kept
    else:
        load = config
    live = LiveSite(load, poll_seconds, settle_seconds, wrap=Headers)

    app = Flask(__name__)
    app.config.update(PROPAGATE_EXCEPTIONS=False, TRAP_HTTP_EXCEPTIONS=False, DEBUG=False)
    app.debug = False
    app.extensions["feedsvc"] = live
    # Every path is looked up in the site, so routing needs no slash fixes.
    app.url_map.strict_slashes = False
    app.url_map.merge_slashes = False

    def document(path: str = "") -> Response:
        return _response(respond(live.current(), request.environ))

    methods = ["GET", "HEAD", "OPTIONS"]
    app.add_url_rule("/", "index", document, methods=methods, provide_automatic_options=False)
    app.add_url_rule("/<path:path>", "document", document, methods=methods, provide_automatic_options=False)

    def healthz() -> Response:
        generation = live.current()
        if request.method == "OPTIONS":
            return _response(respond(generation, request.environ))
        body: dict[str, object]
        if live.error:
            # The details (paths, ledger lines) go to the log, not to the public.
            status, body = 503, {"status": "error", "error": "cannot rebuild the site from the seeds; see the server log"}
        else:
            newest = generation.newest_page_seen
            status, body = 200, {
                "status": "ok",
                "articles": generation.site.article_count,
                "newest_page_seen": newest.strftime("%Y-%m-%dT%H:%M:%SZ") if newest else None,
                "updated": generation.site.updated.strftime("%Y-%m-%dT%H:%M:%SZ"),
            }
        data = (json.dumps(body, sort_keys=True) + "\n").encode()
        headers = [("Content-Type", "application/json"), ("Cache-Control", "no-store"), *conditional.COMMON_HEADERS]
        return Response(data, status, headers)

    app.add_url_rule("/healthz", "healthz", healthz, methods=methods, provide_automatic_options=False)

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException) -> Response:
        """Errors raised by routing (405 and the like): short, plain, no HTML."""
        headers = [(name, value) for name, value in error.get_headers() if name.lower() == "allow"]
        code = error.code or 400
        return _response(_plain(code, f"{code} {error.name}.\n".encode(), "no-store", headers))

    @app.errorhandler(Exception)
    def unexpected(error: Exception) -> Response:
        # Flask has logged the traceback; the client gets no detail.
        return _response(_plain(500, b"Internal error.\n", "no-store"))

    app.wsgi_app = _PreparedFirst(app.wsgi_app, live)
    return app


Reply = tuple[int, Headers, "bytes | None"]


def respond(generation: Generation, environ: dict, render: bool = True) -> Reply | None:
    """The answer to a GET, HEAD or OPTIONS of a path of the site: status,
    headers and body (None for a 304 or a HEAD). With `render` false, only
    a GET or HEAD of a document already prepared is answered, and None
    says that the request needs more than a lookup."""
    method = environ["REQUEST_METHOD"]
    path = environ.get("PATH_INFO") or "/"
    query = environ.get("QUERY_STRING")
    found = generation.prepared.get(path) or generation.rare.get(path)
    if not render and (found is None or found is GONE or method == "OPTIONS"):
        return None
    if method == "OPTIONS":
        return _plain(200, b"", None, [("Allow", ALLOWED_METHODS)])
    if (query and len(query) > MAX_QUERY_CHARS) or (found is None and len(path) > MAX_PATH_CHARS):
        return _plain(414, TOO_LONG)
    if found is None:
        found = generation.lookup(path)
        if found is None:
            return _missing(generation, path)
    if found is GONE:
        return _plain(410, GONE_BODY, f"public, max-age={generation.config.cache_max_age}")
    representation = conditional.choose(found, environ.get("HTTP_ACCEPT_ENCODING"))
    if conditional.is_not_modified(
        representation,
        found.modified,
        environ.get("HTTP_IF_NONE_MATCH"),
        environ.get("HTTP_IF_MODIFIED_SINCE"),
    ):
        return 304, representation.not_modified_headers, None
    return 200, representation.headers, None if method == "HEAD" else representation.body


class _PreparedFirst:
    """Answers a GET or HEAD of a document already prepared in memory (the
    feeds every reader polls) before Flask routes the request, through the
    same `respond` as the Flask view but without the framework's
    per-request work. Everything else goes to Flask."""

    def __init__(self, flask_app: Callable, live: LiveSite) -> None:
        self.flask_app = flask_app
        self.live = live

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        if environ["REQUEST_METHOD"] in ("GET", "HEAD"):
            reply = respond(self.live.current(), environ, render=False)
            if reply is not None:
                status, headers, body = reply
                start_response(_status_line(status), headers.to_wsgi_list())
                return [] if body is None else [body]
        return self.flask_app(environ, start_response)


@functools.cache
def _status_line(status: int) -> str:
    """The status line Flask's responses carry, so both paths send the same bytes."""
    return PreparedResponse(None, status, Headers()).status


def _missing(generation: Generation, path: str) -> Reply:
    """404, or a redirect to the page's own URL: from the page's folder
    without its trailing slash, or from its index.html (the links pages
    carry, so that they work from file:// too). Feed URLs are never
    redirected: some readers follow no redirects."""
    max_age = f"public, max-age={generation.config.cache_max_age}"
    page = _page_for(path)
    if page is not None and generation.has(page):
        # A relative Location, built from the path only, never the Host header.
        return _plain(301, b"Moved to the page's own address.\n", max_age, [("Location", page)])
    return _plain(404, NOT_FOUND, "public, max-age=60")


def _page_for(path: str) -> str | None:
    """The page URL `path` may stand for: `/x` or `/x/index.html` for `/x/`."""
    if path.endswith("/index.html"):
        return path[: -len("index.html")]
    if not path.endswith("/") and "." not in path.rsplit("/", 1)[-1]:
        return path + "/"
    return None


def _response(reply: Reply) -> PreparedResponse:
    status, headers, body = reply
    return PreparedResponse(body, status, headers)


def _plain(status: int, body: bytes, cache: str | None = "no-store", extra: list | None = None) -> Reply:
    """A short plain-text answer; `cache` None sends no Cache-Control."""
    cache_control = [("Cache-Control", cache)] if cache else []
    headers = [("Content-Type", PLAIN), *cache_control, *conditional.COMMON_HEADERS, *(extra or [])]
    return status, Headers([*headers, ("Content-Length", str(len(body)))]), body
