"""Phase 3: feedsvc under gunicorn with the recommended settings, beside a
minimal Flask app returning the same bytes, nginx serving the exported file
(the ceiling) and nginx's proxy_cache in front of feedsvc, all measured with
wrk in the same run; a worker's memory after random requests over the whole
site; and how soon a new page shows in every worker's feed."""

from __future__ import annotations

import json
import os
import random
import shutil
import statistics
import subprocess
import time
from pathlib import Path

import corpus
from context import BENCH, REPO, Context, Row, Section
from measure import pss_mb
from servers import HOST, Server, answer, documented_nginx_config, fetch, free_port, gunicorn_command, nginx_config, start, vm_rss_mb, wrk

FEED = "/feeds/all.atom"
# Headers gunicorn writes itself, whatever the app sends.
GUNICORN_HEADERS = {"content-length", "date", "server", "connection", "transfer-encoding", "content-type"}
WRK = {"threads": 2, "connections": 32, "seconds": 5}
RANDOM_REQUESTS = 1000
POLL_SECONDS = 0.02


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

        urls = site_urls(out)
        statuses, answered = random_requests(ctx, feedsvc, urls)
        workers = feedsvc.workers()
        pss = {pid: pss_mb(pid) for pid in workers}
        rss = {pid: vm_rss_mb(pid) for pid in workers}
        master = pss_mb(feedsvc.process.pid), vm_rss_mb(feedsvc.process.pid)
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
        headers_shown = " ".join(f"-H '{h}'" for h in extra)
        section.rows.append(
            Row(
                f"rps {name}",
                f"requests/s: {name}",
                f"{medians[name]:,.0f} req/s (p99 {statistics.median(r.p99_ms for r in results[name]):.1f} ms" + (f"; {bad} bad answers)" if bad else ")"),
                ratio,
                f"{wrk_command} {headers_shown} http://127.0.0.1:<{server.name} port>{FEED}".replace("  ", " "),
            )
        )
    ctx.figures["rps ratio"] = medians["feedsvc, 200 identity"] / flask_rate
    feedsvc_cpu, flask_cpu = cpu["feedsvc, 200 identity"], cpu["minimal Flask, same bytes from memory"]
    headers_cpu = cpu["minimal Flask, same bytes and feedsvc's headers"]
    overhead = feedsvc_cpu / flask_cpu - 1
    own = feedsvc_cpu / headers_cpu - 1
    section.rows.append(
        Row(
            "cpu",
            "CPU per 200 answer beyond the minimal Flask app's (the worker CPU time in /proc/PID/stat over the wrk runs, per request)",
            f"{feedsvc_cpu - flask_cpu:+.0f} us ({overhead:+.1%}); beyond the app sending the same headers {feedsvc_cpu - headers_cpu:+.0f} us ({own:+.1%})",
        )
    )
    worst = max(pss.values())
    ctx.figures["worker pss"] = worst
    # The server is a command too: its whole tree, after the random requests.
    ctx.peaks["serve: master + workers, PSS summed after the random requests"] = master[0] + sum(pss.values())
    kinds = ", ".join(f"{len(found):,} {kind}" for kind, found in urls.items())
    spread = ", ".join(f"{answered.get(pid, 0)}" for pid in workers)
    section.rows.append(
        Row(
            "worker pss",
            f"memory of a worker (PSS) after the wrk runs and {RANDOM_REQUESTS:,} random requests",
            f"{worst:.1f} MB (workers: {', '.join(f'{pss[pid]:.1f}' for pid in workers)} MB PSS, {', '.join(f'{rss[pid]:.1f}' for pid in workers)} MB RSS; "
            f"preloaded master {master[0]:.1f} MB PSS, {master[1]:.1f} MB RSS)",
            f"requests answered per worker: {spread}" + (f"; unidentified {answered[None]}" if None in answered else "")
            + f"; statuses {', '.join(f'{code}: {count}' for code, count in sorted(statuses.items()))}",
            f"Pss of /proc/<worker pid>/smaps_rollup after GETs on new connections, each of a kind drawn at random "
            f"(random.Random({ctx.seed})) among {kinds}, then a URL of that kind",
        )
    )
    firsts, everys = [v[0] for v in visible], [v[1] for v in visible]
    ctx.figures.update({"visible median": statistics.median(everys), "visible worst": max(everys)})
    section.rows.append(
        Row(
            "visible",
            f"a new page of 50 visible in every worker's {FEED}",
            f"median {statistics.median(everys):.2f} s, worst {max(everys):.2f} s over {len(visible)} pages (the first worker: median {statistics.median(firsts):.2f} s)",
            "runs: " + ", ".join(f"{every:.2f}" for every in everys),
            f"a page written beside the seeds folder and renamed into it; then GET {FEED} on a new connection every "
            f"{POLL_SECONDS * 1000:.0f} ms, until every worker has answered with the page's first headline",
        )
    )
    section.notes.append(
        f"gunicorn as docs/serving.md recommends: `{' '.join(command[2:]).replace(str(HOST) + ':' + str(feedsvc_port), '127.0.0.1:PORT')}` "
        f"with FEEDSVC_SEEDS and FEEDSVC_LEDGER set (the minimal Flask app, bench/flask_baseline.py, under the same settings). "
        f"nginx config: the block from docs/serving.md with this run's cache path and ports, plus a static server for the export "
        f"(written to {ctx.shown([str(folder / 'nginx.conf')])}). wrk runs on the same {os.cpu_count()} cores as the servers, so every "
        "figure includes the client's share; the configurations take turns, round after round. A worker is told by its end of the "
        "connection: /proc/net/tcp names the server's socket of the client's port, and the worker holding that socket answered "
        "(a response header naming the worker would be simpler; feedsvc has none)."
    )
    section.notes.append(
        f"Startup with --preload: {startup:.1f} s. /feeds/all.atom is {len(body):,} bytes ({len(gzip_body):,} gzipped, "
        f"Content-Encoding {gzip_headers.get('Content-Encoding')}); the served bytes {'equal' if body == exported else 'DIFFER from'} "
        f"the exported file nginx serves; X-Cache-Status of the second request through nginx: {cached_status}."
    )
    return section


