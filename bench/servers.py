"""Start, measure and stop the servers of the serving benchmark: gunicorn
running feedsvc or the minimal Flask app, and nginx. Everything listens on
127.0.0.1 only, and every process is stopped by its own PID."""

from __future__ import annotations

import http.client
import os
import re
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from measure import PYTHON, children

HOST = "127.0.0.1"
TICKS = os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return probe.getsockname()[1]


def gunicorn_command(app: str, port: int, workers: int, worker_class: str = "gevent") -> list[str]:
    """gunicorn with the settings `feedsvc serve` uses and docs/serving.md
    recommends (gevent workers, no access log); with `worker_class`
    "gthread", the threaded workers of four threads used before."""
    from gunicorn.config import Config

    from feedsvc.serve import server

    # gunicorn 25.1+ opens a control socket at one path per user, which
    # servers running side by side would fight over.
    quiet = ["--no-control-socket"] if "control_socket_disable" in Config().settings else []
    if worker_class == "gthread":
        pool = ["--worker-class", "gthread", "--threads", "4"]
    else:
        pool = ["--worker-class", server.WORKER_CLASS, "--worker-connections", str(server.WORKER_CONNECTIONS)]
    return [
        PYTHON, "-m", "gunicorn", "--preload", *quiet, "--workers", str(workers), *pool,
        "--keep-alive", str(server.KEEPALIVE), "--timeout", str(server.TIMEOUT),
        "--bind", f"{HOST}:{port}", app,
    ]  # fmt: skip


@dataclass
class Server:
    name: str
    process: subprocess.Popen
    port: int
    log: Path

    def url(self, path: str) -> str:
        return f"http://{HOST}:{self.port}{path}"

    def workers(self) -> list[int]:
        """The PIDs of the master's children (gunicorn or nginx workers)."""
        return children(self.process.pid)

    def cpu_seconds(self) -> float:
        """CPU time used so far by the master and its workers."""
        total = 0
        for pid in [self.process.pid, *self.workers()]:
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
            except OSError:
                continue
            total += int(fields[11]) + int(fields[12])  # utime, stime
        return total / TICKS

    def stop(self) -> None:
        if self.process.poll() is None:
            # gunicorn and nginx both stop their workers on SIGTERM / SIGQUIT.
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=30)


def start(name: str, argv: list[str], port: int, env: dict[str, str], logs: Path, ready_path: str, timeout: float = 600) -> Server:
    logs.mkdir(parents=True, exist_ok=True)
    log = logs / f"{name}.log"
    with log.open("wb") as out:
        process = subprocess.Popen(argv, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    server = Server(name, process, port, log)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{name} exited with {process.returncode}; see {log}")
        try:
            with urllib.request.urlopen(server.url(ready_path), timeout=5) as reply:
                if reply.status == 200:
                    return server
        except (urllib.error.URLError, ConnectionError, socket.timeout):
            pass
        time.sleep(0.2)
    server.stop()
    raise RuntimeError(f"{name} did not answer {ready_path} within {timeout} s; see {log}")


def fetch(url: str, headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=30) as reply:
            return reply.status, dict(reply.headers.items()), reply.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers.items()), error.read()


def answer(server: Server, path: str, workers: list[int]) -> tuple[int, bytes, int | None]:
    """GET `path` on a new connection: the status, the body, and which of
    `workers` answered (None if that could not be told).

    The worker is found by its end of the connection: while the connection
    is still open (HTTP/1.1 keeps it), the kernel's table of TCP sockets
    names the socket whose remote port is this client's, and the worker
    holding that socket among its open files answered."""
    connection = http.client.HTTPConnection(HOST, server.port, timeout=30)
    try:
        connection.request("GET", path)
        reply = connection.getresponse()
        body = reply.read()
        client_port = connection.sock.getsockname()[1]
        return reply.status, body, socket_owner(server.port, client_port, workers)
    finally:
        connection.close()


