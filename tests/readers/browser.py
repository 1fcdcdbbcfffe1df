"""Debian's Chromium, headless, as a visitor of the served pages: the DOM it
renders (plain `--dump-dom`, no protocol needed), and a real mouse click on
a copy button followed by a screenshot, over the DevTools protocol.

The protocol client is tests/headless_chromium.py, which speaks DevTools
over a pipe: no extra Python package and no debugging port to find.
"""

from __future__ import annotations

import base64
import subprocess
import tempfile
import time
from dataclasses import dataclass

from lxml import html

try:
    import headless_chromium  # pytest puts tests/ on sys.path
except ModuleNotFoundError:  # python -m tests.readers.screenshot, from the repository
    from tests import headless_chromium

# The DevTools client's flags, less its pipe: these runs only print a page.
FLAGS = tuple(flag for flag in headless_chromium.FLAGS if flag != "--remote-debugging-pipe")
WIDTH, HEIGHT = 1200, 1400


def executable() -> str | None:
    return headless_chromium.executable()


def dump_dom(url: str) -> html.HtmlElement:
    """The page as Chromium has it after loading and running its scripts."""
    with tempfile.TemporaryDirectory(prefix="chromium-profile-") as profile:
        command = [executable() or "chromium", *FLAGS, f"--user-data-dir={profile}", "--dump-dom", url]
        done = subprocess.run(command, capture_output=True, timeout=120, stdin=subprocess.DEVNULL)
    if done.returncode != 0 or not done.stdout.strip():
        raise AssertionError(f"chromium --dump-dom {url} failed ({done.returncode}): {done.stderr.decode(errors='replace')[-2000:]}")
    return html.fromstring(done.stdout)


@dataclass(frozen=True)
class Copied:
    """What one click on a copy button did."""

    address: str  # the address the button offers
    label: str  # the button's text after the click
    clipboard: str  # what the clipboard then held
    screenshot: bytes  # PNG of the page right after the click


_BUTTON_CENTRE = """(() => {
  const button = document.querySelectorAll("button[data-copy]")[%d];
  button.scrollIntoView({block: "center"});
  const box = button.getBoundingClientRect();
  return [box.x + box.width / 2, box.y + box.height / 2, button.dataset.copy];
})()"""
_LABEL = 'document.querySelectorAll("button[data-copy]")[%d].textContent'


def click_copy_button(url: str, index: int = 0, timeout: float = 10.0) -> Copied:
    """Load `url`, click copy button `index` with the mouse (a trusted click,
    as a person makes), wait for the button to say what happened, read the
    clipboard and take a screenshot."""
    with headless_chromium.Chromium() as browser:
        page = browser.open(url, clipboard=True)
        send = lambda method, **params: browser.send(method, page.session, **params)  # noqa: E731
        send("Emulation.setDeviceMetricsOverride", width=WIDTH, height=HEIGHT, deviceScaleFactor=1, mobile=False)
        x, y, address = page.evaluate(_BUTTON_CENTRE % index)
        for kind in ("mousePressed", "mouseReleased"):
            send("Input.dispatchMouseEvent", type=kind, x=x, y=y, button="left", clickCount=1)
        deadline = time.monotonic() + timeout
        label = page.evaluate(_LABEL % index)
        while label == "Copy" and time.monotonic() < deadline:
            time.sleep(0.05)
            label = page.evaluate(_LABEL % index)
        clipboard = page.evaluate("navigator.clipboard.readText()")
        shot = send("Page.captureScreenshot", format="png", captureBeyondViewport=False)
        return Copied(address, label, clipboard, base64.b64decode(shot["data"]))


def png_size(data: bytes) -> tuple[int, int]:
    """Width and height from a PNG's header; fails on anything but a PNG."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR", "not a PNG file"
    return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
