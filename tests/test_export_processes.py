"""A build that renders its article pages with several processes: the same
tree and bookkeeping as one process, every file whole at every moment, and
no process left behind when the build is killed."""

from __future__ import annotations

import os
import signal
import sys
import time
from pathlib import Path

import pytest

from conftest import copy_seeds
from processes import kill_when
from regen_golden_tree import published_files
from test_export import build, count_articles, start_build, state, summary_counts, write_corpus

from feedsvc.publish.manifest import MANIFEST_NAME

linux_only = pytest.mark.skipif(sys.platform != "linux", reason="builds fork workers on Linux only")


def bookkeeping(seeds: Path, out: Path) -> bytes:
    return (state(seeds, out) / MANIFEST_NAME).read_bytes()


@linux_only
def test_several_processes_write_the_same_tree_and_manifest_as_one(tmp_path):
    seeds = copy_seeds(tmp_path / "seeds")
    write_corpus(seeds, range(1, 51))  # 2,500 articles: three batches of pages
    one, several = tmp_path / "one", tmp_path / "several"
    first = build(seeds, one, "--processes", "1", FEEDSVC_MAX_NEW_ARTICLES="100000")
    assert first.exit_code == 0, first.stderr
    second = build(seeds, several, "--processes", "3", FEEDSVC_MAX_NEW_ARTICLES="100000")
    assert second.exit_code == 0, second.stderr
    assert summary_counts(second)["files written"] == summary_counts(first)["files written"]
    assert published_files(several) == published_files(one)
    assert bookkeeping(seeds, several) == bookkeeping(seeds, one)

    # Again, over a tree with some pages missing and some damaged.
    write_corpus(seeds, range(51, 53))
    for folder in (one, several):
        pages = sorted((folder / "articles").iterdir())
        for page in pages[::7]:
            (page / "index.html").unlink()
        (pages[3] / "index.html").write_bytes(b"<p>not this")
    assert build(seeds, one, "--processes", "1", FEEDSVC_MAX_NEW_ARTICLES="100000").exit_code == 0
    again = build(seeds, several, "--processes", "2", FEEDSVC_MAX_NEW_ARTICLES="100000", FEEDSVC_BUILD_PROCESSES="1")  # the option wins
    assert again.exit_code == 0, again.stderr
    assert published_files(several) == published_files(one)
    assert bookkeeping(seeds, several) == bookkeeping(seeds, one)


def children(pid: int) -> set[int]:
    """The processes whose parent is `pid`."""
    found = set()
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                stat = Path(entry.path, "stat").read_text()
            except OSError:
                continue
            if int(stat.rpartition(")")[2].split()[1]) == pid:
                found.add(int(entry.name))
    return found


def running(pid: int) -> bool:
    """Whether `pid` exists and has not ended (a zombie has ended)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rpartition(")")[2].split()[0] != "Z"


@linux_only
def test_the_workers_of_a_build_killed_with_sigkill_die_with_it(tmp_path):
    seeds = copy_seeds(tmp_path / "seeds")
    write_corpus(seeds, range(1, 61))
    out = tmp_path / "out"
    process = start_build(seeds, out, FEEDSVC_BUILD_PROCESSES="2")
    workers: set[int] = set()

    def writing() -> bool:
        workers.update(children(process.pid))
        return bool(workers) and count_articles(out) > 0

    assert kill_when(process, writing), "the build ended before it was killed"
    assert workers
    # The kernel kills the workers as the build dies; wait for them to go.
    deadline = time.monotonic() + 30
    while any(running(pid) for pid in workers) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert not any(running(pid) for pid in workers)

    finished = start_build(seeds, out)
    assert finished.wait() == 0, finished.stderr.read().decode()
    assert not list(out.rglob("*.tmp"))


@linux_only
def test_a_page_that_cannot_be_written_fails_the_build_and_leaves_the_last_tree(tmp_path):
    seeds = copy_seeds(tmp_path / "seeds")
    write_corpus(seeds, range(1, 3))
    out, reference = tmp_path / "out", tmp_path / "reference"
    assert build(seeds, out, FEEDSVC_MAX_NEW_ARTICLES="100000").exit_code == 0
    before = published_files(out)
    write_corpus(seeds, range(3, 53))
    assert build(seeds, reference, FEEDSVC_MAX_NEW_ARTICLES="100000").exit_code == 0
    new = sorted({page.name for page in (reference / "articles").iterdir()} - {page.name for page in (out / "articles").iterdir()})
    (out / "articles" / new[len(new) // 2]).write_bytes(b"")  # a file where a page's folder must go
    before["articles/" + new[len(new) // 2]] = b""

    result = build(seeds, out, "--processes", "2", FEEDSVC_MAX_NEW_ARTICLES="100000")
    assert result.exit_code == 1
    assert "every published file is still whole" in result.stderr
    published = published_files(out)
    assert {name: published[name] for name in before} == before  # every earlier file as it was
    feeds = [name for name in published if not name.startswith("articles/")]
    assert all(published[name] == before.get(name) for name in feeds)  # and no feed of the new articles
    assert not list(out.rglob("*.tmp"))
