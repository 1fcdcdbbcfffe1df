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


def stage(tree: Tree, rendered: list[Rendered], apply: bool, staged: list[tuple[str, str]]) -> list[Written]:
    """Stage each rendered file that differs from the disk, adding
    (temporary, file) to `staged`; nothing is renamed."""
    written = []
    for file, entry, state, body in rendered:
        if apply and body is not None:
            staged.append((tree.stage(file, body), file))
        written.append((file, entry, state))
    return written


def write_batch(tree: Tree, rendered: list[Rendered], apply: bool) -> list[Written]:
    """Stage and commit one batch of single-file documents."""
    staged: list[tuple[str, str]] = []
    try:
        written = stage(tree, rendered, apply, staged)
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
    processes, each taking the next batch not yet taken. Use as a context
    manager; `collect` returns the batches the workers have rendered so
    far, and `rest` every batch still to come, the build rendering one
    itself whenever no worker's is ready."""

    def __init__(self, site, tree: Tree, batches: list[list], workers: int) -> None:
        self.batches = batches
        self._context = multiprocessing.get_context("fork")
        self._next = self._context.RawValue("q", 0)
        self._lock = self._context.Lock()
        self._workers: list[tuple[multiprocessing.Process, multiprocessing.connection.Connection]] = []
        self._site, self._tree = site, tree
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
        # new batch, and what they send no longer matters.
        self._take_all()
        for worker, reader in self._workers:
            while not reader.closed:
                try:
                    reader.recv()
                except EOFError:
                    reader.close()
                except Exception:
                    continue
            worker.join()

    def _take(self) -> list | None:
        """The next batch nobody has taken, or None."""
        with self._lock:
            number = self._next.value
            self._next.value = number + 1
        return self.batches[number] if number < len(self.batches) else None

    def _take_all(self) -> None:
        with self._lock:
            self._next.value = len(self.batches)

    def _work(self, build: int, writer: multiprocessing.connection.Connection) -> None:
        """A worker: die with the build, render batches, send them."""
        _die_with(build)
        try:
            self._site.catalog.after_fork()
            with Tree(self._tree.out, create=False) as tree:
                while (batch := self._take()) is not None:
                    writer.send(render(self._site, tree, batch))
        except BaseException as error:
            try:
                writer.send(error)
            except Exception:  # an error that cannot be pickled: its message
                writer.send(FeedsvcError(f"a build process failed: {error!r}"))
            raise SystemExit(1) from None

    def collect(self, block: bool = False) -> list[list[Rendered]]:
        """The batches workers rendered since the last call; with `block`,
        wait for at least one (or for every worker to end)."""
        reports: list[list[Rendered]] = []
        readers = [reader for _, reader in self._workers if not reader.closed]
        ready = multiprocessing.connection.wait(readers, timeout=None if block else 0) if readers else []
        for reader in ready:
            try:
                report = reader.recv()
            except EOFError:
                self._ended(reader)
                continue
            if isinstance(report, BaseException):
                raise report
            reports.append(report)
        return reports

    def rest(self) -> Iterator[list[Rendered]]:
        """Every batch not yet collected, as it is rendered: the workers'
        first, and one rendered here whenever none of theirs is ready, so
        the build writes while they render."""
        while True:
            reports = self.collect()
            if not reports:
                batch = self._take()
                if batch is not None:
                    reports = [render(self._site, self._tree, batch)]
                elif any(not reader.closed for _, reader in self._workers):
                    reports = self.collect(block=True)
                else:
                    return
            yield from reports

    def _ended(self, reader: multiprocessing.connection.Connection) -> None:
        worker = next(worker for worker, each in self._workers if each is reader)
        worker.join()
        reader.close()
        if worker.exitcode != 0:
            raise FeedsvcError(f"a build process ended with exit code {worker.exitcode} before rendering its share; build again")


def render_and_write(
    site, tree: Tree, todo: list, keep: Callable[[str, Entry], None], apply: bool, meter: Meter | None, total: int, processes: int | None
) -> dict[str, str]:
    """Render `todo` and write what differs from the disk, handing each
    file's manifest entry to `keep` once the file is written or staged
    (`total` files in all, the others left as they are); return each
    file's state ("added", "changed" or "unchanged"). The article pages
    are rendered in batches shared out among `processes` processes and
    written here as they come; every other document is rendered and
    staged meanwhile (the formats of one document together), and renamed
    into place in write order once every article page is: no feed or page
    ever links to an article page that is not there yet."""
    pages = [target for target in todo if urls.match(target.path).kind == "article"]
    others = [target for target in todo if urls.match(target.path).kind != "article"]
    batches = [pages[start : start + BATCH_FILES] for start in range(0, len(pages), BATCH_FILES)]
    states: dict[str, str] = {}
    progress = _Progress(meter, total - len(todo), total)

    def record(written: list[Written]) -> None:
        for file, entry, state in written:
            keep(file, entry)
            states[file] = state
        progress.add(len(written))

    staged: list[tuple[str, str]] = []
    try:
        with Shares(site, tree, batches, processes_for(len(pages), processes) - 1) as shares:
            for group in _documents(others):
                record(stage(tree, render(site, tree, group), apply, staged))
                for rendered in shares.collect():
                    record(write_batch(tree, rendered, apply))
            for rendered in shares.rest():
                record(write_batch(tree, rendered, apply))
        commit(tree, staged)
    except BaseException:
        discard(tree, staged)
        raise
    return states


class _Progress:
    """Calls the meter every 256 files done, and at the end."""

    def __init__(self, meter: Meter | None, done: int, total: int) -> None:
        self.meter, self.done, self.reported, self.total = meter, done, done, total

    def add(self, count: int) -> None:
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
