"""The web server: a Flask app that answers every URL of the site from
memory, with the caching headers feed readers and proxies rely on.

`create_app()` reads its settings from the environment (FEEDSVC_SEEDS or
FEEDSVC_SITES, and the rest), so `gunicorn 'feedsvc.serve.app:create_app()'`
works without a repository checkout. What is sent, and when a 304 is
allowed, is decided in `conditional` and `answers`; how a site is kept
current, in `live`; how several sites share one server, in `instance`.
"""

from __future__ import annotations

import functools
import os
from pathlib import Path
from typing import Callable, Iterable

from flask import Flask, Response, request
from werkzeug.datastructures import Headers
from werkzeug.exceptions import HTTPException

from feedsvc.config import Config, load_config
from feedsvc.instance import InstanceConfig, load_instance
from feedsvc.serve.answers import Reply, plain, respond, site_health
from feedsvc.serve.instance import Instance
from feedsvc.serve.live import LiveSite


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
    sites: Path | str | Callable[[], InstanceConfig] | None = None,
    poll_seconds: float = 1.0,
    settle_seconds: float = 1.0,
) -> Flask:
    """The feedsvc WSGI app.

    `config`: the settings, a function returning them (called again when
    feedsvc.toml changes), or None to load them from the environment.
    `sites`: instead, a folder of several sites (see `serve.instance`), or
    a function returning the instance's settings; with neither argument,
    FEEDSVC_SITES in the environment names that folder.
    `poll_seconds`: how often a worker looks at the seeds folder at most.
    `settle_seconds`: how long a changed page must stay unchanged before
    it is read.
    """
    if config is None and sites is None and os.environ.get("FEEDSVC_SITES"):
        sites = os.environ["FEEDSVC_SITES"]
    if sites is not None:
        load_sites = sites if callable(sites) else functools.partial(load_instance, sites)
        return _flask(Instance(load_sites, poll_seconds, settle_seconds, wrap=Headers))
    if config is None:
        load = load_config
    elif isinstance(config, Config):
        load = lambda: config  # noqa: E731 - settings given once are kept
    else:
        load = config
    return _flask(OneSite(LiveSite(load, poll_seconds, settle_seconds, wrap=Headers)))


class OneSite:
    """The server of one site: every path is the site's."""

    def __init__(self, live: LiveSite) -> None:
        self.live = live

    def answer(self, environ: dict, render: bool = True) -> Reply | None:
        return respond(self.live.current(), environ, render)

    def health(self, environ: dict) -> Reply:
        return site_health(self.live, self.live.current())


def _flask(front: "OneSite | Instance") -> Flask:
    """The Flask app in front of one site or of an instance of several:
    `front` answers every path (`answer`) and /healthz (`health`)."""
    app = Flask(__name__)
    app.config.update(PROPAGATE_EXCEPTIONS=False, TRAP_HTTP_EXCEPTIONS=False, DEBUG=False)
    app.debug = False
    app.extensions["feedsvc"] = front.live if isinstance(front, OneSite) else front
    # Every path is looked up in the site, so routing needs no slash fixes.
    app.url_map.strict_slashes = False
    app.url_map.merge_slashes = False

    def document(path: str = "") -> Response:
        return _response(front.answer(request.environ))

    methods = ["GET", "HEAD", "OPTIONS"]
    app.add_url_rule("/", "index", document, methods=methods, provide_automatic_options=False)
    app.add_url_rule("/<path:path>", "document", document, methods=methods, provide_automatic_options=False)

    def healthz() -> Response:
        if request.method == "OPTIONS":
            return _response(front.answer(request.environ))
        return _response(front.health(request.environ))

    app.add_url_rule("/healthz", "healthz", healthz, methods=methods, provide_automatic_options=False)

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException) -> Response:
        """Errors raised by routing (405 and the like): short, plain, no HTML."""
        headers = [(name, value) for name, value in error.get_headers() if name.lower() == "allow"]
        code = error.code or 400
        return _response(plain(code, f"{code} {error.name}.\n".encode(), "no-store", headers))

    @app.errorhandler(Exception)
    def unexpected(error: Exception) -> Response:
        # Flask has logged the traceback; the client gets no detail.
        return _response(plain(500, b"Internal error.\n", "no-store"))

    app.wsgi_app = _PreparedFirst(app.wsgi_app, front)
    return app


class _PreparedFirst:
    """Answers a GET or HEAD of a document already prepared in memory (the
    feeds every reader polls) before Flask routes the request, through the
    same `respond` as the Flask view but without the framework's
    per-request work. Everything else goes to Flask."""

    def __init__(self, flask_app: Callable, front: "OneSite | Instance") -> None:
        self.flask_app = flask_app
        self.front = front

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        if environ["REQUEST_METHOD"] in ("GET", "HEAD"):
            reply = self.front.answer(environ, render=False)
            if reply is not None:
                status, headers, body = reply
                start_response(_status_line(status), headers.to_wsgi_list())
                return [] if body is None else [body]
        return self.flask_app(environ, start_response)


@functools.cache
def _status_line(status: int) -> str:
    """The status line Flask's responses carry, so both paths send the same bytes."""
    return PreparedResponse(None, status, Headers()).status


def _response(reply: Reply) -> PreparedResponse:
    status, headers, body = reply
    return PreparedResponse(body, status, headers)
