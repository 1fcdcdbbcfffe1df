"""Run the app under gunicorn, as `feedsvc serve` does.

The defaults are the settings docs/serving.md recommends: gthread workers
(keep-alive connections, and a slow client holds one thread rather than a
whole process), the site built once before the workers fork, and no
access log (a busy feed server would spend a good share of its time
writing it; put it on the reverse proxy instead).
"""

from __future__ import annotations

from gunicorn.app.base import BaseApplication

WORKER_CLASS = "gthread"
THREADS = 4
# A poll takes milliseconds; a worker silent this long is stuck. Generous,
# because a rebuild of a large site runs inside a request.
TIMEOUT = 120
KEEPALIVE = 5


def options(host: str, port: int, workers: int, threads: int = THREADS) -> dict[str, object]:
    """gunicorn settings for serving on host:port."""
    bound = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    return {
        "bind": [bound],
        "workers": workers,
        "worker_class": WORKER_CLASS,
        "threads": threads,
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


def serve(app: object, host: str, port: int, workers: int, threads: int = THREADS) -> None:
    """Serve `app` until gunicorn is told to stop (Ctrl-C, SIGTERM)."""
    Server(app, options(host, port, workers, threads)).run()
