"""Phase 3: feedsvc under gunicorn with the recommended settings, beside a
minimal Flask app returning the same bytes, nginx serving the exported file
(the ceiling) and nginx's proxy_cache in front of feedsvc, all measured with
wrk in the same run; a worker's memory; and how soon a new page shows."""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import time
from pathlib import Path

import corpus
from context import BENCH, REPO, Context, Row, Section
from servers import HOST, Server, documented_nginx_config, fetch, free_port, gunicorn_command, nginx_config, start, vm_rss_mb, wrk

FEED = "/feeds/all.atom"
# Headers gunicorn writes itself, whatever the app sends.
GUNICORN_HEADERS = {"content-length", "date", "server", "connection", "transfer-encoding", "content-type"}
WRK = {"threads": 2, "connections": 32, "seconds": 5}


def run(ctx: Context) -> Section:
    section = Section("Serve")
    folder = ctx.work / "serve"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    out = ensure_export(ctx)
    ledger = folder / "ledger.jsonl"
    ctx.restore_warm_ledger(ledger)
    workers = os.cpu_count() or 2
    env = {k: v for k, v in ctx.env.items() if k != "SOURCE_DATE_EPOCH"}
    env.update(FEEDSVC_SEEDS=str(ctx.seeds), FEEDSVC_LEDGER=str(ledger))
    servers: list[Server] = []
    try:
        feedsvc_port = free_port()
        command = gunicorn_command("feedsvc.serve.app:create_app()", feedsvc_port, workers)
        started = time.perf_counter()
        feedsvc = start("feedsvc", command, feedsvc_port, env, folder, "/healthz")
        servers.append(feedsvc)
        startup = time.perf_counter() - started
        status, headers, body = fetch(feedsvc.url(FEED))
        _, gzip_headers, gzip_body = fetch(feedsvc.url(FEED), {"Accept-Encoding": "gzip"})
        etag = headers["ETag"]
        exported = (out / FEED.lstrip("/")).read_bytes()
        (folder / "all.atom").write_bytes(body)

        flask_port = free_port()
        flask_env = dict(env, BENCH_BODY=str(folder / "all.atom"), BENCH_CONTENT_TYPE=headers["Content-Type"], PYTHONPATH=str(BENCH))
        flask = start("flask", gunicorn_command("flask_baseline:create_app()", flask_port, workers), flask_port, flask_env, folder, FEED)
        servers.append(flask)
        # The same app sending feedsvc's headers as well: what is left beyond
        # it is feedsvc's own work (conditional GET, reload checks).
        same_headers = [[name, value] for name, value in headers.items() if name.lower() not in GUNICORN_HEADERS]
        flask_headers_port = free_port()
        flask_headers_env = dict(flask_env, BENCH_HEADERS=json.dumps(same_headers))
        flask_headers = start(
            "flask-headers", gunicorn_command("flask_baseline:create_app()", flask_headers_port, workers), flask_headers_port, flask_headers_env, folder, FEED
        )
        servers.append(flask_headers)

        static_port, cache_port = free_port(), free_port()
        config = nginx_config(documented_nginx_config(REPO / "docs" / "serving.md"), folder, out, static_port, cache_port, feedsvc_port)
        (folder / "nginx.conf").write_text(config)
        nginx = start("nginx", ["nginx", "-p", str(folder), "-c", str(folder / "nginx.conf")], static_port, env, folder, FEED)
        servers.append(nginx)
        cache_server = Server("nginx-cache", nginx.process, cache_port, nginx.log)
        fetch(cache_server.url(FEED))
        cached_status = fetch(cache_server.url(FEED))[1].get("X-Cache-Status")

        cases = [
            ("feedsvc, 200 identity", feedsvc, [], feedsvc),
            ("minimal Flask, same bytes from memory", flask, [], flask),
            ("minimal Flask, same bytes and feedsvc's headers", flask_headers, [], flask_headers),
            ("feedsvc, 304 (If-None-Match)", feedsvc, [f"If-None-Match: {etag}"], feedsvc),
            ("feedsvc, 200 gzip", feedsvc, ["Accept-Encoding: gzip"], feedsvc),
            ("nginx, the exported file (ceiling)", nginx, [], None),
            ("nginx proxy_cache in front of feedsvc", cache_server, [], None),
        ]
        results: dict[str, list] = {name: [] for name, *_ in cases}
        for round_number in range(ctx.runs):
            # Interleaved, so a change in the machine's load hits every case alike.
            for name, server, extra, measured in cases:
                result = wrk(server.url(FEED), extra, WRK["threads"], WRK["connections"], WRK["seconds"], measured)
                results[name].append(result)
                cpu = f", {result.cpu_per_request_us:.0f} us cpu/request" if result.cpu_per_request_us else ""
                print(f"  {name}: {result.requests_per_second:.0f} req/s, p99 {result.p99_ms:.1f} ms, {result.bad} bad{cpu}", flush=True)

        rss = [vm_rss_mb(pid) for pid in feedsvc.workers()]
        master_rss = vm_rss_mb(feedsvc.process.pid)
        visible = visibility(ctx, feedsvc)
    finally:
        for server in reversed(servers):
            server.stop()
        ctx.drop_extra_pages()

    wrk_command = f"wrk -t{WRK['threads']} -c{WRK['connections']} -d{WRK['seconds']}s --latency"
    medians = {name: statistics.median(r.requests_per_second for r in runs) for name, runs in results.items()}
    cpu = {name: statistics.median(r.cpu_per_request_us for r in runs) for name, runs in results.items() if runs[0].cpu_per_request_us}
    flask_rate = medians["minimal Flask, same bytes from memory"]
    ceiling = medians["nginx, the exported file (ceiling)"]
    for name, server, extra, measured in cases:
        ratio = f"{medians[name] / flask_rate:.2f}x Flask" if measured is not None else f"{medians[name] / ceiling:.2f}x nginx static"
        if name in cpu:
            ratio += f"; {cpu[name]:.0f} us CPU/request"
        bad = sum(r.bad for r in results[name])
        target, verdict = "report", ""
        if name == "feedsvc, 200 identity":
            share = medians[name] / flask_rate
            target, verdict = ">= 0.9x Flask", ("met" if share >= 0.9 else "NOT met") + f" ({share:.2f}x)"
        headers_shown = " ".join(f"-H '{h}'" for h in extra)
        section.rows.append(
            Row(
                f"requests/s: {name}" + (f" ({bad} bad answers)" if bad else ""),
                f"{medians[name]:,.0f} req/s (p99 {statistics.median(r.p99_ms for r in results[name]):.1f} ms)",
                ratio,
                target,
                verdict,
                f"{wrk_command} {headers_shown} http://127.0.0.1:<{server.name} port>{FEED}".replace("  ", " "),
            )
        )
    feedsvc_cpu, flask_cpu = cpu["feedsvc, 200 identity"], cpu["minimal Flask, same bytes from memory"]
    headers_cpu = cpu["minimal Flask, same bytes and feedsvc's headers"]
    overhead = feedsvc_cpu / flask_cpu - 1
    own = feedsvc_cpu / headers_cpu - 1
    section.rows.append(
        Row(
            "CPU per 200 answer beyond the minimal Flask app's (feedsvc's work and its extra headers)",
            f"{feedsvc_cpu - flask_cpu:+.0f} us ({overhead:+.1%}); of which sending the headers {headers_cpu - flask_cpu:+.0f} us",
            "",
            "report",
            "",
            "the worker CPU time (/proc/PID/stat) over the wrk runs above, divided by requests",
        )
    )
    section.rows.append(
        Row(
            "feedsvc's own per-request work (CPU per 200 answer beyond the Flask app that sends the same bytes and headers)",
            f"{feedsvc_cpu - headers_cpu:+.0f} us ({own:+.1%})",
            "",
            "< 10%",
            ("met" if own < 0.10 else "NOT met") + f" ({own:+.1%})",
            "the worker CPU time (/proc/PID/stat) over the wrk runs above, divided by requests",
        )
    )
    worst = max(rss)
    section.rows.append(
        Row(
            f"memory of one worker holding {ctx.articles:,} articles (VmRSS, after the runs)",
            f"{worst:.1f} MB (workers: {', '.join(f'{r:.1f}' for r in rss)} MB; preloaded master {master_rss:.1f} MB)",
            "",
            "<= 400 MB",
            ("met" if worst <= 400 else "NOT met") + f" ({worst:.1f} MB)",
            "grep VmRSS /proc/<worker pid>/status",
        )
    )
    first = statistics.median(v[0] for v in visible)
    every = statistics.median(v[1] for v in visible)
    section.rows.append(
        Row(
            "a new page of 50 visible in /feeds/all.atom",
            f"{first:.2f} s (all workers: {every:.2f} s); runs: {', '.join(f'{v[0]:.2f}' for v in visible)}",
            "",
            "<= 2 s",
            ("met" if first <= 2 else "NOT met") + f" ({first:.2f} s)",
            "write a new page into the seeds folder, then GET /feeds/all.atom every 50 ms until it holds the page's first headline",
        )
    )
    section.notes.append(
        f"gunicorn as docs/serving.md recommends: `{' '.join(command[2:]).replace(str(HOST) + ':' + str(feedsvc_port), '127.0.0.1:PORT')}` "
        f"with FEEDSVC_SEEDS and FEEDSVC_LEDGER set (the minimal Flask app, bench/flask_baseline.py, under the same settings). "
        f"Startup with --preload (ingest of the warm ledger and building the site): {startup:.1f} s. "
        f"/feeds/all.atom is {len(body):,} bytes ({len(gzip_body):,} gzipped, Content-Encoding {gzip_headers.get('Content-Encoding')}); "
        f"the served bytes {'equal' if body == exported else 'DIFFER from'} the exported file nginx serves. "
        f"nginx config: the block from docs/serving.md with this run's cache path and ports, plus a static server for the export "
        f"(written to {ctx.shown([str(folder / 'nginx.conf')])}); X-Cache-Status of the second request: {cached_status}. "
        f"wrk runs on the same 2 cores as the servers, so every figure includes the client's share; ratios compare runs interleaved "
        f"in the same run. Each configuration was run {ctx.runs} times."
    )
    return section


