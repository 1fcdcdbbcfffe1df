"""Fingerprints: for every URL of the site, a cheap string that changes
whenever the document's bytes could change. The export compares them with
the last build's and renders only the documents whose fingerprint moved.
They cover the renderers' code and the settings that reach the bytes."""

from __future__ import annotations

import functools
import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Iterator

from feedsvc.config import Config, published_settings
from feedsvc.core.models import Article, TopicKey
from feedsvc.core.publish import FeedKey
from feedsvc.site import routes as urls

if TYPE_CHECKING:
    from feedsvc.site.model import Site


@dataclass(frozen=True)
class Target:
    """One URL of the site, the file the export writes it to, and its fingerprint."""

    path: str
    file: str
    fingerprint: str


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


def article_digest(a: Article) -> str:
    """Every field of an article that a renderer may show. This runs for
    every article of the site, so it is one formatted string, and times go
    in as timestamps (the ledger keeps them all in UTC)."""
    fields = (
        f"{a.id}\x1f{a.iri}\x1f{a.seq}\x1f{a.title}\x1f{a.summary}\x1f{a.category}\x1f{a.category_slug}"
        f"\x1f{a.published.timestamp()}\x1f{a.updated.timestamp()}\x1f{a.first_seen.timestamp()}"
        f"\x1f{a.date_source}\x1f{a.page_date}\x1f{a.pages}"
    )
    return hashlib.sha1(fields.encode("utf-8")).hexdigest()[:20]


def config_digest(config: Config) -> str:
    return digest(render_version(), repr(published_settings(config)))


class Fingerprints:
    """The targets of one site, with each article digested once."""

    def __init__(self, site: "Site") -> None:
        self.site = site
        self.base = config_digest(site.config)
        self.articles = {article.id: article_digest(article) for article in site.articles}

    def members(self, articles: list[Article]) -> str:
        return digest(*[self.articles[a.id] for a in articles])

    def targets(self) -> Iterator[Target]:
        site, base = self.site, self.base
        infos = site.category_infos()
        counts = [f"{c.slug}={c.name}={c.count}" for c in infos]
        topic_infos = site.topic_infos()
        topics = [f"topic:{t.slug}={t.name}" for t in topic_infos]
        topic_counts = [f"topic:{t.slug}={t.name}={t.count}" for t in topic_infos]
        yield _target(urls.INDEX_PATH, digest(base, "index", self.members(site.feed(None).subscription), *counts, *topic_counts))
        yield _target(urls.STYLESHEET_PATH, digest(base, "css"))
        yield _target(urls.SCRIPT_PATH, digest(base, "js"))
        yield _target(urls.OPML_PATH, digest(base, "opml", *[f"{c.slug}={c.name}" for c in infos], *topics))
        for key in [None, *site.names, *map(TopicKey, sorted([*site.topics, *site.retired]))]:
            yield from self._feed_targets(key)
        for article in site.articles:
            yield _target(urls.article_path(article.id), base + self.articles[article.id])

    def _feed_targets(self, key: FeedKey) -> Iterator[Target]:
        site, base = self.site, self.base
        feed = site.feed(key)
        subscription = self.members(feed.subscription)
        tombstones = "\x1e".join(f"{w.iri}@{w.when.isoformat()}" for w in feed.tombstones)
        departed = feed.departed
        name = str(site.name(key))
        links = f"{name}/{len(feed.archives)}/{feed.newest_archive}/{departed and departed.isoformat()}"
        if not feed.subscription and not feed.tombstones:
            links += "/" + site.updated.isoformat()  # an empty feed takes the site's time
        for fmt in urls.FORMATS:
            yield _target(urls.feed_path(key, fmt), digest(base, fmt, str(key), subscription, tombstones, links))
        for number, block in enumerate(feed.archives, 1):
            has_next = number < len(feed.archives)
            members = self.members(block) if block else self.members(feed.archives[number - 2])
            for fmt in urls.ARCHIVE_FORMATS:
                fingerprint = digest(base, fmt, str(key), name, str(number), str(has_next), members, str(departed))
                yield _target(urls.archive_path(key, number, fmt), fingerprint)
        if key is not None:
            page = digest(base, "page", str(key), name, str(site.count(key)), subscription)
            yield _target(urls.html_path(key), page)


def _target(path: str, fingerprint: str) -> Target:
    return Target(path, urls.file_for(path), fingerprint)
