"""Find the page files in the seeds folder and decode them: UTF-8 with or
without a BOM, CRLF or LF, and Windows-1252 for any line that is not UTF-8.
An HTML page is decoded by its BOM, then its `<meta charset>`, then as a
text page is."""

from __future__ import annotations

import codecs
import contextlib
import hashlib
import os
import re
from operator import attrgetter
from pathlib import Path
from typing import NamedTuple

from feedsvc.errors import SeedsError
from feedsvc.core.models import UNNUMBERED, Page, Problem

_NUMBER = re.compile(r"^(\d+)")
PAGE_SUFFIXES = (".txt", ".html", ".htm")
HTML_SUFFIXES = (".html", ".htm")
_BOMS = ((codecs.BOM_UTF8, "utf-8"), (codecs.BOM_UTF16_LE, "utf-16-le"), (codecs.BOM_UTF16_BE, "utf-16-be"))
# The charset a page declares, in its first few kilobytes as browsers look.
_META_CHARSET = re.compile(rb"<meta[^>]*?charset\s*=\s*[\"']?\s*([A-Za-z0-9_.:-]+)", re.IGNORECASE)
_CHARSET_WINDOW = 4096
# Bytes that are not UTF-8 (decoded by the OS as lone surrogates) and control characters.
_UNFIT_NAME = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff]")


class PageFile(NamedTuple):
    """A candidate page on disk, before it is read. A seeds folder may hold
    tens of thousands, listed by every run: a tuple of strings, no Path."""

    location: str  # its absolute path
    name: str
    stat: os.stat_result  # as listed: a page's stamp (store.stamps) is checked against it

    @classmethod
    def at(cls, path: Path, stat: os.stat_result) -> "PageFile":
        return cls(os.path.abspath(path), path.name, stat)

    @property
    def size(self) -> int:
        return self.stat.st_size


def list_pages(seeds: Path) -> list[PageFile]:
    """Every `*.txt`, `*.html` and `*.htm` file directly in `seeds`, sorted
    by name, so the order of files on disk never matters."""
    if not seeds.is_dir():
        raise SeedsError(f"seeds folder {seeds} does not exist or is not a folder; pass --seeds DIR")
    found = []
    try:
        with os.scandir(os.path.abspath(seeds)) as entries:
            # One stat per page: a large seeds folder is listed by every run.
            for entry in entries:
                if is_page_name(entry.name) and entry.is_file():
                    with contextlib.suppress(OSError):  # gone since the listing
                        found.append(PageFile(entry.path, entry.name, entry.stat()))
    except OSError as error:
        raise SeedsError(f"cannot list the seeds folder {seeds}: {error.strerror}") from None
    return sorted(found, key=attrgetter("name"))


def is_page_name(name: str) -> bool:
    """Whether a file of this name in the seeds folder is a page."""
    return name.endswith(PAGE_SUFFIXES) and not name.startswith(".")


def page_number(name: str) -> int:
    """The listing position a file name claims: `004_x.txt` is page 4."""
    match = _NUMBER.match(name)
    return int(match.group(1)) if match else UNNUMBERED


def read_page(page: PageFile, max_bytes: int) -> tuple[Page | None, Problem | None]:
    """Read and decode one page, or say why it cannot be used."""
    data, problem = read_bytes(page, max_bytes)
    return (None, problem) if data is None else decode_page(page.name, data)


def read_bytes(page: PageFile, max_bytes: int) -> tuple[bytes | None, Problem | None]:
    """One page's bytes, or why it cannot be used."""
    name = page.name
    if _UNFIT_NAME.search(name):
        # Such a name could not be written to the ledger or printed safely.
        shown = name.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
        shown = _UNFIT_NAME.sub(lambda match: ascii(match.group())[1:-1], shown)
        return None, Problem(shown, "skipped: the file name is not valid UTF-8 or holds control characters; rename the file")
    if page.size > max_bytes:
        return None, Problem(name, f"skipped: {page.size} bytes is over the {max_bytes}-byte page limit")
    try:
        with open(page.location, "rb") as handle:
            data = handle.read(max_bytes + 1)
    except OSError as error:
        return None, Problem(name, f"skipped: cannot read it: {error.strerror}")
    if len(data) > max_bytes:
        return None, Problem(name, f"skipped: over the {max_bytes}-byte page limit")
    return data, None


