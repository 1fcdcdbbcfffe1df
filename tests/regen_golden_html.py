"""Regenerate the golden expectations of the HTML pages in tests/html_pages/.

Each folder there holds one `page.html` and the `feedsvc.toml` of its site;
`expected.json` beside them holds what `feedsvc articles --json` prints for
a seeds folder holding just those two files, at a fixed SOURCE_DATE_EPOCH,
and the warnings it prints. tests/test_html_pages.py compares the two.

Run this only when a change of output is meant, then read the diff:

    python tests/regen_golden_html.py            # every page
    python tests/regen_golden_html.py european   # only these
"""

from __future__ import annotations

import json
import shutil
import sys
import tempfile
from pathlib import Path


from regen_golden import articles_of, write_if_changed

HTML_PAGES = Path(__file__).resolve().parent / "html_pages"


def golden_sites() -> list[Path]:
    return sorted(path.parent for path in HTML_PAGES.glob("*/page.html"))


def run_site(site: Path, workdir: Path) -> dict:
    seeds = workdir / "seeds"
    seeds.mkdir()
    shutil.copyfile(site / "page.html", seeds / "000_page.html")
    shutil.copyfile(site / "feedsvc.toml", seeds / "feedsvc.toml")
    return articles_of(seeds, site.name)


def render(expected: dict) -> str:
    return json.dumps(expected, ensure_ascii=False, indent=2) + "\n"


def regenerate(names: list[str]) -> int:
    sites = [site for site in golden_sites() if not names or site.name in names]
    for site in sites:
        with tempfile.TemporaryDirectory() as workdir:
            text = render(run_site(site, Path(workdir)))
        write_if_changed(site / "expected.json", text)
    return 0


if __name__ == "__main__":
    sys.exit(regenerate(sys.argv[1:]))
