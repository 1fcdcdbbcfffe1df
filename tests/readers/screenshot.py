"""Make docs/screenshot-browser-test.png: the sample site served by gunicorn,
as headless Chromium shows it right after a mouse click on the first copy
button, the same steps test_browser.py takes.

    python -m tests.readers.screenshot [OUTPUT.png]
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from .browser import click_copy_button
from .conftest import SAMPLE_EPOCH, copy_sample_seeds
from .harness import free_port, serving

DEFAULT_OUTPUT = Path(__file__).resolve().parents[2] / "docs" / "screenshot-browser-test.png"


def main(argv: list[str]) -> int:
    output = Path(argv[0]) if argv else DEFAULT_OUTPUT
    with tempfile.TemporaryDirectory(prefix="feedsvc-screenshot-") as folder:
        seeds = copy_sample_seeds(Path(folder) / "seeds")
        # A fixed clock and the README's port make the picture repeatable.
        environ = {"SOURCE_DATE_EPOCH": SAMPLE_EPOCH}
        with serving(seeds, Path(folder) / "logs", environ, workers=1, port=free_port(8000)) as server:
            copied = click_copy_button(server.url)
    if copied.label != "Copied" or copied.clipboard != copied.address:
        print(f"the copy button did not copy: it says {copied.label!r}, the clipboard holds {copied.clipboard!r}", file=sys.stderr)
        return 1
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_bytes(copied.screenshot)
    print(f"wrote {output}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
