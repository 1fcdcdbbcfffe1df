"""Writing files so that no reader ever sees one half-written: each file is
written to a temporary name beside it, flushed to disk, and renamed into
place; the folder is then flushed so the rename survives a power loss.

Files staged together are flushed together: a few with an fsync each, many
with one sync of the file system, which costs about what one fsync costs
but also waits for every other process's unwritten files."""

from __future__ import annotations

import os
import random
from pathlib import Path

# Temporary files are named ".{name}." + 8 hex digits + ".tmp".
TEMPORARY_SUFFIX = ".tmp"
# Past this many files (or folders), one sync of the file system is cheaper
# than an fsync each: 0.2 ms an fsync and 15 ms a sync on an idle disk here.
# Below it, fsyncs keep a small build from waiting for whatever else was
# written on the machine and not yet on disk, which a sync waits for too:
# 0.6 s a sync after 500 MB of other files. A daily build of one new page
# flushes about 170 files (its article pages with the feeds and pages they
# change); a full build flushes batches of 256 article pages and more.
FLUSHED_ONE_BY_ONE = 200
# How many folders a Folder remembers it made or saw: a build writes a
# folder per article page, each once, so remembering them all would cost
# memory in proportion to the site; the few folders written again and
# again (a feed's archives) stay remembered.
KNOWN_FOLDERS = 4096


class Folder:
    """A folder written through one open descriptor: names are relative to
    it, which keeps each lookup short when a build writes 100,000 files.
    Writes are staged (written and flushed under a temporary name) and then
    committed (renamed into place); `sync` flushes every folder a commit
    touched."""

    def __init__(self, path: Path, create: bool = True) -> None:
        self.path = path
        if create:
            path.mkdir(parents=True, exist_ok=True)
        try:
            self.fd: int | None = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
        except FileNotFoundError:
            self.fd = None  # a dry run for a folder that does not exist yet
        self._folders: set[str] = {""}
        self._touched: set[str] = set()
        self._unflushed: set[str] = set()
        self._random = random.Random(os.urandom(16))

    def close(self) -> None:
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None

    def __enter__(self) -> "Folder":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def size(self, name: str) -> int | None:
        """The size of `name`, or None when it is not there."""
        if self.fd is None:
            return None
        try:
            return os.stat(name, dir_fd=self.fd).st_size
        except OSError:
            return None

    def holds(self, name: str, body: bytes) -> bool:
        """Whether the file already holds exactly these bytes."""
        size = self.size(name)
        if size is not None:
            self._know(name.rpartition("/")[0])
        if size != len(body):
            return False
        try:
            handle = os.open(name, os.O_RDONLY | os.O_CLOEXEC, dir_fd=self.fd)
        except OSError:
            return False
        with os.fdopen(handle, "rb") as stream:
            return stream.read() == body

    def stage(self, name: str, body: bytes) -> str:
        """Write `body` to a new temporary file beside `name`; return the
        temporary file's name. It is flushed to disk before it is committed."""
        folder, _, base = name.rpartition("/")
        self._make_folder(folder)
        prefix = f"{folder}/.{base}." if folder else f".{base}."
        while True:
            temporary = f"{prefix}{self._random.getrandbits(32):08x}{TEMPORARY_SUFFIX}"
            try:
                handle = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o644, dir_fd=self.fd)
                break
            except FileExistsError:
                continue
        try:
            view = memoryview(body)
            while view:
                view = view[os.write(handle, view) :]
        except BaseException:
            os.close(handle)
            os.unlink(temporary, dir_fd=self.fd)
            raise
        os.close(handle)
        self._unflushed.add(temporary)
        return temporary

    def flush(self) -> None:
        """Put the bytes of every staged file on disk."""
        self._flush(self._unflushed, folders=False)
        self._unflushed.clear()

    def commit(self, temporary: str, name: str) -> None:
        """Rename a staged file into place, its bytes on disk first."""
        if temporary in self._unflushed:
            self.flush()
        os.replace(temporary, name, src_dir_fd=self.fd, dst_dir_fd=self.fd)
        self._touch(name.rpartition("/")[0])

    def write(self, name: str, body: bytes) -> None:
        self.commit(self.stage(name, body), name)

    def remove(self, name: str) -> None:
        """Delete `name` and the folders that leaves empty."""
        try:
            os.unlink(name, dir_fd=self.fd)
        except (FileNotFoundError, IsADirectoryError):
            return
        folder = name.rpartition("/")[0]
        self._touch(folder)
        while folder:
            try:
                os.rmdir(folder, dir_fd=self.fd)
            except OSError:
                return
            self._folders.discard(folder)
            folder = folder.rpartition("/")[0]
            self._touch(folder)

    def sync(self) -> None:
        """Put on disk the entries of every folder a commit or removal
        touched: each folder flushed on its own when they are few, the
        whole file system at once when they are many."""
        self._flush(sorted((folder or "." for folder in self._touched), key=len, reverse=True), folders=True)
        self._touched.clear()

    def _flush(self, names, folders: bool) -> None:
        """fsync each of `names`, files or `folders` (a folder that cannot
        be opened was removed since, and is passed over), or sync the
        whole file system when they are many."""
        if len(names) > FLUSHED_ONE_BY_ONE:
            os.sync()
            return
        flags = os.O_RDONLY | os.O_CLOEXEC | (os.O_DIRECTORY if folders else 0)
        for name in names:
            try:
                descriptor = os.open(name, flags, dir_fd=self.fd)
            except OSError:
                if folders:
                    continue
                raise
            try:
                os.fsync(descriptor)
            finally:
                os.close(descriptor)

    def _make_folder(self, folder: str) -> None:
        if folder in self._folders:
            return
        try:
            os.mkdir(folder, dir_fd=self.fd)
        except FileExistsError:
            pass
        except FileNotFoundError:
            self._make_folder(folder.rpartition("/")[0])
            os.mkdir(folder, dir_fd=self.fd)
        self._know(folder)
        self._touch(folder.rpartition("/")[0])

    def _know(self, folder: str) -> None:
        if len(self._folders) >= KNOWN_FOLDERS:
            self._folders = {""}  # a forgotten folder is made again: mkdir finds it there
        self._folders.add(folder)

    def _touch(self, folder: str) -> None:
        # Past FLUSHED_ONE_BY_ONE, `sync` flushes the whole file system
        # and which folders were touched no longer matters.
        if len(self._touched) <= FLUSHED_ONE_BY_ONE:
            self._touched.add(folder)


def atomic_write(path: Path, data: bytes) -> None:
    """Replace `path` with `data` in one step: a crash or a kill leaves
    either the old file or the new one, never a part of either."""
    with Folder(path.parent) as folder:
        folder.write(path.name, data)
        folder.sync()
