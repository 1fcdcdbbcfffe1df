"""Render a build's documents and stage or write their files, in one
process or several: the article pages, nearly every file of a large site,
are shared out in batches between the build and worker processes forked
from it, which render them and send their bytes back. Only the build
writes the tree, through the one atomic write (`store.files`): two
processes creating files in one folder contend for it in the kernel and
write more slowly than one."""

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
from feedsvc.site import routes as urls

# A rendered file: (file, its manifest entry, "added", "changed" or
# "unchanged", and its bytes unless unchanged).
Rendered = tuple[str, Entry, str, bytes | None]
# What became of one file: (file, its manifest entry, "added", "changed" or "unchanged").
Written = tuple[str, Entry, str]

Meter = Callable[[int, int], None]  # (done, total)

# Files staged before the batch is flushed and renamed into place: one
# flush per batch instead of one per file. A batch of article pages is
# also the unit of work handed to a process.
BATCH_FILES = 256
# Below this many article pages to write per process, forking costs more
# than it saves (two processes already pay at 2,000 pages: 1.04 s against
# 1.21 s for the whole build, medians of 5, bench corpus, warm ledger).
PAGES_PER_PROCESS = 1000
# Workers are forked (they start with the site already in memory) and are
# told to die with the build: prctl(PR_SET_PDEATHSIG) exists on Linux only.
CAN_FORK = sys.platform == "linux"
_PR_SET_PDEATHSIG = 1


def render(site, tree: Tree, targets: list) -> list[Rendered]:
    """Render `targets` and compare each with the file on disk."""
    rendered = []
    for target in targets:
        resource = site.render(target.path)
        if resource is None:
            raise FeedsvcError(f"the site lists {target.path} but cannot render it")
        body = resource.body
        entry = Entry(target.fingerprint, len(body), hashlib.sha256(body).hexdigest())
        size = tree.size(target.file)
        if size is not None and tree.holds(target.file, body):
            rendered.append((target.file, entry, "unchanged", None))
        else:
            rendered.append((target.file, entry, "added" if size is None else "changed", body))
    return rendered


Journal = Callable[[list[str]], None]  # lists files, on disk, before they are written


def stage(tree: Tree, rendered: list[Rendered], apply: bool, staged: list[tuple[str, str]], journal: Journal) -> list[Written]:
    """Stage each rendered file that differs from the disk, listing them in
    the `journal` first and adding (temporary, file) to `staged`; nothing
    is renamed."""
    if apply:
        journal([file for file, _, _, body in rendered if body is not None])
    written = []
    for file, entry, state, body in rendered:
        if apply and body is not None:
            staged.append((tree.stage(file, body), file))
        written.append((file, entry, state))
    return written


