"""Validate an exported tree the way a strict feed validator would: every
feed document on its own (`validate`: Atom against RFC 4287, RSS 2.0,
JSON Feed 1.1, OPML), ids equal across the formats of one feed, and every
link into the site resolving to a file of the tree. The tree of several
sites (`feedsvc build --sites`) is checked site by site, each under its
own base URL, and the root's OPML against all of them. Reads files only;
writes nothing."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote, urljoin, urlsplit, urlunsplit

from lxml import etree

from feedsvc.core.models import Problem
from feedsvc.publish.validate import (  # noqa: F401 - the validators, as fuzz/run.py calls them
    Document,
    atom_schema,
    check_atom,
    check_file,
    check_json_feed,
    check_opml,
    check_rss,
    self_href,
)
from feedsvc.site import routes as urls

FEED_SUFFIXES = (".atom", ".rss", ".json", ".opml")
# A folder of the tree holds a site when its overall feed is there.
SITE_MARK = urls.file_for(urls.feed_path(None, "atom"))


@dataclass
class Report:
    problems: list[Problem] = field(default_factory=list)
    documents: int = 0
    base: str | None = None  # the base URL the links were checked against


def check_tree(root: Path, base_url: str | None = None, bases: dict[str, str] | None = None) -> Report:
    """Every problem found in the feeds under `root`: the tree of one site,
    or of several (a subfolder per site, found by its overall feed, and the
    root's OPML). Each site's base URL is `bases[name]` when given (from
    the settings), else `base_url` + `name/`, else read off its own feeds."""
    sites = site_folders(root)
    if not sites and not bases:
        return _check_site(root, base_url, _feed_files(root))
    report = Report()
    found: dict[str, str] = {}  # a site's folder in the tree, with its slash -> its base URL
    for name in sites:
        given = (bases or {}).get(name) or (base_url.rstrip("/") + f"/{name}/" if base_url else None)
        checked = _check_site(root / name, given, _feed_files(root / name))
        report.documents += checked.documents
        report.problems += [Problem(f"{name}/{p.source}".removesuffix("/."), p.message, p.line) for p in checked.problems]
        if checked.base:
            found[f"{name}/"] = checked.base
    for name in sorted(set(bases or {}) - set(sites) - {""}):
        report.problems.append(Problem(name, f"the site {name} is not in the tree (no {name}/{SITE_MARK}); build it"))
    own = [file for file in _feed_files(root) if file.split("/", 1)[0] not in sites]
    if (root / SITE_MARK).is_file():
        # A site mounted at the root: its links reach the other sites' folders too.
        checked = _check_site(root, (bases or {}).get("") or base_url, own)
        report.documents += checked.documents
        report.problems += checked.problems
    else:
        _check_root(root, own, found, report)
    return report


def site_folders(root: Path) -> list[str]:
    """The subfolders of `root` that hold a site, sorted."""
    try:
        entries = sorted(os.scandir(root), key=lambda entry: entry.name)
    except OSError:
        return []
    return [entry.name for entry in entries if not entry.name.startswith(".") and os.path.isfile(os.path.join(entry.path, SITE_MARK))]


def _check_site(root: Path, base_url: str | None, files: list[str]) -> Report:
    """One site's documents, `files` under `root`, and their links."""
    report = Report()
    parsed, one_line = _check_documents(root, files, report)
    base = base_url.rstrip("/") + "/" if base_url else _discover_base(root, files)
    _check_formats_agree(parsed, report.problems)
    if base is None:
        if any(document.links for document in parsed.values()):  # (an empty list of sites links nowhere)
            report.problems.append(
                Problem(".", "cannot tell the tree's base URL: no Atom feed has a self link ending in its own path; pass --base-url")
            )
    else:
        _check_links(root, base, parsed, report.problems)
    report.base = base
    # In a document written on one line, line numbers say nothing.
    report.problems = [Problem(p.source, p.message) if p.source in one_line else p for p in report.problems]
    return report


def _check_documents(root: Path, files: list[str], report: Report) -> tuple[dict[str, Document], set[str]]:
    parsed: dict[str, Document] = {}
    one_line: set[str] = set()
    for file in files:
        problems: list[Problem] = []
        data = (root / file).read_bytes()
        document = check_file(file, data, problems)
        if data.count(b"\n") < 3:
            one_line.add(file)
        report.problems += problems
        report.documents += 1
        if document is not None:
            parsed[file] = document
    return parsed, one_line


def _check_root(root: Path, files: list[str], sites: dict[str, str], report: Report) -> None:
    """The root's own documents (the OPML of every site): each link must
    be a file of the site whose base URL it starts with."""
    parsed, _ = _check_documents(root, files, report)
    # The longest base first: a site's own base URL may lie under another's.
    ordered = sorted(sites.items(), key=lambda pair: len(pair[1]), reverse=True)
    for file, document in parsed.items():
        for what, url, line in document.links:
            target = next((folder + found for folder, base in ordered if (found := file_for_url(base, url)) is not None), None)
            if target is None:
                report.problems.append(Problem(file, f"{what} {url!r} is not under the base URL of any site of the tree", line))
            elif not (root / target).is_file():
                report.problems.append(Problem(file, f"{what} {url!r} does not resolve to a file of the tree ({target} is missing)", line))


def _feed_files(root: Path) -> list[str]:
    """Feed and OPML files under `root`, relative, sorted; dot-files and
    dot-folders (the export's bookkeeping) are not published."""
    found = []
    for folder, folders, names in os.walk(root):
        folders[:] = sorted(f for f in folders if not f.startswith("."))
        relative = Path(folder).relative_to(root)
        for name in names:
            if name.endswith(FEED_SUFFIXES) and not name.startswith("."):
                found.append((relative / name).as_posix())
    return sorted(found)


# Across documents


def _check_formats_agree(documents: dict[str, Document], problems: list[Problem]) -> None:
    """The Atom, RSS and JSON forms of one feed list the same ids."""
    by_stem: dict[str, list[Document]] = {}
    for file, document in documents.items():
        if not file.endswith(".opml"):
            by_stem.setdefault(file.rsplit(".", 1)[0], []).append(document)
    for group in by_stem.values():
        first = group[0]
        for other in group[1:]:
            missing = sorted(set(first.ids) - set(other.ids))
            extra = sorted(set(other.ids) - set(first.ids))
            if missing or extra:
                detail = "; ".join(
                    part
                    for part in (
                        f"{len(missing)} id(s) of {first.file} missing, e.g. {missing[0]!r}" if missing else "",
                        f"{len(extra)} id(s) not in {first.file}, e.g. {extra[0]!r}" if extra else "",
                    )
                    if part
                )
                problems.append(Problem(other.file, f"ids differ from the other format of this feed: {detail}"))


def _discover_base(root: Path, files: list[str]) -> str | None:
    """The URL the tree is served from, read off an Atom feed whose self
    link ends with the feed's own path."""
    for file in files:
        if not file.endswith(".atom"):
            continue
        try:
            feed = etree.parse(str(root / file), etree.XMLParser(resolve_entities=False, no_network=True)).getroot()
        except (etree.XMLSyntaxError, OSError):
            continue
        href = self_href(feed)
        if href.endswith("/" + file):
            return href[: -len(file)]
    return None


def _source_link(root: Path, base: str, url: str) -> bool:
    """Whether `url` is an original article on another host: entries link
    there when the page gave the source. A link to the site's own host
    outside its base, or to one of the site's own files on another host,
    is still an error (a wrong base URL)."""
    site, target = urlsplit(base), urlsplit(url)
    if target.scheme not in ("http", "https") or not target.netloc or target.netloc == site.netloc:
        return False
    moved = file_for_url(base, urlunsplit((site.scheme, site.netloc, target.path, target.query, "")))
    return moved is None or not (root / moved).exists()


def _check_links(root: Path, base: str, documents: dict[str, Document], problems: list[Problem]) -> None:
    for file, document in documents.items():
        own_url = base + file
        for what, url, line in document.links:
            absolute = urljoin(own_url, url)
            if what.endswith("rel=self") and absolute != own_url:
                problems.append(Problem(file, f"{what} {url!r} is not this file's own URL {own_url!r}", line))
                continue
            target = file_for_url(base, absolute)
            if target is None:
                if (what in {"entry link", "item link"} or what.endswith(" url")) and not _source_link(root, base, absolute):
                    problems.append(Problem(file, f"{what} {url!r} is outside the site {base!r}", line))
                continue
            if not (root / target).is_file():
                problems.append(Problem(file, f"{what} {url!r} does not resolve to a file of the tree ({target} is missing)", line))


def file_for_url(base: str, url: str) -> str | None:
    """The file of the tree that answers `url`, or None when the URL is
    not under `base`."""
    if not url.startswith(base):
        return None
    path = "/" + unquote(urlsplit(url[len(base) - 1 :]).path.lstrip("/"))
    if ".." in path.split("/"):
        return None
    return urls.file_for(path)
