"""Write the site's URL tree as files under one folder: the same bytes from
build to build, every file replaced atomically, in an order that never lets
a page link to a file that is not there yet, and only the files that changed.

Bookkeeping lives in dot-files at the top of the folder:
- `.feedsvc-manifest.json`, written last: every file the build wrote, with
  the Site's fingerprint, size and SHA-256. It tells the next build which
  files it may skip without rendering them, and which files are its own to
  remove once the site stops publishing them (a CNAME or .nojekyll that a
  user put there is never listed, so never touched). Its first line also
  records a digest of the inputs, so a build with nothing new stops there.
- `.feedsvc-pending.json`, present only while a build writes: the files it
  is about to create or replace. A build killed part-way leaves it behind,
  and the next build renders those files again instead of trusting the
  manifest, removes the killed build's temporary files, and takes over its
  stale files.
- `.feedsvc-stamps.json`: this machine's record of the input files' stat
  and digest (see stamps.py), so an up-to-date build need not read them.
- `.feedsvc.lock`: two builds into one folder take turns.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import os
import random
import re
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Iterator, NamedTuple, TypeVar

import orjson
from filelock import FileLock

from feedsvc.site import routes as urls
from feedsvc.store import ledger as ledger_file
from feedsvc.config import Config
from feedsvc.errors import FeedsvcError, PublishRefused
from feedsvc.store.ingest import Ingest, ingest
from feedsvc.core.models import Article
from feedsvc.core.merge import articles
from feedsvc.store.seeds import list_pages
from feedsvc.publish.stamps import STAMPS_NAME, Stamps

MANIFEST_NAME = ".feedsvc-manifest.json"
PENDING_NAME = ".feedsvc-pending.json"
LOCK_NAME = ".feedsvc.lock"
BOOKKEEPING = (MANIFEST_NAME, PENDING_NAME, LOCK_NAME, STAMPS_NAME)
MANIFEST_VERSION = 1
T = TypeVar("T")

# Settings that never reach the bytes of the tree.
_RUNTIME_SETTINGS = {"seeds", "ledger", "read_only", "workers", "cache_max_age"}

# Temporary files: ".{name}." + 8 random characters + ".tmp", as Tree.stage
# and tempfile.mkstemp name them.
_TEMPORARY = re.compile(r"^\.(?P<name>.+)\.[a-z0-9_]{8}\.tmp$")
_ARCHIVE_NUMBER = re.compile(r"/archive/(\d+)\.\w+$")


# The inputs of a build


def renderer_digest(config: Config) -> str:
    """What turns the same ledger into the same bytes: the settings that
    reach the output and feedsvc's own code and data files. A build stops
    early only when it is the same as last time."""
    digest = hashlib.sha256(f"feedsvc export manifest {MANIFEST_VERSION}\n".encode())
    shown = {f.name: getattr(config, f.name) for f in dataclasses.fields(config) if f.name not in _RUNTIME_SETTINGS}
    digest.update(repr(sorted(shown.items())).encode("utf-8"))
    package = Path(__file__).resolve().parent
    for path in sorted(package.rglob("*")):
        if path.is_file() and "__pycache__" not in path.parts:
            digest.update(f"\n{path.relative_to(package).as_posix()}\n".encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()


def pages_digest(config: Config, stamps: Stamps) -> str:
    """The names and bytes of every page file. Reading each page once is
    all an up-to-date build costs, and pages whose stat is as recorded are
    not even read."""
    digest = hashlib.sha256()
    for page in list_pages(config.seeds):
        try:
            sha = stamps.digest(page.path)
        except OSError as error:
            sha = f"unreadable: {error.strerror}"
        digest.update(f"{page.path.name}\0{sha}\n".encode("utf-8", "surrogateescape"))  # names need not be UTF-8
    return digest.hexdigest()


def _ledger_bytes(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        return b""
    except OSError as error:
        raise FeedsvcError(f"{path}: cannot read the ledger: {error.strerror}") from None


def ledger_digest(path: Path, stamps: Stamps, data: bytes | None = None) -> str:
    """The SHA-256 of the ledger file (it can be 100 MB); `data`, when
    given, is its content read under the ledger's lock."""
    try:
        return stamps.digest(path, data)
    except FileNotFoundError:
        return hashlib.sha256(b"").hexdigest()
    except OSError as error:
        raise FeedsvcError(f"{path}: cannot read the ledger: {error.strerror}") from None


def inputs_digest(pages: str, ledger: str) -> str:
    return hashlib.sha256(f"{pages}\n{ledger}".encode()).hexdigest()


# The publish guard


