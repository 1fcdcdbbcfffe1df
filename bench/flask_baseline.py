"""The minimal Flask app the serving benchmark compares feedsvc with: it
answers one URL with bytes held in memory and nothing else.

    BENCH_BODY=all.atom gunicorn ... 'flask_baseline:create_app()'
"""

from __future__ import annotations

import os
from pathlib import Path

from flask import Flask, Response


def create_app() -> Flask:
    body = Path(os.environ["BENCH_BODY"]).read_bytes()
    content_type = os.environ.get("BENCH_CONTENT_TYPE", "application/atom+xml; charset=utf-8")
    app = Flask(__name__)

    @app.get("/feeds/all.atom")
    def feed() -> Response:
        return Response(body, content_type=content_type)

    return app
