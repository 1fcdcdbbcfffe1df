"""Clients that misbehave, for the tests and the benchmark of serving with
no proxy in front: connections held open against 127.0.0.1 by one thread,
some sending a request's headers a byte at a time, the others nothing."""

from __future__ import annotations

import selectors
import socket
import threading
import time
from typing import Callable

# A request that never ends: its headers go on for ever, a byte at a time.
ENDLESS = b"GET /feeds/all.atom HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Padding: " + b"a" * 4000
OPEN_TIMEOUT = 60.0


class SlowClients:
    """Connections held open against 127.0.0.1:port by one thread: some send
    ENDLESS a byte at a time, the others nothing. A connection the server
    closes is counted and opened again, until `stop()`."""

    def __init__(self, port: int, trickling: int, silent: int, byte_every: float) -> None:
        self.port = port
        self.byte_every = byte_every
        self.selector = selectors.DefaultSelector()
        self.changed = threading.Condition()
        self.open = 0
        self.dropped = 0  # connections the server closed
        self.failures: list[str] = []
        self._stopping = threading.Event()
        self._kinds = [True] * trickling + [False] * silent
        self._thread = threading.Thread(target=self._run, name="slow-clients", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def wait_for(self, condition: Callable[[], bool], timeout: float) -> bool:
        with self.changed:
            return self.changed.wait_for(lambda: condition() or bool(self.failures), timeout)

    def stop(self) -> None:
        self._stopping.set()
        self._thread.join(timeout=30)
        for key in list(self.selector.get_map().values()):
            key.fileobj.close()
        self.selector.close()

    def _connect(self, trickles: bool) -> None:
        connection = socket.create_connection(("127.0.0.1", self.port), timeout=10)
        connection.setblocking(False)
        # data: [trickles, bytes sent so far, when the next byte is due]
        self.selector.register(connection, selectors.EVENT_READ, [trickles, 0, time.monotonic()])
        with self.changed:
            self.open += 1
            self.changed.notify_all()

    def _run(self) -> None:
        try:
            for trickles in self._kinds:
                self._connect(trickles)
            while not self._stopping.is_set():
                self._send_due_bytes()
                # Wakes for a closed connection, the next byte due, or stop().
                for key, _ in self.selector.select(timeout=0.2):
                    self._read(key)
        except Exception as error:  # noqa: BLE001 - reported to the test
            with self.changed:
                self.failures.append(repr(error))
                self.changed.notify_all()

    def _send_due_bytes(self) -> None:
        now = time.monotonic()
        for key in list(self.selector.get_map().values()):
            trickles, sent, due = key.data
            if trickles and due <= now:
                try:
                    key.fileobj.send(ENDLESS[sent : sent + 1])
                except OSError:
                    self._reopen(key)
                    continue
                key.data[1:] = [sent + 1, now + self.byte_every]

    def _read(self, key: selectors.SelectorKey) -> None:
        try:
            data = key.fileobj.recv(65536)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if not data:
            self._reopen(key)

    def _reopen(self, key: selectors.SelectorKey) -> None:
        self.selector.unregister(key.fileobj)
        key.fileobj.close()
        with self.changed:
            self.open -= 1
            self.dropped += 1
        self._connect(key.data[0])

    def __enter__(self) -> "SlowClients":
        self.start()
        if not self.wait_for(lambda: self.open >= len(self._kinds), OPEN_TIMEOUT) or self.failures:
            self.stop()
            raise RuntimeError(f"could not open the slow connections: {self.failures}")
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