def refusal(result: Ingest, max_new_articles: int) -> str | None:
    """Why this run looks like a broken scrape, or None.

    A first build (the ledger held no article) has nothing to protect, so
    the bound on new articles applies only once the ledger has articles;
    new pages that yield no card at all are refused either way."""
    if result.new_pages and result.new_page_cards == 0:
        names = ", ".join(result.new_pages[:5]) + (", ..." if len(result.new_pages) > 5 else "")
        return (
            f"the {len(result.new_pages)} new page(s) ({names}) yielded no article card at all, "
            "which is what a site redesign or a broken scrape looks like; fix the pages, "
            "or rerun with --force to publish anyway"
        )
    had = len(result.ledger.records) - len(result.new)
    if had and len(result.new) > max_new_articles:
        return (
            f"this run would add {len(result.new)} new articles, more than max_new_articles = {max_new_articles}, "
            "which is what a scrape that lost its article identities looks like; check the pages, "
            "then rerun with --force, or raise max_new_articles in feedsvc.toml (or FEEDSVC_MAX_NEW_ARTICLES)"
        )
    return None


def guarded_ingest(config: Config, now, force: bool, write: bool, stamps: Stamps) -> tuple[Ingest, str]:
    """Ingest the seeds and return the result with the digest of the ledger
    it stands for. The publish guard decides before the ledger is written:
    the run is merged without writing, judged, and only then saved, all
    under the ledger's lock so no other writer slips in between."""
    path = config.ledger_path
    judge = write and not force
    if not write or config.read_only:
        before = _ledger_bytes(path)
        result = ingest(config, now, write=False)
        if judge:
            _guard(result, config)
        if _ledger_bytes(path) != before:
            return result, "changed while read"  # never matches: the next build looks again
        return result, hashlib.sha256(before).hexdigest()  # not stamped: no lock held
    with ledger_file.locked(path):
        before = _ledger_bytes(path)
        result = ingest(config, now, write=False)
        if judge:
            _guard(result, config)
        written = ledger_file.save(path, result.ledger, before)
        after = ledger_digest(path, stamps, None if written else before)
    return dataclasses.replace(result, written=written), after


def _guard(result: Ingest, config: Config) -> None:
    reason = refusal(result, config.max_new_articles)
    if reason:
        raise PublishRefused(f"refusing to publish: {reason}")


def article_changes(config: Config, result: Ingest) -> list[tuple[str, Article]]:
    """What a run would do to the published articles, against the ledger
    as it is on disk: ("+", added), ("~", changed), ("-", withdrawn)."""
    current, _ = ledger_file.load(config.ledger_path)
    before = {a.id: a for a in articles(current, config.site_key)}
    after = {a.id: a for a in result.articles(config.site_key)}
    changes: list[tuple[str, Article]] = []
    for article in after.values():
        old = before.get(article.id)
        if old is None:
            changes.append(("+", article))
        elif (old.title, old.summary, old.category, old.updated) != (article.title, article.summary, article.category, article.updated):
            changes.append(("~", article))
    changes += [("-", article) for article_id, article in before.items() if article_id not in after]
    order = {"+": 0, "~": 1, "-": 2}
    return sorted(changes, key=lambda pair: (order[pair[0]], -pair[1].published.timestamp(), pair[1].id))


# The manifest


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


def read_header(out: Path) -> Manifest | None:
    """Only the manifest's first line: enough to tell an up-to-date tree."""
    try:
        with (out / MANIFEST_NAME).open("rb") as handle:
            return _parse_header(handle.readline())
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _parse_header(line: bytes) -> Manifest:
    header = json.loads(line)
    if header.get("feedsvc_manifest") != MANIFEST_VERSION:
        raise ValueError("another manifest version")
    return Manifest(header["renderer"], header["inputs"], dict(header["summary"]), dict(header["entry_sizes"]))


def read_manifest(out: Path) -> tuple[Manifest | None, bytes]:
    """The whole manifest and its bytes; None when missing or unreadable."""
    try:
        data = (out / MANIFEST_NAME).read_bytes()
    except OSError:
        return None, b""
    try:
        first, _, rest = data.partition(b"\n")
        manifest = _parse_header(first)
        # One parse over the whole body is several times faster than one per line.
        rows = orjson.loads(b"[" + rest.rstrip(b"\n").replace(b"\n", b",") + b"]")
        # tuple.__new__ skips the named tuple's Python-level constructor: a
        # third of the time of reading 100,000 rows.
        files = {row[0]: tuple.__new__(Entry, row[1:]) for row in rows}
        if any(len(entry) != 3 for entry in files.values()):
            raise ValueError("a row is not [file, fingerprint, size, sha256]")
    except (ValueError, KeyError, TypeError):
        return None, data
    return dataclasses.replace(manifest, files=files), data