def ensure_export(ctx: Context) -> Path:
    """The exported tree nginx serves: the build phase's, or a new build."""
    out = ctx.work / "out"
    if not (out / "index.html").exists():
        if ctx.warm_ledger.exists():
            ctx.restore_warm_ledger()
        subprocess.run(ctx.feedsvc("build", *ctx.seeds_args(), "--out", str(out)), env=ctx.env, check=True)
        if not ctx.warm_ledger.exists():
            ctx.keep_warm()
    return out


def site_urls(out: Path) -> dict[str, list[str]]:
    """The site's URLs by kind, from the exported tree."""
    urls: dict[str, list[str]] = {"feeds": [], "archives": [], "article pages": [], "category pages": []}
    for folder, _, names in os.walk(out / "feeds"):
        for name in names:
            path = "/" + str((Path(folder) / name).relative_to(out))
            urls["archives" if "/archive/" in path else "feeds"].append(path)
    urls["article pages"] = [f"/articles/{name}/" for name in os.listdir(out / "articles")]
    urls["category pages"] = [f"/categories/{name}/" for name in os.listdir(out / "categories")]
    return {kind: sorted(found) for kind, found in urls.items() if found}


def random_requests(ctx: Context, server: Server, urls: dict[str, list[str]]) -> tuple[dict[int, int], dict[int | None, int]]:
    """RANDOM_REQUESTS GETs over the whole site: how many of each status,
    and how many each worker answered."""
    chooser = random.Random(ctx.seed)
    kinds = sorted(urls)
    workers = server.workers()
    statuses: dict[int, int] = {}
    answered: dict[int | None, int] = {}
    for _ in range(RANDOM_REQUESTS):
        path = chooser.choice(urls[chooser.choice(kinds)])
        status, _, worker = answer(server, path, workers)
        statuses[status] = statuses.get(status, 0) + 1
        answered[worker] = answered.get(worker, 0) + 1
    print(f"  {RANDOM_REQUESTS} random requests (seed {ctx.seed}): statuses {statuses}, per worker {answered}", flush=True)
    return statuses, answered


def visibility(ctx: Context, server: Server) -> list[tuple[float, float]]:
    """For each new page: seconds from its rename into the seeds folder
    until the first worker, and until every worker, answered the feed with
    it. A worker is told by its end of the connection (servers.answer)."""
    seen = []
    source = corpus.Corpus(ctx.seed, ctx.articles)
    workers = server.workers()
    for index in range(max(ctx.runs, 5)):
        headline = source.card(ctx.articles + index * corpus.CARDS_PER_PAGE).title.encode("utf-8")
        written = ctx.stage_page(index)
        renamed = time.monotonic()
        written.rename(ctx.seeds / written.name)
        first: dict[int, float] = {}
        while len(first) < len(workers) and time.monotonic() - renamed < 60:
            _, body, worker = answer(server, FEED, workers)
            if worker is not None and worker not in first and headline in body:
                first[worker] = time.monotonic() - renamed
            time.sleep(POLL_SECONDS)
        if len(first) < len(workers):
            raise RuntimeError(f"a new page did not reach every worker's feed within 60 s (seen by {sorted(first)} of {workers})")
        seen.append((min(first.values()), max(first.values())))
        print(f"  new page visible after {seen[-1][0]:.2f} s (every worker: {seen[-1][1]:.2f} s)", flush=True)
    return seen
