"""The build's bookkeeping, kept outside the output folder (which holds only
the site), in a folder of its own beside the ledger: `.feedsvc-build/<key>/`,
one per output folder. Without it a build still writes the right tree; it
renders every file and compares it with the one on disk, which is slower.

- `manifest.jsonl`, written last: every file the build wrote, with
  the Site's fingerprint, size and SHA-256. It tells the next build which
  files it may skip without rendering them, and which files are its own to
  remove once the site stops publishing them (a CNAME or .nojekyll that a
  user put there is never listed, so never touched). Its first line also
  records a digest of the inputs, so a build with nothing new stops there.
- `pending.json`, present only while a build writes: the files it
  is about to create or replace. A build killed part-way leaves it behind,
  and the next build renders those files again instead of trusting the
  manifest, removes the killed build's temporary files, and takes over its
  stale files.
- `stamps.json`: this machine's record of the input files' stat
  and digest (see stamps.py), so an up-to-date build need not read them.
- `build.lock`: two builds into one folder take turns.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

import orjson

from feedsvc.config import Config
from feedsvc.publish.inputs import MANIFEST_VERSION
from feedsvc.store.stamps import STAMPS_NAME

MANIFEST_NAME = "manifest.jsonl"
PENDING_NAME = "pending.json"
LOCK_NAME = "build.lock"
BOOKKEEPING = (MANIFEST_NAME, PENDING_NAME, LOCK_NAME, STAMPS_NAME)
STATE_FOLDER = ".feedsvc-build"
# Where earlier releases kept the bookkeeping: in the output folder itself,
# where it was published. A build removes them.
LEGACY_BOOKKEEPING = (".feedsvc-manifest.json", ".feedsvc-pending.json", ".feedsvc.lock", ".feedsvc-stamps.json")


def state_folder(config: Config, out: Path) -> Path:
    """The bookkeeping of builds into `out`: beside the ledger, keyed by
    the output folder's absolute path, which is never published."""
    key = hashlib.sha256(os.path.abspath(out).encode("utf-8", "surrogateescape")).hexdigest()[:16]
    return config.ledger_path.parent / STATE_FOLDER / key


class Entry(NamedTuple):
    """One file as the manifest records it (a tuple: there are 100,000 of them)."""

    fingerprint: str
    size: int
    sha256: str


@dataclass(frozen=True)
class Manifest:
    renderer: str
    inputs: str
    summary: dict  # pages_read, pages_skipped, articles, problems of the build
    entry_sizes: dict[str, int]  # the files readers start from, checked even when nothing changed
    files: dict[str, Entry] = field(default_factory=dict)


def _header_json(manifest: Manifest) -> str:
    header = {
        "feedsvc_manifest": MANIFEST_VERSION,
        "renderer": manifest.renderer,
        "inputs": manifest.inputs,
        "summary": manifest.summary,
        "entry_sizes": manifest.entry_sizes,
    }
    return json.dumps(header, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def dump_manifest(manifest: Manifest) -> bytes:
    """A header line, then one line per file, sorted: JSON Lines."""
    lines = [_header_json(manifest)]
    lines += [f"[{_json_string(name)},{_json_string(e.fingerprint)},{e.size},\"{e.sha256}\"]" for name, e in sorted(manifest.files.items())]
    return ("\n".join(lines) + "\n").encode("utf-8")


def _json_string(text: str) -> str:
    # Paths and fingerprints are plain ASCII; json.dumps per line would be
    # the slowest part of writing a manifest of 100,000 files.
    if text.isascii() and text.isprintable() and '"' not in text and "\\" not in text:
        return f'"{text}"'
    return json.dumps(text, ensure_ascii=False)


def read_header(state: Path) -> Manifest | None:
    """Only the manifest's first line: enough to tell an up-to-date tree."""
    try:
        with (state / MANIFEST_NAME).open("rb") as handle:
            return _parse_header(handle.readline())
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _parse_header(line: bytes) -> Manifest:
    header = json.loads(line)
    if header.get("feedsvc_manifest") != MANIFEST_VERSION:
        raise ValueError("another manifest version")
    return Manifest(header["renderer"], header["inputs"], dict(header["summary"]), dict(header["entry_sizes"]))


def read_manifest(state: Path) -> tuple[Manifest | None, bytes]:
    """The whole manifest and its bytes; None when missing or unreadable."""
    try:
        data = (state / MANIFEST_NAME).read_bytes()
    except OSError:
        return None, b""
    try:
        first, _, rest = data.partition(b"\n")
        manifest = _parse_header(first)
        # One parse over the whole body instead of one per line: a manifest
        # has a row per published file.
        rows = orjson.loads(b"[" + rest.rstrip(b"\n").replace(b"\n", b",") + b"]")
        # tuple.__new__ skips the named tuple's Python-level constructor,
        # which would dominate reading a large manifest.
        files = {row[0]: tuple.__new__(Entry, row[1:]) for row in rows}
        if any(len(entry) != 3 for entry in files.values()):
            raise ValueError("a row is not [file, fingerprint, size, sha256]")
    except (ValueError, KeyError, TypeError):
        return None, data
    return dataclasses.replace(manifest, files=files), data


def is_own_name(name: object) -> bool:
    """A relative path inside the tree, and not an earlier release's bookkeeping."""
    if not isinstance(name, str) or not name or name.startswith("/") or "\\" in name or "\0" in name:
        return False
    parts = name.split("/")
    return all(part not in {"", ".", ".."} for part in parts) and name not in LEGACY_BOOKKEEPING


def read_pending(state: Path) -> set[str]:
    try:
        names = json.loads((state / PENDING_NAME).read_bytes())
    except FileNotFoundError:
        return set()
    except (OSError, ValueError):
        return set()
    return {name for name in names if is_own_name(name)} if isinstance(names, list) else set()


def finished_build(state: Path, header: Manifest | None, renderer: str) -> Manifest | None:
    """`header`, the last build's (its bookkeeping in `state`), if that build
    finished and ran this code with these settings; only then can inputs be
    compared."""
    if header is None or header.renderer != renderer or (state / PENDING_NAME).exists():
        return None
    return header


def entry_files_in_place(out: Path, header: Manifest) -> bool:
    """Whether the files readers start from have their recorded sizes.
    Article pages and archives are not stat'ed here (there can be 100,000):
    a build that changes anything checks every file, and deleting the
    manifest forces that."""
    for name, size in header.entry_sizes.items():
        try:
            if os.stat(out / name).st_size != size:
                return False
        except OSError:
            return False
    return True
