"""Regenerate the golden expectations in tests/golden_pages/.

Each `<name>.txt` there is one page; `<name>.json` beside it holds what
`feedsvc articles --json` must print for a seeds folder holding only that
page (and golden_pages/feedsvc.toml), at a fixed SOURCE_DATE_EPOCH, plus the
warnings it must print. tests/test_parse.py compares the two.

Run this only when a change of output is meant, then read the diff:

    python tests/regen_golden.py            # every page
    python tests/regen_golden.py crlf bom   # only these
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
from pathlib import Path

from click.testing import CliRunner

from feedsvc.cli import main

GOLDEN = Path(__file__).resolve().parent / "golden_pages"
EPOCH = 1_760_000_000  # 2025-10-09T08:53:20Z
WARNING = "feedsvc: warning: "


def golden_pages() -> list[Path]:
    return sorted(GOLDEN.glob("*.txt"))


def expected_path(page: Path) -> Path:
    return page.with_suffix(".json")


def run_page(page: Path, workdir: Path) -> dict:
    """What the articles command makes of this one page: its JSON and its
    warnings, with the temporary seeds folder taken out of the warnings."""
    seeds = workdir / "seeds"
    seeds.mkdir()
    shutil.copyfile(page, seeds / page.name)
    shutil.copyfile(GOLDEN / "feedsvc.toml", seeds / "feedsvc.toml")
    return articles_of(seeds, page.name)


def articles_of(seeds: Path, label: str) -> dict:
    """`feedsvc articles --json` on a prepared seeds folder: the articles,
    and the warnings with the folder taken out of them."""
    # The run must not depend on the caller's FEEDSVC_* settings.
    env = {name: None for name in os.environ if name.startswith("FEEDSVC_")}
    env["SOURCE_DATE_EPOCH"] = str(EPOCH)
    result = CliRunner().invoke(main, ["articles", "--json", "--seeds", str(seeds)], env=env)
    if result.exit_code != 0:
        raise AssertionError(f"{label}: exit {result.exit_code}\n{result.stderr}")
    prefix = WARNING + str(seeds) + os.sep
    warnings = []
    for line in result.stderr.splitlines():
        assert line.startswith(prefix), line
        warnings.append(line.removeprefix(prefix))
    return {"articles": json.loads(result.stdout), "warnings": warnings}


def render(expected: dict) -> str:
    return json.dumps(expected, ensure_ascii=False, indent=2) + "\n"


def regenerate(names: list[str]) -> int:
    pages = [page for page in golden_pages() if not names or page.stem in names]
    unknown = set(names) - {page.stem for page in pages}
    if unknown:
        print(f"no golden page named {', '.join(sorted(unknown))}", file=sys.stderr)
        return 2
    for page in pages:
        with tempfile.TemporaryDirectory() as workdir:
            text = render(run_page(page, Path(workdir)))
        write_if_changed(expected_path(page), text)
    return 0


def write_if_changed(target: Path, text: str) -> None:
    """Write an expected-output file only when its text changes, and say so."""
    old = target.read_text(encoding="utf-8") if target.exists() else None
    if old != text:
        target.write_text(text, encoding="utf-8")
        print(f"{'updated' if old else 'created'} {target.relative_to(GOLDEN.parent.parent)}")


if __name__ == "__main__":
    sys.exit(regenerate(sys.argv[1:]))
