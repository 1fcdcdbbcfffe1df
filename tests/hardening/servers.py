"""A real gunicorn for the hardening tests, started the documented way
(`feedsvc serve`) on 127.0.0.1, and plain HTTP helpers to talk to it."""

from __future__ import annotations

import http.client
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

START_TIMEOUT = 60


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass
class Reply:
    status: int
    headers: dict[str, str]  # lower-case names
    body: bytes


class Gunicorn:
    """`feedsvc serve` on a free port; stopped by its PID only."""

    def __init__(
        self, seeds: Path, log: Path, *extra: str, workers: int = 2, environ: dict[str, str] | None = None, folder_option: str = "--seeds"
    ) -> None:
        self.port = free_port()
        self.log_path = log
        env = {k: v for k, v in os.environ.items() if not k.startswith("FEEDSVC_")}
        env["PYTHONUNBUFFERED"] = "1"
        # The links the builds in these tests publish under, so served and
        # built bytes can be compared.
        env["FEEDSVC_BASE_URL"] = "http://127.0.0.1:8000/"
        env.update(environ or {})
        # `folder_option` "--sites" serves a folder of several sites.
        command = [sys.executable, "-m", "feedsvc.cli", "serve", folder_option, str(seeds), "--port", str(self.port)]
        command += ["--workers", str(workers), *extra]
        self._log = log.open("wb")
        self.process = subprocess.Popen(command, env=env, stdout=self._log, stderr=subprocess.STDOUT)
        self._wait_until_listening()

    def _wait_until_listening(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"the server exited with {self.process.returncode}:\n{self.log()}")
            try:
                if self.get("/healthz").status == 200:
                    return
            except OSError:
                pass
            time.sleep(0.1)
        self.stop()
        raise AssertionError(f"the server did not answer within {START_TIMEOUT} s:\n{self.log()}")

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def request(self, method: str, path: str, headers: dict[str, str] | None = None, timeout: float = 20) -> Reply:
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            connection.putrequest(method, path, skip_host="host" in {k.lower() for k in (headers or {})}, skip_accept_encoding=True)
            for name, value in (headers or {}).items():
                connection.putheader(name, value)
            connection.endheaders()
            response = connection.getresponse()
            body = response.read()
            return Reply(response.status, {k.lower(): v for k, v in response.getheaders()}, body)
        finally:
            connection.close()

    def get(self, path: str, headers: dict[str, str] | None = None) -> Reply:
        return self.request("GET", path, headers)

    def raw(self, data: bytes, timeout: float = 10) -> bytes:
        """Send bytes as they are and return whatever comes back until the
        server closes the connection (or goes quiet)."""
        with socket.create_connection(("127.0.0.1", self.port), timeout=timeout) as connection:
            connection.sendall(data)
            try:
                connection.shutdown(socket.SHUT_WR)
            except OSError:
                pass
            chunks = []
            try:
                while chunk := connection.recv(65536):
                    chunks.append(chunk)
            except (socket.timeout, ConnectionResetError):
                pass
        return b"".join(chunks)

    def workers(self) -> list[int]:
        """The PIDs of the master's worker processes."""
        master = self.process.pid
        try:
            return sorted(int(pid) for pid in Path(f"/proc/{master}/task/{master}/children").read_text().split())
        except OSError:
            pass  # a kernel without that file: look at every process's parent
        found = []
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
            except (OSError, IndexError):
                continue
            if int(fields[1]) == master:
                found.append(int(stat.parent.name))
        return sorted(found)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)  # gunicorn's quick shutdown
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._log.close()
