"""Render a build's documents and stage or write their files, in one
process or several: the article pages, nearly every file of a large site,
are shared out in chunks between the build and worker processes forked
from it, which render and write them through the one atomic write
(`store.files`) and report what each file holds. The build itself renders
every other document and keeps the manifest and the order of renames."""

from __future__ import annotations

import ctypes
import hashlib
import multiprocessing
import multiprocessing.connection
import os
import signal
import sys
from typing import Callable, Iterator

from feedsvc.errors import FeedsvcError
from feedsvc.publish.manifest import Entry
from feedsvc.publish.tree import Tree

# What became of one file: (file, its manifest entry, "added", "changed" or "unchanged").
Written = tuple[str, Entry, str]

# Files staged before the batch is flushed and renamed into place: one
# flush per batch instead of one per file. A batch of article pages is
# also the unit of work handed to a process.
BATCH_FILES = 1024
# Below this many article pages to write, forking costs more than it saves
# (measured: bench figures in CHANGELOG.md).
PAGES_PER_PROCESS = 2000
# Workers are forked (they start with the site already in memory) and are
# told to die with the build: prctl(PR_SET_PDEATHSIG) exists on Linux only.
CAN_FORK = sys.platform == "linux"
_PR_SET_PDEATHSIG = 1


def render_and_stage(site, tree: Tree, targets: list, apply: bool, staged: list[tuple[str, str]]) -> list[Written]:
    """Render `targets` and stage each file whose bytes differ from the
    disk, adding (temporary, file) to `staged`; nothing is renamed."""
    written = []
    for target in targets:
        resource = site.render(target.path)
        if resource is None:
            raise FeedsvcError(f"the site lists {target.path} but cannot render it")
        body = resource.body
        entry = Entry(target.fingerprint, len(body), hashlib.sha256(body).hexdigest())
        if tree.holds(target.file, body):
            written.append((target.file, entry, "unchanged"))
            continue
        written.append((target.file, entry, "changed" if tree.size(target.file) is not None else "added"))
        if apply:
            staged.append((tree.stage(target.file, body), target.file))
    return written


def write_batch(site, tree: Tree, targets: list, apply: bool) -> list[Written]:
    """Render, stage and commit one batch of single-file documents."""
    staged: list[tuple[str, str]] = []
    try:
        written = render_and_stage(site, tree, targets, apply, staged)
        commit(tree, staged)
    except BaseException:
        discard(tree, staged)
        raise
    return written


def commit(tree: Tree, staged: list[tuple[str, str]]) -> None:
    """Put staged files on disk, then rename each into place in order."""
    tree.flush()
    while staged:
        temporary, file = staged.pop(0)
        tree.commit(temporary, file)


def discard(tree: Tree, staged: list[tuple[str, str]]) -> None:
    """A full disk half-way through: what is staged must not linger."""
    for temporary, _ in staged:
        tree.remove(temporary)


def processes_for(pages: int, asked: int | None) -> int:
    """How many processes write `pages` article pages: `asked`, or by
    default one per CPU and per PAGES_PER_PROCESS pages; never more than
    there are batches, and one where workers cannot be forked."""
    if not CAN_FORK:
        return 1
    if asked is None:
        return max(1, min(os.cpu_count() or 1, pages // PAGES_PER_PROCESS))
    return max(1, min(asked, -(-pages // BATCH_FILES)))


class Shares:
    """Batches of article pages written by the build and `workers` forked
    processes, each taking the next batch not yet taken. Use as a context
    manager: leaving it early kills the workers; `own` yields the batches
    left for the build itself, `collect` what the workers wrote so far,
    and `finish` waits for the workers and returns what they wrote last."""

    def __init__(self, site, tree: Tree, batches: list[list], apply: bool, workers: int) -> None:
        self.batches = batches
        self._context = multiprocessing.get_context("fork")
        self._next = self._context.RawValue("q", 0)
        self._lock = self._context.Lock()
        self._workers: list[tuple[multiprocessing.Process, multiprocessing.connection.Connection]] = []
        self._site, self._tree, self._apply = site, tree, apply
        self._count = workers

    def __enter__(self) -> "Shares":
        build = os.getpid()
        for _ in range(self._count):
            reader, writer = self._context.Pipe(duplex=False)
            worker = self._context.Process(target=self._work, args=(build, writer), daemon=True)
            worker.start()
            writer.close()  # the worker's end: the build sees EOF once the worker ends
            self._workers.append((worker, reader))
        return self

    def __exit__(self, kind, value, trace) -> None:
        # Leaving early (an error here or in a worker): the workers take no
        # new batch and finish the one they hold, so no temporary file is
        # left behind; their reports no longer matter.
        with self._lock:
            self._next.value = len(self.batches)
        for worker, reader in self._workers:
            while not reader.closed:
                try:
                    reader.recv()
                except EOFError:
                    reader.close()
                except Exception:
                    continue
            worker.join()

    def _take(self) -> Iterator[list]:
        while True:
            with self._lock:
                number = self._next.value
                self._next.value = number + 1
            if number >= len(self.batches):
                return
            yield self.batches[number]

    def own(self) -> Iterator[list]:
        """The build's own share: batches until none is left."""
        return self._take()

    def _work(self, build: int, writer: multiprocessing.connection.Connection) -> None:
        """A worker: die with the build, write batches, send what each holds."""
        _die_with(build)
        try:
            with Tree(self._tree.out, create=False) as tree:
                for batch in self._take():
                    writer.send(write_batch(self._site, tree, batch, self._apply))
                tree.sync()
        except BaseException as error:
            try:
                writer.send(error)
            except Exception:  # an error that cannot be pickled: its message
                writer.send(FeedsvcError(f"a build process failed: {error!r}"))
            raise SystemExit(1) from None

    def collect(self, block: bool = False) -> list[Written]:
        """What the workers wrote since the last call; with `block`, wait
        for at least one report (or for every worker to end)."""
        written: list[Written] = []
        readers = [reader for worker, reader in self._workers if not reader.closed]
        ready = multiprocessing.connection.wait(readers, timeout=None if block else 0) if readers else []
        for reader in ready:
            try:
                report = reader.recv()
            except EOFError:
                self._ended(reader)
                continue
            if isinstance(report, BaseException):
                raise report
            written.extend(report)
        return written

    def finish(self) -> Iterator[list[Written]]:
        """Wait for every worker, yielding their reports as they come."""
        while any(not reader.closed for _, reader in self._workers):
            yield self.collect(block=True)

    def _ended(self, reader: multiprocessing.connection.Connection) -> None:
        worker = next(worker for worker, each in self._workers if each is reader)
        worker.join()
        reader.close()
        if worker.exitcode != 0:
            raise FeedsvcError(f"a build process ended with exit code {worker.exitcode} before writing its share; build again")


def _die_with(build: int) -> None:
    """Have the kernel kill this process when the build ends, however it
    ends (kill -9 included), so no worker outlives it."""
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_PDEATHSIG)")
    if os.getppid() != build:  # the build died before the request was made
        os._exit(1)