def is_html(name: str) -> bool:
    return name.endswith(HTML_SUFFIXES)


def decode_page(name: str, data: bytes) -> tuple[Page | None, Problem | None]:
    if not data.strip():
        return None, Problem(name, "skipped: the page is empty")
    if is_html(name):
        return decode_html(name, data), None
    if b"\x00" in data:
        return None, Problem(name, "skipped: binary file (it contains NUL bytes)")
    sha = hashlib.sha256(data).hexdigest()
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    return Page(name, page_number(name), sha, decode_text(data)), None


def decode_html(name: str, data: bytes) -> Page:
    """An HTML page's text: its BOM says the encoding, else its `<meta
    charset>`, else it is read as a text page is (UTF-8, Windows-1252 for
    a line that is not)."""
    sha = hashlib.sha256(data).hexdigest()
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            return Page(name, page_number(name), sha, data[len(bom) :].decode(encoding, errors="replace"))
    declared = _META_CHARSET.search(data[:_CHARSET_WINDOW])
    encoding = _known_encoding(declared.group(1).decode("ascii")) if declared else None
    if encoding and encoding not in ("utf-8", "utf-16-le", "utf-16-be", "utf-16"):
        text = data.decode(encoding, errors="replace")
    else:  # a page saved as UTF-16 declares it, but its bytes say otherwise
        text = decode_text(data)
    return Page(name, page_number(name), sha, text.replace("\x00", ""))


def _known_encoding(label: str) -> str | None:
    try:
        name = codecs.lookup(label).name
    except LookupError:
        return None
    # As browsers do: a page that says Latin-1 is read as Windows-1252.
    return "cp1252" if name in ("latin-1", "iso8859-1", "ascii") else name


# What surrogateescape turns each byte that is not UTF-8 into.
_ESCAPED = re.compile("[\udc80-\udcff]")


def decode_text(data: bytes) -> str:
    """The page's text with LF line ends, each line decoded as `decode_line`
    does, without splitting the page into a list of lines: a page of
    millions of short lines would cost dozens of times its size in memory."""
    text = data.decode("utf-8", errors="surrogateescape").replace("\r\n", "\n").replace("\r", "\n")
    text = text[:-1] if text.endswith("\n") else text
    if data.isascii() or not _ESCAPED.search(text):  # ASCII: nothing escaped, no regex pass
        return text
    parts, done = [], 0
    for match in _ESCAPED.finditer(text):
        if match.start() < done:
            continue  # on a line already decoded
        start = text.rfind("\n", 0, match.start()) + 1
        end = text.find("\n", match.start())
        end = len(text) if end < 0 else end
        parts += [text[done:start], decode_line(text[start:end].encode("utf-8", errors="surrogateescape"))]
        done = end
    parts.append(text[done:])
    return "".join(parts)


def decode_line(line: bytes) -> str:
    """UTF-8, or Windows-1252 when the line is not valid UTF-8, so that one
    stray byte garbles one line and not every other title on the page."""
    try:
        return line.decode("utf-8")
    except UnicodeDecodeError:
        return line.decode("cp1252", errors=_LATIN1_FALLBACK)


def _as_latin1(error: UnicodeDecodeError) -> tuple[str, int]:
    # The five bytes Windows-1252 leaves undefined become Latin-1 C1
    # controls, which text cleanup then removes.
    undefined = error.object[error.start : error.end]
    return bytes(undefined).decode("latin-1"), error.end


_LATIN1_FALLBACK = "feedsvc-latin1"
codecs.register_error(_LATIN1_FALLBACK, _as_latin1)
