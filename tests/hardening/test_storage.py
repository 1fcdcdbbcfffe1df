"""Storage failures: a full disk under the tree or the ledger, a read-only
seeds folder, and a ledger that is corrupt, truncated or from another
version. Each gives a clear one-line error and leaves what was published
and recorded as it was; the build succeeds once the cause is gone.

A real tmpfs (and a read-only bind mount) is used where this process may
mount; a fault injected into the write path covers a full disk anywhere."""

from __future__ import annotations

import contextlib
import errno
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Iterator

import pytest
from click.testing import CliRunner

from feedsvc.cli import main

from .servers import Gunicorn
from .test_crashes import BASE_URL, assert_nothing_lost, assert_tree_checks, bulk_page
from .test_hostile_requests import NOW_EPOCH, copy_site

from conftest import stored_ledger
from feedsvc.config import CACHE_FOLDER

NO_SPACE = os.strerror(errno.ENOSPC)


def run(*arguments: str, epoch: int = NOW_EPOCH) -> subprocess.CompletedProcess:
    """A feedsvc command in its own process, as an operator runs it."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("FEEDSVC_")}
    env["SOURCE_DATE_EPOCH"] = str(epoch)
    return subprocess.run([sys.executable, "-m", "feedsvc.cli", *arguments], env=env, capture_output=True, text=True, timeout=300)


def build(seeds: Path, out: Path, *extra: str, epoch: int = NOW_EPOCH) -> subprocess.CompletedProcess:
    return run("build", "--seeds", str(seeds), "--out", str(out), "--base-url", BASE_URL, *extra, epoch=epoch)


def assert_one_line_error(result, *needles: str) -> None:
    output = getattr(result, "stderr", "") + getattr(result, "stdout", "")
    assert result.returncode == 1, output
    assert "Traceback" not in output, output
    (line,) = [line for line in output.splitlines() if line.startswith("Error:")]
    for needle in needles:
        assert needle in line, (needle, line)


def files(out: Path) -> dict[str, bytes]:
    return {p.relative_to(out).as_posix(): p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file()}


def stamp(path: Path) -> tuple[bytes, int]:
    return path.read_bytes(), path.stat().st_mtime_ns


@contextlib.contextmanager
def mounted(*arguments: str) -> Iterator[None]:
    """`mount ARGUMENTS`, undone afterwards; skips where mounting is not allowed."""
    target = arguments[-1]
    done = subprocess.run(["mount", *arguments], capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount here ({done.stderr.strip()}); the injected faults cover this case")
    try:
        yield
    finally:
        subprocess.run(["umount", "-l", target], check=False)


def tmpfs_size_for(tree: dict[str, bytes], folders: int) -> int:
    """What a tree takes on a tmpfs: whole pages per file and per folder."""
    page = 4096
    return sum(-(-len(body) // page) * page for body in tree.values()) + (folders + 8) * page


# A full disk under the published tree


def test_a_full_tmpfs_under_the_tree(tmp_path: Path) -> None:
    seeds = copy_site(tmp_path)
    scratch = tmp_path / "scratch"
    assert build(seeds, scratch).returncode == 0
    size = tmpfs_size_for(files(scratch), sum(1 for p in scratch.rglob("*") if p.is_dir()))
    for part in [*seeds.glob("ledger*"), seeds / CACHE_FOLDER]:  # start the history over
        shutil.rmtree(part) if part.is_dir() else part.unlink()
    disk = tmp_path / "disk"
    disk.mkdir()
    with mounted("-t", "tmpfs", "-o", f"size={size + 64 * 1024}", "tmpfs", str(disk)):
        out = disk / "site"
        assert build(seeds, out).returncode == 0
        before, ledger_before = files(out), stored_ledger(seeds / "ledger.jsonl")
        # Hundreds of new articles: far more than the disk has room for.
        (seeds / "010_bulk.txt").write_text(bulk_page(0, 300))
        failed = build(seeds, out, epoch=NOW_EPOCH + 60)
        assert_one_line_error(failed, NO_SPACE, str(out))
        after = files(out)
        assert set(before) <= set(after), "a published file disappeared"
        assert [name for name in after if name.endswith(".tmp")] == []
        assert_tree_checks(out, "after the disk filled up")
        assert_nothing_lost(ledger_before, stored_ledger(seeds / "ledger.jsonl"), "after the disk filled up")
        # Room again: the same build goes through.
        subprocess.run(["mount", "-o", "remount,size=64m", str(disk)], check=True)
        done = build(seeds, out, epoch=NOW_EPOCH + 120)
        assert done.returncode == 0, done.stderr
        assert_tree_checks(out, "once there was room")
        assert (out / "articles").is_dir() and len(list((out / "articles").iterdir())) > 300


def test_a_full_tmpfs_under_the_ledger(tmp_path: Path) -> None:
    disk = tmp_path / "disk"
    disk.mkdir()
    with mounted("-t", "tmpfs", "-o", "size=1m", "tmpfs", str(disk)):
        seeds = copy_site(disk)
        out = tmp_path / "out"
        assert build(seeds, out).returncode == 0
        (seeds / "010_bulk.txt").write_text(bulk_page(0, 100))
        ledger = seeds / "ledger.jsonl"
        recorded, tree = stamp(ledger), files(out)
        filler = seeds / "filler.bin"
        with filler.open("wb") as stream, contextlib.suppress(OSError):
            while True:
                stream.write(b"\0" * 65536)
                stream.flush()
        failed = build(seeds, out, epoch=NOW_EPOCH + 60)
        assert_one_line_error(failed, str(ledger), NO_SPACE, "intact")
        assert ledger.read_bytes() == recorded[0], "the history's content changed"
        assert files(out) == tree, "the tree changed although the ledger could not be written"
        assert [p.name for p in seeds.iterdir() if p.name.endswith(".tmp")] == []
        filler.unlink()
        done = build(seeds, out, epoch=NOW_EPOCH + 120)
        assert done.returncode == 0, done.stderr
        assert_tree_checks(out, "once there was room")


# The same, with the fault injected into the write path (works anywhere)


class FullDisk:
    """Every write after the first `writes` fails with ENOSPC: os.write (the
    tree's files) and writes to files opened with os.fdopen (the ledger)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, writes: int) -> None:
        self.left = writes
        real_write, real_fdopen = os.write, os.fdopen

        def write(handle: int, data) -> int:
            self._spend()
            return real_write(handle, data)

        def fdopen(handle: int, mode: str = "r", *args, **kwargs):
            stream = real_fdopen(handle, mode, *args, **kwargs)
            return _Budgeted(stream, self) if "w" in mode or "a" in mode else stream

        monkeypatch.setattr(os, "write", write)
        monkeypatch.setattr(os, "fdopen", fdopen)

    def _spend(self) -> None:
        if self.left <= 0:
            raise OSError(errno.ENOSPC, NO_SPACE)
        self.left -= 1


class _Budgeted:
    def __init__(self, stream, disk: FullDisk) -> None:
        self._stream, self._disk = stream, disk

    def write(self, data) -> int:
        self._disk._spend()
        return self._stream.write(data)

    def __getattr__(self, name: str):
        return getattr(self._stream, name)

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self._stream.close()


def invoke(*arguments: str, epoch: int):
    """A feedsvc command in this process, so the injected fault applies."""
    return CliRunner().invoke(main, list(arguments), env={"SOURCE_DATE_EPOCH": str(epoch)})


@pytest.mark.parametrize("writes", [0, 1, 2, 5, 20, 80, 150])
def test_an_injected_full_disk_at_any_write(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, writes: int) -> None:
    seeds, out = copy_site(tmp_path), tmp_path / "out"
    arguments = ["build", "--seeds", str(seeds), "--out", str(out), "--base-url", BASE_URL]
    first = invoke(*arguments, epoch=NOW_EPOCH)
    assert first.exit_code == 0, first.output
    (seeds / "010_bulk.txt").write_text(bulk_page(0, 120, edit=0))
    ledger = seeds / "ledger.jsonl"
    recorded, tree = stamp(ledger), files(out)
    ledger_before = stored_ledger(ledger)

    with monkeypatch.context() as patch:
        FullDisk(patch, writes)
        failed = invoke(*arguments, epoch=NOW_EPOCH + 60)
    assert failed.exit_code == 1, failed.output
    assert failed.exception is None or isinstance(failed.exception, SystemExit), repr(failed.exception)
    assert NO_SPACE in failed.output and "Traceback" not in failed.output
    if "ledger" in failed.output:
        # The ledger could not be written: nothing at all changed.
        assert ledger.read_bytes() == recorded[0] and files(out) == tree
    else:
        assert_nothing_lost(ledger_before, stored_ledger(ledger), f"after {writes} writes")
        assert set(tree) <= set(files(out))
        assert_tree_checks(out, f"disk full after {writes} writes")
    assert [p for p in out.rglob("*.tmp")] == [] and [p for p in seeds.glob("*.tmp")] == []

    done = invoke(*arguments, epoch=NOW_EPOCH + 120)
    assert done.exit_code == 0, done.output
    assert_tree_checks(out, "once there was room")
    assert len(list((out / "articles").iterdir())) >= 120


# A read-only seeds folder, the ledger elsewhere


def make_read_only(seeds: Path, view: Path) -> contextlib.AbstractContextManager:
    view.mkdir()
    return mounted("--bind", "-o", "ro", str(seeds), str(view))


def test_a_read_only_seeds_folder_with_the_ledger_elsewhere(tmp_path: Path) -> None:
    seeds = copy_site(tmp_path / "source")
    view = tmp_path / "readonly"
    with make_read_only(seeds, view):
        with pytest.raises(OSError) as refused:
            (view / "probe").write_text("x")
        assert refused.value.errno == errno.EROFS
        listing = sorted((p.name, p.stat().st_mtime_ns) for p in view.iterdir())
        ledger, out = tmp_path / "state" / "ledger.jsonl", tmp_path / "out"
        ledger.parent.mkdir()

        # Without --ledger the build says where the ledger could go.
        refused_build = build(view, out)
        assert_one_line_error(refused_build, "--ledger")

        done = build(view, out, "--ledger", str(ledger))
        assert done.returncode == 0, done.stderr
        assert_tree_checks(out, "built from a read-only seeds folder")
        assert stored_ledger(ledger).records
        listed = run("articles", "--json", "--seeds", str(view), "--ledger", str(ledger))
        assert listed.returncode == 0 and len(json.loads(listed.stdout)) == len(stored_ledger(ledger).records)

        server = Gunicorn(view, tmp_path / "gunicorn.log", "--ledger", str(ledger), environ={"SOURCE_DATE_EPOCH": str(NOW_EPOCH)})
        try:
            reply = server.get("/feeds/all.atom")
            assert reply.status == 200 and reply.body == (out / "feeds" / "all.atom").read_bytes()
        finally:
            server.stop()
        assert sorted((p.name, p.stat().st_mtime_ns) for p in view.iterdir()) == listing


# A damaged ledger is refused, named by file and line, and never rewritten


def damaged_ledgers(good: bytes) -> dict[str, tuple[bytes, int]]:
    """Each damage, and the line the error must name."""
    lines = good.split(b"\n")
    article = next(n for n, line in enumerate(lines) if b'"kind":"article"' in line)
    uncategorized = [line for line in lines if b'"kind":"category"' not in line]
    return {
        "garbage on a line": (b"\n".join(lines[:4] + [b"{not json"] + lines[5:]), 5),
        # The seal knows how many lines there were; the cut line no longer counts.
        "cut in the middle of a line": (good[: len(good) // 2], good[: len(good) // 2].count(b"\n")),
        "a newer version": (b'{"feedsvc_ledger":99}\n' + b"\n".join(lines[1:]), 1),
        "no header": (b"\n".join(lines[1:]), 1),
        "binary noise": (bytes(range(256)) * 8, 1),
        "a blank line": (b"\n".join(lines[:3] + [b""] + lines[3:]), 4),
        "invalid UTF-8": (b"\n".join(lines[:article] + [lines[article][:20] + b"\xff\xfe" + lines[article][20:]] + lines[article + 1 :]), article + 1),
        "a field of the wrong type": (b"\n".join(lines[:article] + [lines[article].replace(b'"seq":', b'"seq":"x","was":', 1)] + lines[article + 1 :]), article + 1),
        "a git merge conflict": (b"\n".join(lines[:3] + [b"<<<<<<< HEAD"] + lines[3:6] + [b"=======", b">>>>>>> scrape"] + lines[6:]), 4),
        "a category without its slug line": (b"\n".join(uncategorized), uncategorized.index(lines[article]) + 1),
    }


@pytest.fixture(scope="module")
def good_ledger(tmp_path_factory: pytest.TempPathFactory) -> tuple[bytes, bytes]:
    """A good history and its seal."""
    seeds = copy_site(tmp_path_factory.mktemp("good"))
    assert run("articles", "--seeds", str(seeds)).returncode == 0
    return (seeds / "ledger.jsonl").read_bytes(), (seeds / "ledger.seal").read_bytes()


def place(seeds: Path, history: bytes, seal: bytes) -> Path:
    """A damaged history beside the seal of the good one."""
    (seeds / "ledger.seal").write_bytes(seal)
    ledger = seeds / "ledger.jsonl"
    ledger.write_bytes(history)
    return ledger


DAMAGES = sorted(damaged_ledgers(b'{"feedsvc_ledger":2}\n{"kind":"article"}\n'))


@pytest.mark.parametrize("damage", DAMAGES)
def test_a_damaged_ledger_is_refused_and_left_alone(tmp_path: Path, good_ledger: tuple[bytes, bytes], damage: str) -> None:
    good, seal = good_ledger
    data, line = damaged_ledgers(good)[damage]
    seeds = copy_site(tmp_path)
    (seeds / "010_new.txt").write_text(bulk_page(0, 5))  # something new to record
    ledger = place(seeds, data, seal)
    os.utime(ledger, ns=(1_600_000_000_000_000_000, 1_600_000_000_000_000_000))
    recorded = stamp(ledger)
    out = tmp_path / "out"
    for command in (["articles", "--seeds", str(seeds)], ["build", "--seeds", str(seeds), "--out", str(out)], ["takedown", "x", "--seeds", str(seeds)]):
        result = run(*command)
        assert_one_line_error(result, str(ledger), f"line {line}:" if damage != "cut in the middle of a line" else f"line {line} of")
        assert stamp(ledger) == recorded, f"{command[0]} touched the ledger"
    assert not out.exists() or not any(out.rglob("*.atom"))
    assert [p.name for p in seeds.iterdir() if p.name.endswith(".tmp")] == []


def test_a_server_refuses_to_start_on_a_damaged_ledger(tmp_path: Path, good_ledger: tuple[bytes, bytes]) -> None:
    good, seal = good_ledger
    data, line = damaged_ledgers(good)["a newer version"]
    seeds = copy_site(tmp_path)
    ledger = place(seeds, data, seal)
    recorded = stamp(ledger)
    result = run("serve", "--seeds", str(seeds), "--port", "1")
    assert_one_line_error(result, str(ledger), "line 1:")
    assert stamp(ledger) == recorded


def test_a_running_server_keeps_serving_when_its_ledger_is_damaged(tmp_path: Path) -> None:
    seeds = copy_site(tmp_path)
    server = Gunicorn(seeds, tmp_path / "gunicorn.log", environ={"SOURCE_DATE_EPOCH": str(NOW_EPOCH)})
    try:
        before = server.get("/feeds/all.atom")
        ledger = seeds / "ledger.jsonl"
        data, line = damaged_ledgers(ledger.read_bytes())["cut in the middle of a line"]
        ledger.write_bytes(data)
        (seeds / "010_new.txt").write_text(bulk_page(0, 5))
        recorded = stamp(ledger)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            health = server.get("/healthz")
            if health.status != 200:
                break
            time.sleep(0.2)
        assert health.status == 503 and json.loads(health.body)["status"] == "error"
        # The details go to the operator's log, not to the public.
        assert f"{ledger}: line {line} of" in server.log()
        assert str(ledger) not in health.body.decode()
        # The last good site is still served, and the ledger is not rewritten.
        for _ in range(10):
            reply = server.get("/feeds/all.atom")
            assert reply.status == 200 and reply.body == before.body
        assert stamp(ledger) == recorded
    finally:
        server.stop()