def ensure_export(ctx: Context) -> Path:
    """The exported tree nginx serves: the build phase's, or a new build."""
    out = ctx.work / "out"
    if not (out / ".feedsvc-manifest.json").exists():
        if ctx.warm_ledger.exists():
            ctx.restore_warm_ledger()
        subprocess.run(ctx.feedsvc("build", *ctx.seeds_args(), "--out", str(out)), env=ctx.env, check=True)
        if not ctx.warm_ledger.exists():
            ctx.keep_warm()
    return out


def visibility(ctx: Context, server: Server) -> list[tuple[float, float]]:
    """Seconds from writing a new page until the feed shows it (first
    answer, and ten answers in a row, so every worker has it)."""
    seen = []
    source = corpus.Corpus(ctx.seed, ctx.articles)
    for index in range(ctx.runs):
        headline = source.card(ctx.articles + index * corpus.CARDS_PER_PAGE).title.encode("utf-8")
        written = time.monotonic()
        ctx.add_page(index)
        first, streak = None, 0
        while time.monotonic() - written < 120:
            if headline in fetch(server.url(FEED))[2]:
                first = first or time.monotonic() - written
                streak += 1
                if streak == 10:
                    break
            else:
                streak = 0
            time.sleep(0.05)
        if first is None:
            raise RuntimeError("a new page did not reach the feed within 120 s")
        seen.append((first, time.monotonic() - written))
        print(f"  new page visible after {first:.2f} s (ten in a row after {seen[-1][1]:.2f} s)", flush=True)
    return seen
