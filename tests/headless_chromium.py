"""Drive Debian's headless Chromium from tests over the DevTools protocol,
spoken on a pipe (--remote-debugging-pipe), so no extra Python package or
network port is needed.

    with Chromium() as browser:
        page = browser.open("http://127.0.0.1:8000/", clipboard=True)
        title = page.evaluate("document.title")
"""

from __future__ import annotations

import base64
import json
import os
import select
import shutil
import signal
import subprocess
import tempfile
import time
from typing import Any
from urllib.parse import urlsplit

FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--remote-debugging-pipe",
)

# Runs before any page script and is not subject to the page's CSP: it
# records what the Content-Security-Policy blocked.
_RECORD_VIOLATIONS = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", function (event) {
  window.__cspViolations.push(event.violatedDirective + " " + event.blockedURI);
});
"""


def executable() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


class ProtocolError(RuntimeError):
    pass


class Chromium:
    """One headless browser process; commands go in on fd 3, replies and
    events come back on fd 4, each message ending in a NUL byte."""

    def __init__(self, timeout: float = 60) -> None:
        self.timeout = timeout
        self._profile = tempfile.mkdtemp(prefix="chromium-profile-")
        to_browser_read, to_browser_write = os.pipe()
        from_browser_read, from_browser_write = os.pipe()

        def use_protocol_fds() -> None:
            # dup first so that a pipe end already numbered 3 or 4 is not clobbered.
            commands, replies = os.dup(to_browser_read), os.dup(from_browser_write)
            os.dup2(commands, 3)
            os.dup2(replies, 4)

        self.process = subprocess.Popen(
            [executable() or "chromium", *FLAGS, f"--user-data-dir={self._profile}", "about:blank"],
            pass_fds=(3, 4),
            preexec_fn=use_protocol_fds,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            # Its own process group, so close() can end the helper processes
            # (crashpad, utility) that would otherwise outlive the browser.
            start_new_session=True,
        )
        os.close(to_browser_read)
        os.close(from_browser_write)
        self._commands = os.fdopen(to_browser_write, "wb", buffering=0)
        self._replies = os.fdopen(from_browser_read, "rb", buffering=0)
        self._buffer = b""
        self._last_id = 0
        self._events: list[dict[str, Any]] = []

    def __enter__(self) -> Chromium:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._commands.close()
        self._signal_group(signal.SIGTERM)
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self._signal_group(signal.SIGKILL)
        self._replies.close()
        self._remove_profile()

    def _signal_group(self, signum: int) -> None:
        try:
            os.killpg(self.process.pid, signum)
        except ProcessLookupError:
            pass

    def _remove_profile(self) -> None:
        # A helper that was just killed may still have had a file open in the
        # profile; the directory empties within moments, so retry briefly.
        for _ in range(50):
            try:
                shutil.rmtree(self._profile)
                return
            except FileNotFoundError:
                return
            except OSError:
                time.sleep(0.1)
        shutil.rmtree(self._profile, ignore_errors=True)

    def send(self, method: str, session: str | None = None, **params: Any) -> dict[str, Any]:
        """Send one command and wait for its reply, keeping events for later."""
        self._last_id += 1
        message: dict[str, Any] = {"id": self._last_id, "method": method, "params": params}
        if session:
            message["sessionId"] = session
        self._commands.write(json.dumps(message).encode() + b"\0")
        while True:
            reply = self._receive()
            if reply.get("id") == self._last_id:
                if "error" in reply:
                    raise ProtocolError(f"{method}: {reply['error']}")
                return reply.get("result", {})
            self._events.append(reply)

    def wait_for(self, event: str, session: str) -> dict[str, Any]:
        for index, message in enumerate(self._events):
            if message.get("method") == event and message.get("sessionId") == session:
                return self._events.pop(index)
        while True:
            message = self._receive()
            if message.get("method") == event and message.get("sessionId") == session:
                return message
            self._events.append(message)

    def _receive(self) -> dict[str, Any]:
        while b"\0" not in self._buffer:
            ready, _, _ = select.select([self._replies], [], [], self.timeout)
            if not ready:
                raise ProtocolError(f"chromium sent nothing for {self.timeout} s")
            chunk = self._replies.read(1 << 16)
            if not chunk:
                raise ProtocolError("chromium closed the protocol pipe")
            self._buffer += chunk
        message, self._buffer = self._buffer.split(b"\0", 1)
        return json.loads(message)

    def open(self, url: str, clipboard: bool = False, size: tuple[int, int] | None = None) -> Page:
        """Load `url` in a new tab and wait for its load event. With
        `clipboard`, the page's origin may write and read the clipboard;
        with `size`, the viewport is that many CSS pixels (a phone's, below
        600 wide)."""
        target = self.send("Target.createTarget", url="about:blank")["targetId"]
        session = self.send("Target.attachToTarget", targetId=target, flatten=True)["sessionId"]
        self.send("Browser.resetPermissions")
        if clipboard:
            parts = urlsplit(url)
            self.send(
                "Browser.grantPermissions",
                permissions=["clipboardReadWrite", "clipboardSanitizedWrite"],
                origin=f"{parts.scheme}://{parts.netloc}",
            )
        self.send("Page.enable", session)
        if size is not None:
            width, height = size
            self.send("Emulation.setDeviceMetricsOverride", session, width=width, height=height, deviceScaleFactor=1, mobile=width < 600)
        # A headless tab never has focus, and the clipboard API requires it.
        self.send("Emulation.setFocusEmulationEnabled", session, enabled=True)
        self.send("Page.addScriptToEvaluateOnNewDocument", session, source=_RECORD_VIOLATIONS)
        self.send("Page.navigate", session, url=url)
        self.wait_for("Page.loadEventFired", session)
        return Page(self, session)


class Page:
    def __init__(self, browser: Chromium, session: str) -> None:
        self.browser = browser
        self.session = session

    def evaluate(self, expression: str, user_gesture: bool = False) -> Any:
        """The JSON value of `expression`, awaited when it is a promise."""
        result = self.browser.send(
            "Runtime.evaluate",
            self.session,
            expression=expression,
            awaitPromise=True,
            returnByValue=True,
            userGesture=user_gesture,
        )
        if "exceptionDetails" in result:
            raise ProtocolError(f"script failed: {result['exceptionDetails']}")
        return result["result"].get("value")

    def screenshot(self) -> bytes:
        """The viewport as a PNG."""
        return base64.b64decode(self.browser.send("Page.captureScreenshot", self.session, format="png")["data"])

    def csp_violations(self) -> list[str]:
        return self.evaluate("window.__cspViolations")
