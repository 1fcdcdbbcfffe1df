"""Serving with no proxy in front, while clients misbehave.

Generates a corpus (bench/corpus.py) and serves it with the gunicorn
settings of `feedsvc serve` (gevent workers), beside the minimal Flask app
(bench/flask_baseline.py) under the same settings returning the same bytes.
Each server is measured twice per round, rounds interleaved: alone, and
while 200 connections send a request's headers one byte every two seconds
and 200 open and never send (each opened again as soon as the server drops
it). Each measurement is a wrk run on /feeds/all.atom (requests/s, p50,
p99), then a probe that opens a new connection for every request, as a
reader arriving would, and times the answers.

    python bench/slow_clients.py [--articles 10000] [--rounds 3] [--seconds 10]
"""

from __future__ import annotations

import argparse
import http.client
import os
import shutil
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))  # the misbehaving clients

import corpus  # noqa: E402
from context import BENCH, EPOCH  # noqa: E402
from measure import load_average  # noqa: E402
from servers import HOST, fetch, free_port, gunicorn_command, start, wrk  # noqa: E402
from slow_sockets import SlowClients  # noqa: E402

FEED = "/feeds/all.atom"
TRICKLING = 200
SILENT = 200
BYTE_EVERY = 2.0
PROBES = 300
PROBE_TIMEOUT = 5.0
PROBE_SECONDS = 60.0


def probe(port: int, count: int) -> tuple[list[float], int]:
    """`count` GETs of FEED, each on a new connection, for PROBE_SECONDS at
    most: seconds each took, and how many failed (not a 200, or no answer
    within PROBE_TIMEOUT)."""
    took, failed = [], 0
    stop = time.monotonic() + PROBE_SECONDS
    while len(took) < count and time.monotonic() < stop:
        started = time.perf_counter()
        connection = http.client.HTTPConnection(HOST, port, timeout=PROBE_TIMEOUT)
        try:
            connection.request("GET", FEED)
            response = connection.getresponse()
            response.read()
            failed += response.status != 200
        except OSError:
            failed += 1
        finally:
            connection.close()
        took.append(time.perf_counter() - started)
    return took, failed


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def measure(port: int, seconds: int) -> dict[str, float]:
    result = wrk(f"http://{HOST}:{port}{FEED}", [], 2, 32, seconds)
    took, failed = probe(port, PROBES)
    return {
        "probes": len(took),
        "rps": result.requests_per_second,
        "p50": result.p50_ms,
        "p99": result.p99_ms,
        "bad": result.bad + failed,
        "probe p50": percentile(took, 0.5) * 1000,
        "probe p99": percentile(took, 0.99) * 1000,
        "probe max": max(took) * 1000,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--articles", type=int, default=10_000, help="corpus size, a multiple of 50 (default 10000)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=int, default=10, help="length of each wrk run (default 10)")
    parser.add_argument("--work", type=Path, default=BENCH / "work" / "slow-clients")
    parser.add_argument("--worker-class", choices=("gevent", "gthread"), default="gevent", help="gthread: the workers used before, for comparison")
    args = parser.parse_args()
    shutil.rmtree(args.work, ignore_errors=True)
    seeds = args.work / "seeds"
    corpus.write(seeds, 1, args.articles)
    env = {k: v for k, v in os.environ.items() if not k.startswith("FEEDSVC_")}
    env.update(FEEDSVC_SEEDS=str(seeds), SOURCE_DATE_EPOCH=str(EPOCH), PYTHONPATH=str(BENCH))
    workers = os.cpu_count() or 2
    load_before = load_average()
    servers = {}
    try:
        port = free_port()
        servers["feedsvc"] = start("feedsvc", gunicorn_command("feedsvc.serve.app:create_app()", port, workers, args.worker_class), port, env, args.work, "/healthz")
        _, headers, body = fetch(servers["feedsvc"].url(FEED))
        (args.work / "all.atom").write_bytes(body)
        port = free_port()
        flask_env = dict(env, BENCH_BODY=str(args.work / "all.atom"), BENCH_CONTENT_TYPE=headers["Content-Type"])
        servers["minimal Flask app"] = start("flask", gunicorn_command("flask_baseline:create_app()", port, workers, args.worker_class), port, flask_env, args.work, FEED)
        figures: dict[tuple[str, str], list[dict[str, float]]] = {}
        dropped = 0
        for round_number in range(args.rounds):
            for name, server in servers.items():
                figures.setdefault((name, "alone"), []).append(measure(server.port, args.seconds))
                with SlowClients(server.port, TRICKLING, SILENT, BYTE_EVERY) as clients:
                    figures.setdefault((name, "slow clients held"), []).append(measure(server.port, args.seconds))
                dropped += clients.dropped
                print(f"round {round_number + 1}: {name} done", file=sys.stderr, flush=True)
    finally:
        for server in servers.values():
            server.stop()
    command = gunicorn_command("APP", 0, workers, args.worker_class)
    flags = command[3 : command.index("--bind")]
    flask_rps = {case: statistics.median(f["rps"] for f in figures[("minimal Flask app", case)]) for case in ("alone", "slow clients held")}
    print(
        f"GET {FEED} ({len(body):,} bytes), {args.articles:,} articles, gunicorn {' '.join(flags)}; "
        f"wrk -t2 -c32 -d{args.seconds}s --latency, then {PROBES} GETs on new connections ({PROBE_SECONDS:.0f} s at most, {PROBE_TIMEOUT:.0f} s timeout); "
        f"medians of {args.rounds} rounds. "
        f"Slow clients: {TRICKLING} sending headers a byte every {BYTE_EVERY:.0f} s, {SILENT} silent; the servers dropped {dropped:,} of them "
        f"(each opened again at once). Load average before: {load_before}; after: {load_average()}."
    )
    print()
    print("| server | clients | req/s | vs Flask | wrk p50 | wrk p99 | new connections | p50 | p99 | max | failed |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for (name, case), runs in figures.items():
        median = {key: statistics.median(run[key] for run in runs) for key in runs[0]}
        bad = sum(run["bad"] for run in runs)
        ratio = f"{median['rps'] / flask_rps[case]:.2f}x" if flask_rps[case] else "-"
        latency = f"{median['p50']:.1f} ms | {median['p99']:.1f} ms" if median["rps"] else "- | -"
        print(
            f"| {name} | {case} | {median['rps']:,.0f} | {ratio} | {latency} "
            f"| {median['probes']:.0f} | {median['probe p50']:.1f} ms | {median['probe p99']:.1f} ms | {median['probe max']:.1f} ms | {bad} |"
        )


if __name__ == "__main__":
    main()
