"""Digests of what a build reads: the settings and code that shape the
bytes, and the page files (the ledger's is store.ledger.digest). A build
whose inputs match the last finished build's has nothing to do."""

from __future__ import annotations

import hashlib
from pathlib import Path

from feedsvc.config import Config, published_settings
from feedsvc.store.stamps import Stamps
from feedsvc.store.seeds import PageFile

MANIFEST_VERSION = 3


def renderer_digest(config: Config) -> str:
    """What turns the same ledger into the same bytes: the settings that
    reach the output and feedsvc's own code and data files. A build stops
    early only when it is the same as last time."""
    digest = hashlib.sha256(f"feedsvc export manifest {MANIFEST_VERSION}\n".encode())
    digest.update(repr(published_settings(config)).encode("utf-8"))
    package = Path(__file__).resolve().parents[1]  # all of feedsvc
    for path in sorted(package.rglob("*")):
        if path.is_file() and "__pycache__" not in path.parts:
            digest.update(f"\n{path.relative_to(package).as_posix()}\n".encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()


def pages_digest(files: list[PageFile], stamps: Stamps) -> tuple[str, dict[str, str]]:
    """A digest of the names and bytes of the page files, and the SHA-256
    of each that could be read, by name. Reading each page once is all an
    up-to-date build costs, and pages whose stat is as recorded are not
    even read."""
    digest = hashlib.sha256()
    digests = {}
    for page in files:
        try:
            sha = digests[page.name] = stamps.digest(page)
        except OSError as error:
            sha = f"unreadable: {error.strerror}"
        digest.update(f"{page.name}\0{sha}\n".encode("utf-8", "surrogateescape"))  # names need not be UTF-8
    return digest.hexdigest(), digests


def inputs_digest(pages: str, ledger: str) -> str:
    return hashlib.sha256(f"{pages}\n{ledger}".encode()).hexdigest()
