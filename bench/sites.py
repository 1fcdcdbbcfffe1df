"""Several sites in one server: memory and /feeds/all.atom requests per
second with 10 sites of 10,000 articles each, beside one site alone.

    python bench/sites.py                          # 10 sites of 10,000 articles, 3 runs
    python bench/sites.py --sites 4 --articles 2000 --runs 1   # a quick run

It generates the sites under bench/work/sites/ (git-ignored; each its own
corpus seed and site_key), records each once, then serves, in turn and
with the same gunicorn settings (`--preload`, gevent, one worker per
cpu):

- one site alone (`FEEDSVC_SEEDS`), the first of the folder;
- the whole folder (`FEEDSVC_SITES`).

For each server it reports the time to answer /healthz after the start,
the workers' and the preloaded master's resident memory (VmRSS) after the
start and again after every subscription feed of every site was asked for
(each worker keeps its own copy of what it serves), and wrk's requests per
second on one site's /feeds/all.atom (200, identity). The runs of the two
servers are interleaved, so a change in the machine's load hits both
alike. The figures go to bench/RESULTS.md, section "Sites".
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import re
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import corpus  # noqa: E402
from context import BENCH, EPOCH, write_section  # noqa: E402
from measure import PYTHON, load_average, machine  # noqa: E402
from servers import Server, fetch, free_port, gunicorn_command, start, vm_rss_mb, wrk  # noqa: E402

FEED = "/feeds/all.atom"
WRK = {"threads": 2, "connections": 32, "seconds": 5}


def options(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sites", type=int, default=10, help="how many sites (default 10)")
    parser.add_argument("--articles", type=int, default=10_000, help="articles per site, a multiple of 50 (default 10000)")
    parser.add_argument("--runs", type=int, default=3, help="wrk runs per server; medians are reported (default 3)")
    parser.add_argument("--work", type=Path, default=BENCH / "work" / "sites")
    parser.add_argument("--results", type=Path, default=BENCH / "RESULTS.md")
    return parser.parse_args(argv)


def env() -> dict[str, str]:
    values = {k: v for k, v in os.environ.items() if not k.startswith("FEEDSVC_")}
    values["SOURCE_DATE_EPOCH"] = str(EPOCH)
    return values


def prepare(work: Path, sites: int, articles: int) -> Path:
    """The folder of sites, generated and recorded once per size."""
    folder = work / f"sites-{sites}x{articles}"
    marker = folder / ".recorded"
    if marker.exists():
        return folder
    shutil.rmtree(folder, ignore_errors=True)
    for number in range(sites):
        seeds = folder / f"site{number:02d}"
        print(f"generating {seeds.name}: {articles:,} articles", flush=True)
        corpus.write(seeds, 1 + number, articles)
        settings = seeds / "feedsvc.toml"
        text = settings.read_text(encoding="utf-8").replace('base_url = "http://127.0.0.1:8000/"\n', "")
        text = text.replace('"feedsvc-bench-corpus"', f'"feedsvc-bench-site{number:02d}"')
        settings.write_text(text.replace("Bench Logistics Wire", f"Bench Wire {number:02d}"), encoding="utf-8")
    print("recording every site", flush=True)
    started = time.perf_counter()
    subprocess.run([PYTHON, "-m", "feedsvc.cli", "articles", "--sites", str(folder)], env=env(), stdout=subprocess.DEVNULL, check=True, cwd="/")
    print(f"  recorded in {time.perf_counter() - started:.1f} s", flush=True)
    marker.write_text("ok\n")
    return folder


def serve(name: str, folder: Path, variable: str, logs: Path) -> tuple[Server, float]:
    workers = os.cpu_count() or 2
    port = free_port()
    values = dict(env(), **{variable: str(folder), "FEEDSVC_READ_ONLY": "1"})
    values.pop("SOURCE_DATE_EPOCH")
    started = time.perf_counter()
    server = start(name, gunicorn_command("feedsvc.serve.app:create_app()", port, workers), port, values, logs, "/healthz")
    return server, time.perf_counter() - started


def memory(server: Server) -> tuple[float, float]:
    """The workers' total VmRSS and the master's, in MB."""
    return sum(vm_rss_mb(pid) for pid in server.workers()), vm_rss_mb(server.process.pid)


def every_feed(server: Server, prefixes: list[str]) -> int:
    """Ask for every subscription feed the sites list (each a few times, so
    every worker has it); returns how many URLs."""
    urls = []
    for prefix in prefixes:
        opml = fetch(server.url(prefix + "/feeds.opml"))[2].decode()
        for atom in re.findall(r'xmlUrl="http://[^/]+(/[^"]+)\.atom"', opml):
            urls += [atom + ext for ext in (".atom", ".rss", ".json")]
    for _ in range(2 * (os.cpu_count() or 2)):
        for url in urls:
            fetch(server.url(url))
    return len(urls)


def main(argv: list[str]) -> int:
    args = options(argv)
    args.work.mkdir(parents=True, exist_ok=True)
    started, load_before = time.monotonic(), load_average()
    folder = prepare(args.work, args.sites, args.articles)
    names = sorted(path.name for path in folder.iterdir() if path.is_dir() and not path.name.startswith("."))
    logs = args.work / "logs"
    cases = {
        "one site alone": (folder / names[0], "FEEDSVC_SEEDS", [""]),
        f"{len(names)} sites in one server": (folder, "FEEDSVC_SITES", [f"/{name}" for name in names]),
    }
    figures: dict[str, dict[str, object]] = {}
    servers: dict[str, Server] = {}
    try:
        for case, (path, variable, prefixes) in cases.items():
            server, startup = serve(case.split()[0], path, variable, logs)
            servers[case] = server
            workers, master = memory(server)
            figures[case] = {"startup": startup, "start": (workers, master), "rates": [], "p99": []}
            print(f"{case}: up in {startup:.1f} s; workers {workers:.0f} MB, master {master:.0f} MB", flush=True)
        for _ in range(args.runs):
            for case, (_, _, prefixes) in cases.items():
                result = wrk(servers[case].url(prefixes[0] + FEED), [], WRK["threads"], WRK["connections"], WRK["seconds"], servers[case])
                if result.bad:
                    raise RuntimeError(f"{case}: {result.bad} bad answers")
                figures[case]["rates"].append(result.requests_per_second)  # type: ignore[union-attr]
                figures[case]["p99"].append(result.p99_ms)  # type: ignore[union-attr]
                print(f"  {case}: {result.requests_per_second:,.0f} req/s, p99 {result.p99_ms:.1f} ms", flush=True)
        for case, (_, _, prefixes) in cases.items():
            count = every_feed(servers[case], prefixes)
            figures[case]["feeds"] = count
            figures[case]["served"] = memory(servers[case])
            print(f"  {case}: after {count} feeds, workers {figures[case]['served'][0]:.0f} MB", flush=True)  # type: ignore[index]
    finally:
        for server in servers.values():
            server.stop()
    write_results(args, argv, figures, time.monotonic() - started, load_before)
    return 0


def write_results(args: argparse.Namespace, argv: list[str], figures: dict, seconds: float, load_before: str) -> None:
    command = " ".join(["python bench/sites.py", *argv]).strip()
    lines = [
        "## Sites",
        "",
        f"Produced by `{command}` on {dt.datetime.now(dt.timezone.utc):%Y-%m-%d %H:%M} UTC in {seconds:.0f} s "
        f"({machine()['cpus']} cpus; load average before: {load_before}, after: {load_average()}). "
        f"Each site: {args.articles:,} articles (bench/corpus.py, its own seed and site_key). gunicorn as `feedsvc serve` runs it "
        f"(--preload, gevent, {os.cpu_count() or 2} workers), FEEDSVC_READ_ONLY=1. "
        f"Requests/s: the median of {args.runs} interleaved wrk runs (-t{WRK['threads']} -c{WRK['connections']} -d{WRK['seconds']}s) "
        f"on one site's {FEED}; memory: VmRSS summed over the workers, and the preloaded master's.",
        "",
        "| server | up after | memory after the start | memory after every feed of every site | requests/s on /feeds/all.atom |",
        "|---|---|---|---|---|",
    ]
    for case, found in figures.items():
        start_workers, start_master = found["start"]
        served_workers, _ = found["served"]
        rate = statistics.median(found["rates"])
        lines.append(
            f"| {case} | {found['startup']:.1f} s | workers {start_workers:,.0f} MB, master {start_master:,.0f} MB "
            f"| workers {served_workers:,.0f} MB ({found['feeds']} feeds) "
            f"| {rate:,.0f} (p99 {statistics.median(found['p99']):.1f} ms; runs {', '.join(f'{r:,.0f}' for r in found['rates'])}) |"
        )
    (_, one), (together, many) = figures.items()
    lines += [
        "",
        f"{together}: {statistics.median(many['rates']) / statistics.median(one['rates']):.2f}x the requests/s of one site alone; "
        f"{many['served'][0] / one['served'][0]:.1f}x its workers' memory for {args.sites}x the articles.",
        "",
    ]
    write_section(args.results, "Sites", lines)


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
