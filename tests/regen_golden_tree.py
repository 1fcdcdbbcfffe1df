"""Regenerate tests/golden_tree/, the export of the sample pages that
test_export.py diffs every fresh build against. Run it only when a change
to the output is intended, and review the diff before committing:

    python tests/regen_golden_tree.py
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

from conftest import NOW, copy_seeds  # noqa: E402

from feedsvc.config import load_config  # noqa: E402
from feedsvc.publish.export import build  # noqa: E402

GOLDEN = HERE / "golden_tree"
# A base URL with a path, so the tree is checked for links that keep it.
BASE_URL = "https://feeds.example.org/news/"
REGENERATE = "python tests/regen_golden_tree.py"


def build_golden(work: Path) -> Path:
    """Export the sample pages (empty ledger, fixed clock) under `work`;
    return the output folder."""
    seeds = copy_seeds(work / "seeds")
    config = load_config(seeds, environ={}, base_url=BASE_URL)
    out = work / "out"
    build(config, out, NOW)
    return out


def published_files(out: Path) -> dict[str, bytes]:
    """Every file a static host would serve: the export's dot-files are its
    own bookkeeping."""
    return {
        path.relative_to(out).as_posix(): path.read_bytes()
        for path in sorted(out.rglob("*"))
        if path.is_file() and not any(part.startswith(".") for part in path.relative_to(out).parts)
    }


def main() -> None:
    with tempfile.TemporaryDirectory() as work:
        files = published_files(build_golden(Path(work)))
    shutil.rmtree(GOLDEN, ignore_errors=True)
    for name, data in files.items():
        target = GOLDEN / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
    print(f"wrote {len(files)} files to {GOLDEN}")


if __name__ == "__main__":
    main()