def _is_own_name(name: object) -> bool:
    """A relative path inside the tree, and not the build's bookkeeping."""
    if not isinstance(name, str) or not name or name.startswith("/") or "\\" in name or "\0" in name:
        return False
    parts = name.split("/")
    return all(part not in {"", ".", ".."} for part in parts) and name not in BOOKKEEPING


def read_pending(out: Path) -> set[str]:
    try:
        names = json.loads((out / PENDING_NAME).read_bytes())
    except FileNotFoundError:
        return set()
    except (OSError, ValueError):
        return set()
    return {name for name in names if _is_own_name(name)} if isinstance(names, list) else set()


# Writing order


def write_order(path: str) -> tuple:
    """Files that others link to go first: article pages and assets, then
    category pages (every feed of a category links to its page), archives
    (newest first, so a next-archive link always resolves), subscription
    feeds, the OPML and the index. The formats of one document sort next to
    each other and are swapped in together."""
    if path.startswith("/articles/"):
        return (0, "", 0, path)
    if path == urls.INDEX_PATH:
        return (5, "", 0, path)
    if path == urls.OPML_PATH:
        return (4, "", 0, path)
    if path.endswith("/"):
        return (1, "", 0, path)
    match = _ARCHIVE_NUMBER.search(path)
    if match:
        return (2, path[: match.start()], -int(match.group(1)), path)
    if path.startswith("/feeds/") and path.rsplit(".", 1)[-1] in urls.FORMATS:
        return (3, "", 0, path)
    return (0, "", 0, path)


# The levels of write_order that readers start from: category pages,
# subscription feeds, the OPML and the index.
ENTRY_LEVELS = (1, 3, 4, 5)


def _document(path: str) -> str:
    """The formats of one feed document share this key."""
    return path.rsplit(".", 1)[0] if path.startswith("/feeds/") else path


# Files


class Tree:
    """The output folder. Files are named relative to it and reached through
    one open folder descriptor, which makes each lookup shorter than a full
    path would, and every write goes to a temporary file that one rename
    puts in place."""

    def __init__(self, out: Path) -> None:
        self.out = out
        try:
            self.fd: int | None = os.open(out, os.O_RDONLY | os.O_DIRECTORY)
        except FileNotFoundError:
            self.fd = None  # a dry run for a folder that does not exist yet
        self._folders: set[str] = {""}
        self._random = random.Random(os.urandom(16))

    def close(self) -> None:
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None

    def size(self, file: str) -> int | None:
        if self.fd is None:
            return None
        try:
            return os.stat(file, dir_fd=self.fd).st_size
        except OSError:
            return None

    def holds(self, file: str, body: bytes) -> bool:
        """Whether the file already holds exactly these bytes."""
        size = self.size(file)
        if size is not None:
            self._folders.add(file.rpartition("/")[0])
        if size != len(body):
            return False
        try:
            handle = os.open(file, os.O_RDONLY | os.O_CLOEXEC, dir_fd=self.fd)
        except OSError:
            return False
        with os.fdopen(handle, "rb") as stream:
            return stream.read() == body

    def stage(self, file: str, body: bytes) -> str:
        """Write `body` to a new temporary file beside `file`; return its name."""
        folder, _, name = file.rpartition("/")
        self._make_folder(folder)
        prefix = f"{folder}/.{name}." if folder else f".{name}."
        while True:
            temporary = f"{prefix}{self._random.getrandbits(32):08x}.tmp"
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
            os.unlink(temporary, dir_fd=self.fd)
            raise
        finally:
            os.close(handle)
        return temporary

    def commit(self, temporary: str, file: str) -> None:
        os.replace(temporary, file, src_dir_fd=self.fd, dst_dir_fd=self.fd)

    def write(self, file: str, body: bytes) -> None:
        self.commit(self.stage(file, body), file)

    def remove(self, file: str) -> None:
        """Delete `file` and the folders that leaves empty."""
        try:
            os.unlink(file, dir_fd=self.fd)
        except (FileNotFoundError, IsADirectoryError):
            return
        folder = file.rpartition("/")[0]
        while folder:
            try:
                os.rmdir(folder, dir_fd=self.fd)
            except OSError:
                return
            self._folders.discard(folder)
            folder = folder.rpartition("/")[0]

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
        self._folders.add(folder)


