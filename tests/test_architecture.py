"""The package's shape, as docs/architecture.md describes it: one
subpackage per pipeline stage, each importing only the stages before it,
and a pure core that touches no file, network or clock."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "feedsvc"
STAGES = ("core", "store", "site", "publish", "serve")

# What each subpackage may import of feedsvc, besides itself.
ALLOWED = {
    "core": {"feedsvc.errors"},
    "store": {"feedsvc.core", "feedsvc.config", "feedsvc.errors"},
    "site": {"feedsvc.core", "feedsvc.config", "feedsvc.errors"},
    "publish": {"feedsvc.core", "feedsvc.store", "feedsvc.site", "feedsvc.config", "feedsvc.instance", "feedsvc.clock", "feedsvc.errors"},
    "serve": {"feedsvc.core", "feedsvc.store", "feedsvc.site", "feedsvc.config", "feedsvc.instance", "feedsvc.clock", "feedsvc.errors"},
}

# Modules through which code reaches files, the network, processes or the clock.
IO_MODULES = {
    "os", "io", "pathlib", "shutil", "tempfile", "glob", "socket", "subprocess", "sqlite3", "time",
    "urllib", "http", "requests", "filelock", "flask", "werkzeug", "gunicorn", "importlib.resources",
}  # fmt: skip
# Calls that read the clock or open a file, whatever module they come from.
IO_CALLS = {"now", "today", "utcnow", "open", "read_bytes", "read_text", "write_bytes", "write_text"}

MAX_LINES = 400


def modules(stage: str | None = None) -> list[Path]:
    root = PACKAGE / stage if stage else PACKAGE
    return sorted(path for path in root.rglob("*.py") if "__pycache__" not in path.parts)


def imported(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def within(name: str, prefixes: set[str]) -> bool:
    return any(name == prefix or name.startswith(prefix + ".") for prefix in prefixes)


@pytest.mark.parametrize("stage", STAGES)
def test_each_stage_imports_only_the_stages_it_may(stage: str) -> None:
    own = {f"feedsvc.{stage}"}
    for path in modules(stage):
        wrong = sorted(
            name for name in imported(path) if within(name, {"feedsvc"}) and not within(name, own | ALLOWED[stage]) and name != "feedsvc"
        )
        assert not wrong, f"{path.relative_to(PACKAGE)} imports {wrong}"


def test_core_does_no_io_and_reads_no_clock() -> None:
    for path in modules("core"):
        # urllib.parse only splits and joins strings (core/links.py); the rest of urllib fetches.
        io = sorted(name for name in imported(path) if within(name, IO_MODULES) and not within(name, {"urllib.parse"}))
        assert not io, f"{path.relative_to(PACKAGE)} imports {io}"
        tree = ast.parse(path.read_text(encoding="utf-8"))
        calls = sorted(
            {
                node.func.attr if isinstance(node.func, ast.Attribute) else node.func.id
                for node in ast.walk(tree)
                if isinstance(node, ast.Call) and isinstance(node.func, (ast.Attribute, ast.Name))
            }
            & IO_CALLS
        )
        assert not calls, f"{path.relative_to(PACKAGE)} calls {calls}"


@pytest.mark.parametrize("stage", STAGES)
def test_each_stage_says_what_it_does_and_may_import(stage: str) -> None:
    docstring = ast.get_docstring(ast.parse((PACKAGE / stage / "__init__.py").read_text(encoding="utf-8")))
    assert docstring and "import" in docstring, f"feedsvc/{stage}/__init__.py needs a docstring naming what it may import"


def test_no_module_is_over_the_line_limit() -> None:
    long = {str(path.relative_to(PACKAGE)): n for path in modules() if (n := len(path.read_text(encoding="utf-8").splitlines())) > MAX_LINES}
    assert not long, f"modules over {MAX_LINES} lines: {long}"


def test_the_rules_see_a_violation() -> None:
    # The scan itself must catch what it is for, or every test above passes vacuously.
    sample = PACKAGE / "core" / "merge.py"
    assert within("feedsvc.core.models", {"feedsvc.core"}) and not within("feedsvc.store.ledger", ALLOWED["core"])
    assert "feedsvc.core.models" in imported(sample)
