"""Fingerprints: for every URL of the site, a cheap string that changes
whenever the document's bytes could change. The export compares them with
the last build's and renders only the documents whose fingerprint moved.
They cover the renderers' code and the settings that reach the bytes."""

from __future__ import annotations

import functools
import hashlib
import itertools
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterable, Iterator

from feedsvc.config import Config, published_settings
from feedsvc.core.models import Article, TopicKey
from feedsvc.core.publish import FeedKey, article_digest
from feedsvc.site import routes as urls

if TYPE_CHECKING:
    from feedsvc.site.model import Site


@dataclass(frozen=True, slots=True)
class Target:
    """One URL of the site, the file the export writes it to, and its
    fingerprint. Slotted: a build lists one per article page."""

    path: str
    file: str
    fingerprint: str
    archive: tuple[str, int] | None = None  # (feed, number) of an archive document


@functools.cache
def render_version() -> str:
    """A digest of the code and data that shape the bytes (this package's
    site/ folder and feedgen's version), so fingerprints change whenever a
    renderer, a template or a library that renders changes."""
    import feedgen.version

    digest = hashlib.sha256(repr(feedgen.version.version_full).encode())
    folder = Path(__file__).resolve().parent
    for path in sorted(folder.rglob("*")):
        if path.is_file() and "__pycache__" not in path.parts:
            digest.update(path.relative_to(folder).as_posix().encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:16]


def digest(*parts: str) -> str:
    return hashlib.sha1("\x1f".join(parts).encode("utf-8")).hexdigest()[:20]


def config_digest(config: Config) -> str:
    return digest(render_version(), repr(published_settings(config)))