def remove_temporaries(out: Path, files: Iterable[str]) -> int:
    """Delete the temporary files a killed build left beside `files` and
    beside the bookkeeping files; return how many."""
    names_by_folder: dict[Path, set[str]] = {out: set(BOOKKEEPING)}
    for file in files:
        path = out / file
        names_by_folder.setdefault(path.parent, set()).add(path.name)
    removed = 0
    for folder, names in names_by_folder.items():
        try:
            entries = list(os.scandir(folder))
        except OSError:
            continue
        for entry in entries:
            match = _TEMPORARY.match(entry.name)
            if match and match.group("name") in names:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(entry.path)
                    removed += 1
    return removed


# The export


@dataclass
class Outcome:
    """What one export did, or with `apply` false, would do."""

    added: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    unchanged: int = 0
    rendered: int = 0
    warnings: list[str] = field(default_factory=list)

    @property
    def written(self) -> int:
        return len(self.added) + len(self.changed)

    @property
    def up_to_date(self) -> bool:
        return not (self.added or self.changed or self.removed)


Meter = Callable[[int, int], None]  # (done, total)


def finished_build(out: Path, renderer: str) -> Manifest | None:
    """The manifest header of the last build into `out`, if it finished and
    ran this code with these settings; only then can inputs be compared."""
    if (out / PENDING_NAME).exists():
        return None
    header = read_header(out)
    return header if header is not None and header.renderer == renderer else None


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


def export(
    site,
    out: Path,
    renderer: str,
    inputs: str,
    summary: dict,
    apply: bool = True,
    meter: Meter | None = None,
) -> Outcome:
    """Bring the files under `out` in line with `site` (a feedsvc.site.Site).
    With `apply` false, only report what would change and write nothing."""
    if apply:
        out.mkdir(parents=True, exist_ok=True)
    tree = Tree(out)
    try:
        return _export(site, tree, renderer, inputs, summary, apply, meter)
    finally:
        tree.close()


def _export(site, tree: Tree, renderer: str, inputs: str, summary: dict, apply: bool, meter: Meter | None) -> Outcome:
    outcome = Outcome()
    out = tree.out
    previous, previous_data = read_manifest(out)
    if previous is None and previous_data:
        outcome.warnings.append(
            f"{out / MANIFEST_NAME} is unreadable; every file was compared instead, "
            "and files earlier builds wrote that this one does not could not be removed"
        )
    pending = read_pending(out)
    if apply:
        remove_temporaries(out, pending)
    # The Site's fingerprints cover the renderers' code and the settings,
    # so they are trusted even when other code changed since the last build.
    known = previous.files if previous else {}

    targets = sorted(site.targets(), key=lambda target: write_order(target.path))
    entries, todo = _unchanged(targets, known, pending, tree)
    outcome.unchanged = len(entries)
    produced = {target.file for target in targets}
    # Only names that pass _is_own_name are ever deleted: a damaged manifest
    # must not make a build delete anything outside its folder.
    stale = sorted(name for name in (set(known) | pending) - produced if _is_own_name(name))
    if apply and (todo or stale):
        journal = sorted(pending | {target.file for target in todo} | set(stale))
        tree.write(PENDING_NAME, json.dumps(journal, ensure_ascii=False).encode("utf-8"))

    _render_and_write(site, tree, todo, entries, outcome, apply, meter, len(targets))

    # Nothing links to stale files any more: remove them last.
    for file in stale:
        if os.path.isfile(out / file):
            outcome.removed.append(file)
            if apply:
                tree.remove(file)
    if apply:
        entry_sizes = {t.file: entries[t.file].size for t in targets if write_order(t.path)[0] in ENTRY_LEVELS}
        data = dump_manifest(Manifest(renderer, inputs, dict(summary, files=len(targets)), entry_sizes, entries))
        if data != previous_data:
            tree.write(MANIFEST_NAME, data)
        tree.remove(PENDING_NAME)
    return outcome


def _unchanged(targets: list, known: dict[str, Entry], pending: set[str], tree: Tree) -> tuple[dict[str, Entry], list]:
    """Split the targets, without rendering any, into files left as they
    are (fingerprint unchanged, size on disk as recorded, and not being
    written by a killed build) and files to render."""
    entries: dict[str, Entry] = {}
    todo = []
    for target in targets:
        old = known.get(target.file)
        if old and old.fingerprint == target.fingerprint and tree.size(target.file) == old.size and target.file not in pending:
            entries[target.file] = old
        else:
            todo.append(target)
    return entries, todo