def socket_owner(server_port: int, client_port: int, pids: list[int]) -> int | None:
    wanted = f":{server_port:04X}", f":{client_port:04X}"
    inode = None
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        if fields[1].endswith(wanted[0]) and fields[2].endswith(wanted[1]):
            inode = fields[9]
            break
    if inode is None:
        return None
    link = f"socket:[{inode}]"
    for pid in pids:
        try:
            for fd in os.listdir(f"/proc/{pid}/fd"):
                try:
                    if os.readlink(f"/proc/{pid}/fd/{fd}") == link:
                        return pid
                except OSError:
                    continue
        except OSError:
            continue
    return None


@dataclass
class WrkResult:
    requests_per_second: float
    requests: int
    bad: int  # non-2xx/3xx answers and socket errors
    p50_ms: float
    p99_ms: float
    cpu_per_request_us: float | None = None


def _milliseconds(text: str) -> float:
    number, unit = re.fullmatch(r"([\d.]+)(us|ms|s)", text).groups()
    return float(number) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def wrk(url: str, headers: list[str], threads: int, connections: int, seconds: int, server: Server | None = None) -> WrkResult:
    """One bounded wrk run against a loopback URL; with `server`, also the
    server's CPU time per request over the run."""
    if not url.startswith(f"http://{HOST}:"):
        raise ValueError("load goes to 127.0.0.1 only")
    argv = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--latency"]
    for header in headers:
        argv += ["-H", header]
    before = server.cpu_seconds() if server else 0.0
    output = subprocess.run([*argv, url], capture_output=True, text=True, timeout=seconds + 60, check=True).stdout
    after = server.cpu_seconds() if server else 0.0
    requests = int(re.search(r"(\d+) requests in", output).group(1))
    bad = sum(int(n) for n in re.findall(r"Non-2xx or 3xx responses: (\d+)", output))
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output)
    bad += sum(int(n) for n in errors.groups()) if errors else 0
    latency = dict(re.findall(r"^\s+(50|99)%\s+(\S+)", output, re.MULTILINE))
    return WrkResult(
        requests_per_second=float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1)),
        requests=requests,
        bad=bad,
        p50_ms=_milliseconds(latency["50"]),
        p99_ms=_milliseconds(latency["99"]),
        cpu_per_request_us=(after - before) / requests * 1e6 if server and requests else None,
    )


def vm_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for {pid}")


def nginx_config(documented: str, folder: Path, out: Path, static_port: int, cache_port: int, upstream_port: int) -> str:
    """An nginx.conf that serves the exported tree on `static_port` and runs
    the documented proxy_cache configuration on `cache_port` in front of
    feedsvc on `upstream_port`, with every path inside `folder`."""
    cache = documented
    substitutions = [
        (r"proxy_cache_path /var/cache/nginx/feedsvc", f"proxy_cache_path {folder}/cache"),
        (r"server 127\.0\.0\.1:8000;", f"server {HOST}:{upstream_port};"),
        (r"listen 80;", f"listen {HOST}:{cache_port};"),
    ]
    for pattern, replacement in substitutions:
        cache, count = re.subn(pattern, replacement, cache)
        if count != 1:
            raise RuntimeError(f"the documented nginx config has no single {pattern!r}; update bench/servers.py")
    user = "user root;\n" if os.geteuid() == 0 else ""
    temp = "\n".join(f"    {kind}_temp_path {folder}/{kind};" for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
    return f"""{user}worker_processes {os.cpu_count()};
daemon off;
master_process on;
pid {folder}/nginx.pid;
error_log {folder}/error.log warn;
events {{ worker_connections 1024; }}
http {{
    include /etc/nginx/mime.types;
    default_type application/octet-stream;
    access_log off;
    sendfile on;
    tcp_nopush on;
{temp}

    # The ceiling: the exported tree as static files.
    server {{
        listen {HOST}:{static_port};
        root {out};
        location / {{ try_files $uri $uri/index.html =404; }}
    }}

    # The configuration from docs/serving.md, with this run's paths and ports.
{cache}
}}
"""


def documented_nginx_config(serving_doc: Path) -> str:
    match = re.search(r"```nginx\n(.*?)```", serving_doc.read_text(encoding="utf-8"), re.DOTALL)
    if not match:
        raise RuntimeError(f"{serving_doc} has no nginx block")
    return match.group(1)
