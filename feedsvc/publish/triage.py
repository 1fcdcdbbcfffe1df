"""One build's files sorted three ways: those to render, those left as
they are (fingerprint and size as the manifest recorded them), and those
to remove (written by an earlier or a killed build, and published no
more). A full build meets a file per article: it streams them in batches
and asks the manifest and the store about each batch, holding none of
them whole."""

from __future__ import annotations

import itertools
from typing import TYPE_CHECKING, Callable, Iterator

from feedsvc.publish import writing
from feedsvc.publish.manifest import Books, Entry, Rows, is_own_name
from feedsvc.publish.tree import Tree
from feedsvc.site import routes as urls

if TYPE_CHECKING:
    from feedsvc.publish.export import Outcome


class Files:
    """The files of one export as it meets them: each one's manifest row,
    the outcome's counts and the progress meter, and how many article
    pages it looked at and how many of those the manifest did not list."""

    def __init__(self, rows: Rows, outcome: Outcome, progress: writing.Progress) -> None:
        self.rows, self.outcome, self.progress = rows, outcome, progress
        self.pages = 0
        self.unlisted = 0

    def kept(self, file: str, entry: Entry) -> None:
        """A file left as it is."""
        self.rows.add(file, entry)
        self.progress.add()

    def written(self, file: str, entry: Entry, state: str) -> None:
        """A file rendered, and written or staged when its bytes differ."""
        self.rows.add(file, entry)
        self.outcome.note(file, state)
        self.progress.add()


def pages_to_render(pages: Iterator, books: Books, pending: set[str], tree: Tree, files: Files) -> Iterator[list]:
    """The article pages to render, a batch at a time: each batch of
    `pages` less those left as they are (see unchanged)."""
    while batch := list(itertools.islice(pages, writing.BATCH_FILES)):
        known = books.entries(target.file for target in batch)
        files.pages += len(batch)
        files.unlisted += sum(target.file not in known for target in batch)
        todo = unchanged(batch, known, pending, tree, files.kept)
        if todo:
            yield todo


def stale(site, books: Books, documents: list, recorded: dict[str, Entry], pending: set[str], changed: dict[str, int] | None) -> tuple[list[str], int]:
    """What the last build or a killed one wrote that this one does not,
    in name order, and how many of those the manifest lists. Only names
    that pass is_own_name are ever deleted: a damaged manifest must not
    make a build delete anything outside its folder."""
    produced = {target.file for target in documents}
    listed = set(recorded) - produced
    for chunk in books.page_files(None if changed is None else map(_page_file, changed)):
        listed.update(_unpublished(site, chunk))
    pages = {name for name in pending if _is_page(name)}
    written_before = (pending - pages - produced) | _unpublished(site, list(pages))
    stale = sorted(name for name in listed | written_before if is_own_name(name))
    return stale, sum(name in listed for name in stale)


def _is_page(file: str) -> bool:
    route = urls.match(urls.path_for(file))
    return route is not None and route.kind == "article"


def _unpublished(site, pages: list[str]) -> set[str]:
    """Those of `pages` (article pages' files) whose article the site does not publish."""
    by_article = {urls.match(urls.path_for(file)).id: file for file in pages}
    published = {article for article, _ in site.catalog.article_digests(by_article)}
    return {file for article, file in by_article.items() if article not in published}


def unchanged(targets: list, known: dict[str, Entry], pending: set[str], tree: Tree, keep: Callable[[str, Entry], None]) -> list:
    """The targets to render: all but the files left as they are
    (fingerprint unchanged, size on disk as recorded, and not being written
    by a killed build), whose rows go to `keep` as they stand."""
    todo = []
    for target in targets:
        old = known.get(target.file)
        if old and old.fingerprint == target.fingerprint and tree.size(target.file) == old.size and target.file not in pending:
            keep(target.file, old)
        else:
            todo.append(target)
    return todo


def _page_file(article_id: str) -> str:
    return urls.file_for(urls.article_path(article_id))
