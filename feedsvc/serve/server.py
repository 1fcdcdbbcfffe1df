"""Run the app under gunicorn, as `feedsvc serve` does.

The defaults are the settings docs/serving.md recommends, for a server
that faces the internet with no proxy in front: gevent workers, which keep
every connection (idle keep-alive ones, and clients that send their
request a byte at a time) in one event loop instead of a thread or a
process each, and drop a connection whose request has not arrived within
the keep-alive time; the site built once before the workers fork; and no
access log (a busy feed server would spend a good share of its time
writing it; put it on the reverse proxy, if there is one).
"""

from __future__ import annotations

import resource

from gunicorn.app.base import BaseApplication

WORKER_CLASS = "gevent"
# Connections one worker holds at once, idle and slow ones included: each
# costs a greenlet and a socket, not a thread.
WORKER_CONNECTIONS = 2000
# A worker whose event loop has not come round for this long is stuck.
# Rebuilds and renders run in native threads (serve/offload.py) and never
# hold the loop; without --preload a worker builds the site before it
# starts serving, which takes a few seconds for a large site.
TIMEOUT = 120
# Also the time a client has to send a whole request line and headers: a
# connection that has not sent them by then is closed without a log line.
KEEPALIVE = 5
# Beyond the connections: the listening socket, log files, the ledger.
SPARE_FILES = 64


def options(host: str, port: int, workers: int, connections: int = WORKER_CONNECTIONS) -> dict[str, object]:
    """gunicorn settings for serving on host:port, each worker holding at
    most `connections` connections."""
    bound = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    return {
        "bind": [bound],
        "workers": workers,
        "worker_class": WORKER_CLASS,
        "worker_connections": connections,
        "timeout": TIMEOUT,
        "graceful_timeout": 10,
        "keepalive": KEEPALIVE,
        "preload_app": True,
        "accesslog": None,
        "errorlog": "-",
        "proc_name": "feedsvc",
    }


class Server(BaseApplication):
    """gunicorn serving one already built WSGI app; the workers fork from it."""

    def __init__(self, app: object, settings: dict[str, object]) -> None:
        self._app = app
        self._settings = settings
        super().__init__()

    def load_config(self) -> None:
        for name, value in self._settings.items():
            self.cfg.set(name, value)
        # gunicorn 25.1+ opens a control socket at one fixed path per user,
        # which a second server on the same machine would take over.
        if "control_socket_disable" in self.cfg.settings:
            self.cfg.set("control_socket_disable", True)

    def load(self) -> object:
        return self._app


def allow_open_files(wanted: int) -> int:
    """Raise this process's limit on open files towards `wanted` (never
    past the hard limit, which only root may raise); the workers inherit
    it. Returns the limit now in force, or `wanted` when it is higher."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY or soft >= wanted:
        return wanted
    soft = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    return soft


def serve(app: object, host: str, port: int, workers: int) -> None:
    """Serve `app` until gunicorn is told to stop (Ctrl-C, SIGTERM)."""
    # Many systems start processes with a soft limit of 1024 open files,
    # fewer than the connections a worker is meant to hold. Where the hard
    # limit is lower still, hold fewer: a full worker stops accepting for a
    # moment, where one out of files would log an error on every accept.
    limit = allow_open_files(WORKER_CONNECTIONS + SPARE_FILES)
    connections = max(1, min(WORKER_CONNECTIONS, limit - SPARE_FILES))
    Server(app, options(host, port, workers, connections)).run()