def write_batch(tree: Tree, rendered: list[Rendered], apply: bool, journal: Journal) -> list[Written]:
    """Stage and commit one batch of single-file documents."""
    staged: list[tuple[str, str]] = []
    try:
        written = stage(tree, rendered, apply, staged, journal)
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
    """How many processes render `pages` article pages: `asked`, or by
    default one per CPU and per PAGES_PER_PROCESS pages; never more than
    there are batches, and one where workers cannot be forked."""
    if not CAN_FORK:
        return 1
    if asked is None:
        return max(1, min(os.cpu_count() or 1, pages // PAGES_PER_PROCESS))
    return max(1, min(asked, -(-pages // BATCH_FILES)))


class Shares:
    """Batches of article pages rendered by the build and `workers` forked
    processes. The build hands each worker one batch at a time through its
    own pipe, the next as soon as the last comes back (before writing it),
    and renders a batch itself whenever no worker's is ready: no process
    holds more than a few batches. A worker is handed a batch only while
    it waits for one, so neither side ever waits on the other's pipe. Use
    as a context manager."""

    def __init__(self, site, tree: Tree, batches: Iterator[list], workers: int) -> None:
        self._batches = batches
        self._context = multiprocessing.get_context("fork")
        self._workers: list[_Worker] = []
        self._site, self._tree = site, tree
        self._count = workers

    def __enter__(self) -> "Shares":
        build = os.getpid()
        for _ in range(self._count):
            task_reader, task_writer = self._context.Pipe(duplex=False)
            reader, writer = self._context.Pipe(duplex=False)
            process = self._context.Process(target=self._work, args=(build, task_reader, writer), daemon=True)
            process.start()
            writer.close()  # the worker's ends: the build sees EOF once the worker ends
            task_reader.close()
            self._workers.append(_Worker(process, task_writer, reader))
        return self

    def __exit__(self, kind, value, trace) -> None:
        # Leaving early too (an error here or in a worker): each worker is
        # told to stop, and what it still sends no longer matters.
        for worker in self._workers:
            worker.stop()
        for worker in self._workers:
            while not worker.results.closed:
                try:
                    worker.results.recv()
                except EOFError:
                    worker.results.close()
                except Exception:
                    continue
            worker.process.join()

    def _next(self) -> list | None:
        return next(self._batches, None)

    def _work(self, build: int, tasks: multiprocessing.connection.Connection, writer: multiprocessing.connection.Connection) -> None:
        """A worker: die with the build, render the batches it is handed, send them back."""
        _die_with(build)
        try:
            self._site.catalog.after_fork()
            with Tree(self._tree.out, create=False) as tree:
                while (batch := tasks.recv()) is not None:
                    writer.send(render(self._site, tree, batch))
        except BaseException as error:
            try:
                writer.send(error)
            except Exception:  # an error that cannot be pickled: its message
                writer.send(FeedsvcError(f"a build process failed: {error!r}"))
            raise SystemExit(1) from None

    def _hand_out(self) -> None:
        """A batch for each worker that waits for one."""
        for worker in self._workers:
            if worker.open and not worker.busy:
                batch = self._next()
                if batch is None:
                    return
                worker.hand(batch)

    def collect(self, block: bool = False) -> list[list[Rendered]]:
        """The batches workers rendered since the last call; with `block`,
        wait for at least one (or for every worker to end)."""
        self._hand_out()
        reports: list[list[Rendered]] = []
        waiting = {worker.results: worker for worker in self._workers if worker.busy}
        ready = multiprocessing.connection.wait(list(waiting), timeout=None if block else 0) if waiting else []
        for results in ready:
            worker = waiting[results]
            try:
                report = results.recv()
            except EOFError:
                worker.ended()
                continue
            if isinstance(report, BaseException):
                raise report
            worker.busy = False
            self._hand_out()  # the worker renders on while this batch is written
            reports.append(report)
        return reports

    def rest(self) -> Iterator[list[Rendered]]:
        """Every batch not yet collected, as it is rendered: the workers'
        first, and one rendered here whenever none of theirs is ready, so
        the build writes while they render."""
        while True:
            reports = self.collect()
            if not reports:
                batch = self._next()
                if batch is not None:
                    reports = [render(self._site, self._tree, batch)]
                elif any(worker.busy for worker in self._workers):
                    reports = self.collect(block=True)
                else:
                    return
            yield from reports


class _Worker:
    """One forked worker, the pipe it is handed batches through, the pipe
    it sends them back rendered through, and whether it holds one."""

    def __init__(self, process: multiprocessing.Process, tasks: multiprocessing.connection.Connection, results: multiprocessing.connection.Connection) -> None:
        self.process, self.tasks, self.results = process, tasks, results
        self.busy = False
        self.open = True

    def hand(self, batch: list) -> None:
        self.busy = True
        try:
            self.tasks.send(batch)
        except OSError:  # it has failed: what it sent says why (`collect`)
            self.open = False

    def stop(self) -> None:
        """No more batches: the worker ends once it has sent the one it holds.
        (A sentinel, not the pipe's end: later workers were forked holding
        this pipe's writing end too.)"""
        if self.open:
            self.open = False
            try:
                self.tasks.send(None)
            except OSError:
                pass  # it has ended already
            self.tasks.close()

    def ended(self) -> None:
        self.process.join()
        self.results.close()
        if self.process.exitcode != 0 or self.busy:
            raise FeedsvcError(f"a build process ended with exit code {self.process.exitcode} before rendering its share; build again")


Done = Callable[[str, Entry, str], None]  # (file, its manifest entry, "added", "changed" or "unchanged")


def render_and_write(
    site, tree: Tree, pages: Iterator[list], others: list, done: Done, journal: Journal, apply: bool, processes: int
) -> None:
    """Render the batches of article pages `pages` and the other documents
    `others`, and write what differs from the disk, handing each file to
    `done` once it is written or staged, and listing it in the `journal`
    before. The article pages are rendered in batches shared out among
    `processes` processes and written here as they come; every other
    document is rendered and staged meanwhile (the formats of one document
    together), and renamed into place in write order once every article
    page is: no feed or page ever links to an article page that is not
    there yet."""

    def record(written: list[Written]) -> None:
        for file, entry, state in written:
            done(file, entry, state)

    staged: list[tuple[str, str]] = []
    try:
        with Shares(site, tree, pages, processes - 1) as shares:
            for group in _documents(others):
                record(stage(tree, render(site, tree, group), apply, staged, journal))
                for batch in shares.collect():
                    record(write_batch(tree, batch, apply, journal))
            for batch in shares.rest():
                record(write_batch(tree, batch, apply, journal))
        commit(tree, staged)
    except BaseException:
        discard(tree, staged)
        raise


class Progress:
    """Calls the meter every 256 files done, and at the end."""

    def __init__(self, meter: Meter | None, total: int) -> None:
        self.meter, self.done, self.reported, self.total = meter, 0, 0, total

    def add(self, count: int = 1) -> None:
        self.done += count
        if self.meter and (self.done - self.reported >= 256 or self.done == self.total):
            self.meter(self.done, self.total)
            self.reported = self.done


def _document(path: str) -> object:
    """The formats of one feed document share this key."""
    return urls.match(path).document


def _documents(targets: list) -> Iterator[list]:
    """Consecutive targets that are formats of one document, together."""
    group: list = []
    for target in targets:
        if group and _document(group[-1].path) != _document(target.path):
            yield group
            group = []
        group.append(target)
    if group:
        yield group


def _die_with(build: int) -> None:
    """Have the kernel kill this process when the build ends, however it
    ends (kill -9 included), so no worker outlives it."""
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_PDEATHSIG)")
    if os.getppid() != build:  # the build died before the request was made
        os._exit(1)