def _render_and_write(
    site, tree: Tree, todo: list, entries: dict[str, Entry], outcome: Outcome, apply: bool, meter: Meter | None, total: int
) -> None:
    """Render `todo` in write order and write what differs from the disk.
    The formats of one document are all staged before any of them is
    renamed into place."""
    done = reported = outcome.unchanged
    for group in _documents(todo):
        staged = []
        for target in group:
            resource = site.render(target.path)
            if resource is None:
                raise FeedsvcError(f"the site lists {target.path} but cannot render it")
            body = resource.body
            outcome.rendered += 1
            entries[target.file] = Entry(target.fingerprint, len(body), hashlib.sha256(body).hexdigest())
            if tree.holds(target.file, body):
                outcome.unchanged += 1
                continue
            (outcome.changed if tree.size(target.file) is not None else outcome.added).append(target.file)
            if apply:
                try:
                    staged.append((tree.stage(target.file, body), target.file))
                except BaseException:
                    # A full disk half-way through a document: the formats
                    # already staged must not linger as temporary files.
                    for temporary, _ in staged:
                        tree.remove(temporary)
                    raise
        for temporary, file in staged:
            tree.commit(temporary, file)
        done += len(group)
        if meter and (done - reported >= 256 or done == total):
            meter(done, total)
            reported = done


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


def output_lock(out: Path) -> FileLock:
    """Held while a build writes `out`, so two builds take turns."""
    out.mkdir(parents=True, exist_ok=True)
    return FileLock(str(out / LOCK_NAME), timeout=600)


# One build


@dataclass
class Build:
    """What `feedsvc build` did, for its summary line."""

    pages_read: int
    pages_skipped: int
    articles: int
    new: int
    changed: int
    problems: list[str]
    outcome: Outcome
    refusal: str | None = None  # with apply false: why a real build would refuse
    fast: bool = False  # nothing was new: the inputs matched the manifest


def build(config: Config, out: Path, now, apply: bool = True, force: bool = False, meter: Meter | None = None) -> Build:
    """Ingest the seeds and export the site under `out`; with `apply`
    false, write nothing at all (neither the ledger nor the tree)."""
    stamps = Stamps(out / STAMPS_NAME)
    renderer = renderer_digest(config)
    header = finished_build(out, renderer)
    # The ledger is hashed beside the pages: hashlib lets go of the GIL.
    ledger_now = _in_background(ledger_digest, config.ledger_path, stamps) if header else None
    pages = pages_digest(config, stamps)  # before the ingest reads them: a page that changes meanwhile only costs a rebuild
    if header and ledger_now and header.inputs == inputs_digest(pages, ledger_now()) and entry_files_in_place(out, header):
        if apply:
            stamps.save()
        return _unchanged_build(header)
    result, ledger = guarded_ingest(config, now, force, apply, stamps)
    # Imported here: the renderers' libraries cost more than an up-to-date build.
    from feedsvc.site.model import Site

    site = Site.from_ingest(config, result)
    summary = {
        "pages_read": result.pages_read,
        "pages_skipped": result.pages_skipped,
        "articles": site.article_count,
        "problems": [str(problem) for problem in result.problems],
    }
    outcome = export(site, out, renderer, inputs_digest(pages, ledger), summary, apply, meter)
    if apply:
        stamps.save()
    return Build(
        pages_read=result.pages_read,
        pages_skipped=result.pages_skipped,
        articles=site.article_count,
        new=len(result.new),
        changed=len(result.changed),
        problems=summary["problems"],
        outcome=outcome,
        refusal=None if apply else refusal(result, config.max_new_articles),
    )


def _in_background(function: Callable[..., T], *args: object) -> Callable[[], T]:
    """Start `function(*args)` in a thread; the returned call waits for its
    result, or raises its error."""
    outcome: dict[str, object] = {}

    def run() -> None:
        try:
            outcome["value"] = function(*args)
        except BaseException as error:  # handed to the caller
            outcome["error"] = error

    thread = threading.Thread(target=run, daemon=True)
    thread.start()

    def result() -> T:
        thread.join()
        if "error" in outcome:
            raise outcome["error"]  # type: ignore[misc]
        return outcome["value"]  # type: ignore[return-value]

    return result


def _unchanged_build(header: Manifest) -> Build:
    summary = header.summary
    outcome = Outcome(unchanged=int(summary.get("files", 0)))
    return Build(
        pages_read=int(summary.get("pages_read", 0)),
        pages_skipped=int(summary.get("pages_skipped", 0)),
        articles=int(summary.get("articles", 0)),
        new=0,
        changed=0,
        problems=list(summary.get("problems", [])),
        outcome=outcome,
        fast=True,
    )