class Fingerprints:
    """The targets of one site: the documents, each with a fingerprint
    from its members' digests, and the article pages, each from its own.
    Digests come from the catalog: a stored article's is its line's."""

    def __init__(self, site: "Site", earlier: "Earlier | None" = None) -> None:
        self.site = site
        self.base = config_digest(site.config)
        self.earlier = earlier
        # (feed, archive number) -> (first rank, rank after the last, a
        # digest of the archive's members), and feed -> a digest of what
        # else reaches its archives' bytes: for the next build to start
        # from (see Earlier). With `earlier`, a feed's blocks start after
        # those it vouches for unread (see _archive_members).
        self.blocks: dict[tuple[str, int], Block] = {}
        self.contexts: dict[str, str] = {}
        self.archive_counts: dict[str, int] = {}  # feed -> how many archives it has
        # feed -> how many of its oldest archives `documents` left out:
        # their bytes are the last build's (see Earlier).
        self.kept: dict[str, int] = {}

    def targets(self) -> Iterator[Target]:
        yield from self.documents()
        yield from self.article_pages()

    def article_pages(self, ids: Iterable[str] | None = None) -> Iterator[Target]:
        """Every article page, or those of `ids` the site publishes."""
        for article_id, article in self.site.catalog.article_digests(ids):
            yield _target(urls.article_path(article_id), self.base + article)

    def documents(self) -> Iterator[Target]:
        """Every target but the article pages: a few per feed and archive."""
        site, base = self.site, self.base
        infos = site.category_infos()
        counts = [f"{c.slug}={c.name}={c.count}" for c in infos]
        topic_infos = site.topic_infos()
        topics = [f"topic:{t.slug}={t.name}" for t in topic_infos]
        topic_counts = [f"topic:{t.slug}={t.name}={t.count}" for t in topic_infos]
        yield _target(urls.INDEX_PATH, digest(base, "index", _members(site.feed(None).subscription), *counts, *topic_counts))
        yield _target(urls.STYLESHEET_PATH, digest(base, "css"))
        yield _target(urls.SCRIPT_PATH, digest(base, "js"))
        yield _target(urls.OPML_PATH, digest(base, "opml", *[f"{c.slug}={c.name}" for c in infos], *topics))
        for key in [None, *site.names, *map(TopicKey, sorted([*site.topics, *site.retired]))]:
            yield from self._feed_targets(key)

    def _feed_targets(self, key: FeedKey) -> Iterator[Target]:
        site, base = self.site, self.base
        feed = site.feed(key)
        subscription = _members(feed.subscription)
        tombstones = "\x1e".join(f"{w.iri}@{w.when.isoformat()}" for w in feed.tombstones)
        departed = feed.departed
        name = str(site.name(key))
        links = f"{name}/{len(feed.archives)}/{feed.newest_archive}/{departed and departed.isoformat()}"
        if not feed.subscription and not feed.tombstones:
            links += "/" + site.updated.isoformat()  # an empty feed takes the site's time
        for fmt in urls.FORMATS:
            yield _target(urls.feed_path(key, fmt), digest(base, fmt, str(key), subscription, tombstones, links))
        feed_name = str(key)
        # All that reaches an archive's bytes besides its number, its next
        # archive and its members.
        context = self.contexts[feed_name] = digest(base, feed_name, name, str(departed))
        same_context = self.earlier is not None and self.earlier.contexts.get(feed_name) == context
        first, blocks, reused, following = self._archive_members(key, feed, same_context)
        kept = self.kept[feed_name] = self._kept(same_context, reused, following, len(feed.archives))
        self.archive_counts[feed_name] = len(feed.archives)
        for number, block in enumerate(blocks, first):
            self.blocks[(feed_name, number)] = block
            if number <= kept:
                continue
            members = block[2]
            has_next = number < len(feed.archives)
            for fmt in urls.ARCHIVE_FORMATS:
                fingerprint = digest(context, fmt, str(number), str(has_next), members)
                yield _target(urls.archive_path(key, number, fmt), fingerprint, (feed_name, number))
        if key is not None:
            page = digest(base, "page", str(key), name, str(site.count(key)), subscription)
            yield _target(urls.html_path(key), page)

    @staticmethod
    def _kept(same_context: bool, reused: int, following: bool, archives: int) -> int:
        """How many of the feed's oldest archives are byte for byte the last
        build's: their members are (`reused`, see _archive_members), and so
        is every other part of their fingerprint: the feed's context
        (`same_context`), their number, and a next archive after each, then
        (`following`: the last build knew an archive after the reused ones)
        and now."""
        if not same_context:
            return 0
        kept = reused if following else reused - 1
        return max(0, min(kept, archives - 1))

    def _archive_members(self, key: FeedKey, feed, same_context: bool) -> tuple[int, list["Block"], int, bool]:
        """Each archive's span of ranks and a digest of its members, from
        the first archive whose block the last build's rows must be read
        for; how many of them, from the oldest, are the last build's; and
        whether the last build knew an archive after those.

        An archive that spans the same ranks as at the last build, all
        before the earliest change since, keeps the last build's digest;
        the others are digested from one read of the feed's digests from
        the first of them on: no archive's articles are read to fingerprint
        it. When the feed's context is the last build's (`same_context`),
        so are the feed and archive sizes, and the archives full of
        articles ranked before the earliest change were full then too:
        those are vouched for without reading their rows, so a one-page
        build costs the newest archives, not every one."""
        archives = feed.archives
        recorded = self.site.catalog.recorded(key)
        earlier = self.earlier
        same, trusted, rows = 0, 0, {}
        if earlier is not None:
            same = len(recorded) if earlier.since is None else recorded.rank(earlier.since)
            if same_context:
                trusted = max(0, same - self.site.config.feed_size) // self.site.config.archive_size
            rows = earlier.archives(str(key), trusted + 1)
        first = trusted + 1
        spans = [archives.span(index) for index in range(trusted, len(archives))]
        if spans and spans[-1][0] == spans[-1][1]:
            spans[-1] = archives.span(len(archives) - 2)  # the empty archive after a full block shows that block's time
        blocks: list[Block] = []
        for number, (start, stop) in enumerate(spans, first):
            block = rows.get(number)
            if stop > same or block is None or block[:2] != (start, stop):
                break
            blocks.append(block)
        reused = trusted + len(blocks)
        if len(blocks) < len(spans):
            rest = spans[len(blocks) :]
            blocks += _digested(rest, recorded.digests(rest[0][0], max(stop for _, stop in rest)))
        return first, blocks, reused, reused + 1 in rows


@dataclass(frozen=True)
class Earlier:
    """What the last build into the same folder knew of the archives: each
    feed's context, the lowest seq written since (None: no article was),
    and `archives(feed, first)`, the members digest of each of the feed's
    archives from number `first` on, by number. Within one generation of
    the store an archive whose articles all come before that seq holds
    the same articles, unchanged; when its feed's context is unchanged too
    and it was and is followed by another archive, so are its bytes, and
    the build need not even list it."""

    archives: Callable[[str, int], dict[int, "Block"]]
    since: int | None
    contexts: dict[str, str]


# An archive's first rank, the rank after its last, and a digest of its members.
Block = tuple[int, int, str]


def _digested(spans: list[tuple[int, int]], digests: Iterator[str]) -> list[Block]:
    """Each span's block, from its articles' digests read once in rank
    order: the spans lie side by side, and one that repeats the span
    before it is the empty archive after a full block."""
    blocks: list[Block] = []
    for begin, stop in spans:
        if blocks and blocks[-1][:2] == (begin, stop):
            blocks.append(blocks[-1])
        else:
            blocks.append((begin, stop, digest(*itertools.islice(digests, stop - begin))))
    return blocks


def _members(articles: list[Article]) -> str:
    return digest(*map(article_digest, articles))


def _target(path: str, fingerprint: str, archive: tuple[str, int] | None = None) -> Target:
    return Target(path, urls.file_for(path), fingerprint, archive)
