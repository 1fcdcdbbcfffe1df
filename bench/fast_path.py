"""Does answering prepared documents before Flask routes the request pay?

Serves the bundled sample pages under gunicorn (the settings of `feedsvc serve`)
three ways, side by side in the same run: feedsvc as shipped, feedsvc with
every request going through Flask's routing, and a minimal Flask app that
returns the same bytes. wrk loads /feeds/all.atom on each in turn, three
rounds interleaved; prints the median requests/s and the ratios.

    python bench/fast_path.py [--rounds 3] [--seconds 5]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from servers import fetch, free_port, gunicorn_command, start, wrk  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
FEED = "/feeds/all.atom"


def without_fast_path():
    """The app with the layer that answers before routing taken off."""
    from feedsvc.serve.app import create_app

    app = create_app()
    app.wsgi_app = app.wsgi_app.flask_app
    return app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=int, default=5)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="feedsvc-fast-path-"))
    seeds = work / "seeds"
    shutil.copytree(REPO / "seeds", seeds, ignore=shutil.ignore_patterns("ledger*", "*.lock", ".feedsvc-*"))
    env = dict(os.environ, FEEDSVC_SEEDS=str(seeds), PYTHONPATH=f"{REPO / 'bench'}{os.pathsep}{REPO}")
    env.pop("SOURCE_DATE_EPOCH", None)
    workers = os.cpu_count() or 2
    servers = {}
    try:
        for name, app in (("feedsvc", "feedsvc.serve.app:create_app()"), ("feedsvc, no fast path", "fast_path:without_fast_path()")):
            port = free_port()
            servers[name] = start(name, gunicorn_command(app, port, workers), port, env, work, "/healthz")
        _, headers, body = fetch(servers["feedsvc"].url(FEED))
        (work / "all.atom").write_bytes(body)
        port = free_port()
        flask_env = dict(env, BENCH_BODY=str(work / "all.atom"), BENCH_CONTENT_TYPE=headers["Content-Type"])
        servers["minimal Flask app"] = start("flask", gunicorn_command("flask_baseline:create_app()", port, workers), port, flask_env, work, FEED)
        rates: dict[str, list[float]] = {name: [] for name in servers}
        for _ in range(args.rounds):
            for name, server in servers.items():
                fetch(server.url(FEED))  # prepared before the load starts
                rates[name].append(wrk(server.url(FEED), [], 2, 32, args.seconds).requests_per_second)
    finally:
        for server in servers.values():
            server.stop()
        shutil.rmtree(work, ignore_errors=True)
    baseline = statistics.median(rates["minimal Flask app"])
    print(f"GET {FEED}, {len(body)} bytes, gunicorn gevent, {workers} workers, wrk -t2 -c32 -d{args.seconds}s, {args.rounds} rounds")
    for name, values in rates.items():
        median = statistics.median(values)
        print(f"{name:24} {median:8.0f} req/s (median of {', '.join(f'{v:.0f}' for v in values)})  {median / baseline:.2f}x the minimal Flask app")


if __name__ == "__main__":
    main()
