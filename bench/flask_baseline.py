"""The minimal Flask app the serving benchmark compares feedsvc with: it
answers one URL with bytes held in memory and nothing else.

    BENCH_BODY=all.atom gunicorn ... 'flask_baseline:create_app()'

With BENCH_HEADERS (a JSON list of [name, value] pairs) it also sends those
headers, so that the cost of emitting feedsvc's caching and security
headers can be told apart from the work feedsvc does to choose them.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from flask import Flask, Response


def create_app() -> Flask:
    body = Path(os.environ["BENCH_BODY"]).read_bytes()
    content_type = os.environ.get("BENCH_CONTENT_TYPE", "application/atom+xml; charset=utf-8")
    extra = [tuple(pair) for pair in json.loads(os.environ.get("BENCH_HEADERS", "[]"))]
    app = Flask(__name__)

    @app.get("/feeds/all.atom")
    def feed() -> Response:
        return Response(body, content_type=content_type, headers=extra)

    return app
