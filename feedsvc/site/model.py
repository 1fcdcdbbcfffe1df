"""The site: every URL feedsvc publishes, which articles each document
holds, and its bytes. The server and the static export both ask this
object, so they publish the same thing at the same paths.

Which articles go where:
- A feed is the whole site or one category. Its subscription document
  holds the newest `feed_size` articles by `seq`, the permanent order in
  which articles were first recorded: an article first seen today reaches
  subscribers even when its page dates it years back. Entries are shown
  newest first by (published, seq).
- An edit to an article outside that window must still reach subscribers
  (RFC 5005: the most recently updated copy of an entry wins), so the
  subscription document also holds every older article edited after
  publication whose change is within `edit_window_days` of the feed's
  newest change.
- Every other article of the feed goes into RFC 5005 archives, in `seq`
  order, cut into blocks of `archive_size`: archive 1 is the oldest block.
  Since `seq` never changes, a full block never gains or loses an article.
  A full block always links to the next one, so once the newest block is
  full an empty next archive is published and the link is never dangling.
  (A takedown, or an edit that moves an article to another category, takes
  an article out of its old place and shifts the blocks after it.)
- Withdrawn articles appear nowhere. The Atom subscription feeds of the
  site and of the article's category carry an RFC 6721 deleted-entry for
  every withdrawal within `edit_window_days` of the feed's newest change.
- A feed's `updated` (RSS lastBuildDate, HTTP Last-Modified) is the newest
  change of the entries in that document (the moment each was first seen,
  or edited), or the `when` of a deleted-entry in it; never the clock. A
  document with neither takes the newest change of the whole site (1970
  when there is none), so the same data always gives the same bytes.
  A page may date an article in the future; that date is its publication
  date, not a change, so it never pushes a feed's timestamp ahead of the
  moments things really happened (see `recorded_change`).

Rendering is lazy and memoized: each article's entry is rendered once and
kept; subscription feeds and pages are kept once rendered; archives and
article pages go through small caches, so a long-running server holding a
large site renders only what is asked for.
"""

from __future__ import annotations

import datetime as dt
import dataclasses
import hashlib
import operator
import re
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

import feedgen.version

from feedsvc.site import feeds as render
from feedsvc.site import pages as render_html
from feedsvc.site import routes as urls
from feedsvc.config import Config
from feedsvc.core.models import Article, CategoryInfo, Withdrawal
from feedsvc.core.text import feed_iri, site_namespace

EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)


def _code_version() -> str:
    """A digest of the code that shapes the bytes, so fingerprints change
    whenever a renderer or a library that renders changes."""
    digest = hashlib.sha256(repr(feedgen.version.version_full).encode())
    for module in (render, render_html, urls):
        digest.update(Path(module.__file__).read_bytes())
    digest.update(Path(__file__).read_bytes())
    return digest.hexdigest()[:16]


RENDER_VERSION = _code_version()


@dataclass(frozen=True)
class Target:
    """One URL of the site, the file the export writes it to, and a cheap
    string that changes whenever the bytes could change."""

    path: str
    file: str
    fingerprint: str


@dataclass(frozen=True)
class Resource:
    body: bytes
    content_type: str
    last_modified: dt.datetime | None


@dataclass
class _Feed:
    """One feed (the whole site when `slug` is None) and how its articles
    divide between the subscription document and the archives."""

    slug: str | None
    title: str
    subscription: list[Article]  # display order
    archives: list[list[Article]]  # archive n is archives[n - 1], display order
    tombstones: tuple[Withdrawal, ...]
    newest_change: dt.datetime | None  # over all its articles and withdrawals

    @property
    def newest_archive(self) -> int:
        """The newest archive that holds entries (0: none)."""
        return max((n for n, block in enumerate(self.archives, 1) if block), default=0)


def recorded_change(article: Article) -> dt.datetime:
    """When the ledger last saw this article change: first seen, or edited.

    Like Article.changed, except that an `updated` that merely repeats the
    publication date is not a change. They differ only for an article dated
    in the future, whose `updated` is that future date: counting it would
    pin every feed holding it to that date, so a later article could not
    advance the feed, and Last-Modified would lie ahead of the clock.
    """
    if article.updated > article.published:
        return max(article.first_seen, article.updated)
    return article.first_seen


_DISPLAY_KEY = operator.attrgetter("published", "seq")
_SEQ_KEY = operator.attrgetter("seq")


def _display_order(articles: list[Article]) -> list[Article]:
    """Newest first, as every document and page shows its articles."""
    return sorted(articles, key=_DISPLAY_KEY, reverse=True)


def _digest(*parts: str) -> str:
    return hashlib.sha1("\x1f".join(parts).encode("utf-8")).hexdigest()[:20]


def _article_digest(a: Article) -> str:
    """Every field of an article that a renderer may show. This runs for
    every article of the site, so it is one formatted string, and times go
    in as timestamps (the ledger keeps them all in UTC)."""
    fields = (
        f"{a.id}\x1f{a.iri}\x1f{a.seq}\x1f{a.title}\x1f{a.summary}\x1f{a.category}\x1f{a.category_slug}"
        f"\x1f{a.published.timestamp()}\x1f{a.updated.timestamp()}\x1f{a.first_seen.timestamp()}"
        f"\x1f{a.date_source}\x1f{a.page_date}\x1f{a.pages}"
    )
    return hashlib.sha1(fields.encode("utf-8")).hexdigest()[:20]


# Settings that never reach the bytes; leaving them out keeps fingerprints
# stable between a local run and CI with other paths.
_RUNTIME_SETTINGS = {"seeds", "ledger", "read_only", "workers", "cache_max_age"}


def _config_digest(config: Config) -> str:
    shown = [(f.name, getattr(config, f.name)) for f in dataclasses.fields(config) if f.name not in _RUNTIME_SETTINGS]
    return _digest(RENDER_VERSION, repr(shown))


class _Lru(OrderedDict):
    """A least-recently-used cache; `size` None keeps everything."""

    def __init__(self, size: int | None) -> None:
        super().__init__()
        self.size = size

    def get_or_make(self, key: object, make: Callable[[], object]) -> object:
        if key in self:
            self.move_to_end(key)
            return self[key]
        value = self[key] = make()
        if self.size is not None and len(self) > self.size:
            self.popitem(last=False)
        return value


_FEED = re.compile(r"/feeds/(?:all|category/(?P<slug>[^/]+))\.(?P<fmt>atom|rss|json)")
_ARCHIVE = re.compile(r"/feeds/(?:all|category/(?P<slug>[^/]+))/archive/(?P<n>[1-9][0-9]*)\.(?P<fmt>atom|rss)")
_CATEGORY = re.compile(r"/categories/(?P<slug>[^/]+)/")
_ARTICLE = re.compile(r"/articles/(?P<id>[^/]+)/")


class Site:
    """The published site built from one state of the ledger.

    `kept_entries` bounds how many articles' rendered entries are kept
    (None: all). A build renders every archive, and keeping every entry
    lets each article be rendered once for its two feeds; a long-running
    server, which renders archives only when asked, can bound its memory.
    """

    def __init__(
        self,
        config: Config,
        articles: list[Article],
        withdrawals: list[Withdrawal],
        categories: dict[str, str],
        kept_entries: int | None = None,
        departures: dict[str, dt.datetime] | None = None,
    ) -> None:
        self.config = config
        # slug -> the latest moment an article moved out of that category
        self.departures = departures or {}
        self.articles = _display_order(articles)
        self.withdrawals = sorted(withdrawals, key=lambda w: (w.when, w.iri), reverse=True)
        self.categories = dict(sorted(categories.items(), key=lambda pair: pair[1]))  # name -> slug
        self.names = {slug: name for name, slug in self.categories.items()}
        self.by_id = {article.id: article for article in self.articles}
        # Each feed's articles in the order they were first recorded.
        in_seq_order = sorted(self.articles, key=_SEQ_KEY)
        self._recorded: dict[str | None, list[Article]] = {None: in_seq_order, **{slug: [] for slug in self.names}}
        for article in in_seq_order:
            self._recorded.setdefault(article.category_slug, []).append(article)
        changes = [recorded_change(a) for a in self.articles] + [w.when for w in self.withdrawals]
        self.updated = max(changes, default=EPOCH)
        self.article_count = len(self.articles)
        self._namespace = site_namespace(config.site_key)
        self._config_digest = _config_digest(config)
        self._feeds: dict[str | None, _Feed] = {}
        self._entries = _Lru(kept_entries)
        self._json_items: dict[str, dict] = {}
        self._digests: dict[str, str] | None = None
        self._documents: dict[str, Resource] = {}
        self._archives = _Lru(64)
        self._pages = _Lru(256)

    @classmethod
    def from_ingest(cls, config: Config, result, kept_entries: int | None = None) -> "Site":
        """The site for an `ingest.Ingest` result."""
        return cls(
            config,
            result.articles(config.site_key),
            result.withdrawals(config.site_key),
            result.ledger.categories,
            kept_entries,
            result.departures(),
        )

    # The URL map

    def targets(self) -> Iterator[Target]:
        """Every URL the site publishes, with the export file and fingerprint."""
        base = self._config_digest
        yield self._target(urls.INDEX_PATH, _digest(base, "index", *self._index_parts()))
        yield self._target(urls.STYLESHEET_PATH, _digest(base, "css"))
        yield self._target(urls.SCRIPT_PATH, _digest(base, "js"))
        yield self._target(urls.OPML_PATH, _digest(base, "opml", *self._opml_parts()))
        for slug in [None, *self.names]:
            yield from self._feed_targets(slug)
        for article in self.articles:
            path = urls.article_path(article.id)
            yield Target(path, urls.file_for(path), base + self._article_digests()[article.id])

    def _target(self, path: str, fingerprint: str) -> Target:
        return Target(path, urls.file_for(path), fingerprint)

    def _feed_targets(self, slug: str | None) -> Iterator[Target]:
        feed = self._feed(slug)
        base = self._config_digest
        subscription = self._members_key(feed.subscription)
        tombstones = "\x1e".join(f"{w.iri}@{w.when.isoformat()}" for w in feed.tombstones)
        departed = self.departures.get(slug)
        links = f"{self.names.get(slug)}/{len(feed.archives)}/{feed.newest_archive}/{departed and departed.isoformat()}"
        if not feed.subscription and not feed.tombstones:
            links += "/" + self.updated.isoformat()  # an empty feed takes the site's time
        for fmt in urls.FORMATS:
            key = _digest(base, fmt, str(slug), subscription, tombstones, links)
            yield self._target(urls.feed_path(slug, fmt), key)
        for number, block in enumerate(feed.archives, 1):
            has_next = number < len(feed.archives)
            members = self._members_key(block) if block else self._members_key(feed.archives[number - 2])
            for fmt in urls.ARCHIVE_FORMATS:
                key = _digest(base, fmt, str(slug), str(self.names.get(slug)), str(number), str(has_next), members, str(departed))
                yield self._target(urls.archive_path(slug, number, fmt), key)
        if slug is not None:
            count = str(self._count(slug))
            page = _digest(base, "category", slug, self.names[slug], count, subscription)
            yield self._target(urls.html_path(slug), page)

    def _article_digests(self) -> dict[str, str]:
        if self._digests is None:
            self._digests = {article.id: _article_digest(article) for article in self.articles}
        return self._digests

    def _members_key(self, articles: list[Article]) -> str:
        digests = self._article_digests()
        return _digest(*[digests[a.id] for a in articles])

    def _index_parts(self) -> list[str]:
        feed = self._feed(None)
        counts = [f"{c.slug}={c.name}={c.count}" for c in self.category_infos()]
        return [self._members_key(feed.subscription), *counts]

    def _opml_parts(self) -> list[str]:
        return [f"{c.slug}={c.name}" for c in self.category_infos()]

    def is_gone(self, path: str) -> bool:
        """A category that existed and has no articles now (HTTP 410)."""
        match = _FEED.fullmatch(path) or _CATEGORY.fullmatch(path)
        slug = match and match.group("slug")
        return bool(slug) and slug in self.names and not self._count(slug)

    def render(self, path: str) -> Resource | None:
        """The bytes of `path`, or None when it is not a URL of this site."""
        cached = self._documents.get(path)
        if cached is not None:
            return cached
        if match := _ARTICLE.fullmatch(path):
            article = self.by_id.get(match.group("id"))
            return article and self._pages.get_or_make(path, lambda: self._article_page(article))
        if match := _ARCHIVE.fullmatch(path):
            if not self._known(match.group("slug")):
                return None
            slug, number, fmt = match.group("slug"), int(match.group("n")), match.group("fmt")
            return self._archives.get_or_make(path, lambda: self._archive(slug, number, fmt))
        resource = self._render_kept(path)
        if resource is not None:
            self._documents[path] = resource
        return resource

    def _known(self, slug: str | None) -> bool:
        return slug is None or slug in self.names

    def _render_kept(self, path: str) -> Resource | None:
        """Documents small enough and asked for often enough to keep."""
        if match := _FEED.fullmatch(path):
            slug = match.group("slug")
            return self._subscription(slug, match.group("fmt")) if self._known(slug) else None
        if match := _CATEGORY.fullmatch(path):
            slug = match.group("slug")
            return self._category_page(slug) if slug in self.names else None
        if path == urls.INDEX_PATH:
            body = render_html.index_page(self.config, self.category_infos(), self._feed(None).subscription)
            return Resource(body, urls.content_type_for(path), self.updated)
        if path == urls.OPML_PATH:
            return Resource(self._opml(), urls.content_type_for(path), None)
        if path == urls.STYLESHEET_PATH:
            return Resource(render_html.STYLESHEET, urls.content_type_for(path), None)
        if path == urls.SCRIPT_PATH:
            return Resource(render_html.SCRIPT, urls.content_type_for(path), None)
        return None

    # Categories and feeds

    def category_infos(self) -> list[CategoryInfo]:
        """Categories that have articles now, by name."""
        infos = [CategoryInfo(name, slug, self._count(slug)) for slug, name in self.names.items() if self._count(slug)]
        return sorted(infos, key=lambda c: (c.name.casefold(), c.slug))

    def _count(self, slug: str) -> int:
        return len(self._recorded.get(slug, ()))

    def _feed(self, slug: str | None) -> _Feed:
        feed = self._feeds.get(slug)
        if feed is None:
            feed = self._feeds[slug] = self._divide(slug)
        return feed

    def _divide(self, slug: str | None) -> _Feed:
        recorded = self._recorded.get(slug, [])
        gone = [w for w in self.withdrawals if slug is None or w.category_slug == slug]
        size = self.config.feed_size
        window, archived = recorded[-size:], recorded[:-size] if len(recorded) > size else []
        departed = [self.departures[slug]] if slug in self.departures else []
        newest = max([*map(recorded_change, recorded), *(w.when for w in gone), *departed], default=None)
        recent_edits, tombstones = [], ()
        if newest is not None:
            since = newest - dt.timedelta(days=self.config.edit_window_days)
            # Edited after publication (updated moved past published), recently.
            recent_edits = [a for a in archived if a.updated > a.published and recorded_change(a) >= since]
            tombstones = tuple(w for w in gone if w.when >= since)
        step = self.config.archive_size
        blocks = [archived[i : i + step] for i in range(0, len(archived), step)]
        if blocks and len(blocks[-1]) == step:
            blocks.append([])  # the full block's next-archive link must resolve
        title = self.config.site_title if slug is None else f"{self.config.site_title}: {self.names[slug]}"
        return _Feed(
            slug=slug,
            title=title,
            subscription=_display_order(window + recent_edits),
            archives=[_display_order(block) for block in blocks],
            tombstones=tombstones,
            newest_change=newest,
        )

    def _head(self, feed: _Feed, path: str, updated: dt.datetime, **links: str | None) -> render.FeedHead:
        return render.FeedHead(
            id=feed_iri(self._namespace, path),
            title=feed.title,
            subtitle=self.config.site_subtitle,
            updated=updated,
            self_url=self._url(path),
            html_url=self._url(urls.html_path(feed.slug)),
            **links,
        )

    def _url(self, path: str) -> str:
        return urls.absolute(self.config.site_url, path)

    def _updated(
        self, slug: str | None, articles: list[Article], tombstones: tuple[Withdrawal, ...], fallback: dt.datetime
    ) -> dt.datetime:
        """The newest change in one document. An article moving out of a
        category changes every document of that category's feed (its
        archives shift), so the move counts as a change of each."""
        changes = [recorded_change(a) for a in articles] + [w.when for w in tombstones]
        if slug in self.departures:
            changes.append(self.departures[slug])
        return max(changes, default=fallback)

    def _subscription(self, slug: str | None, fmt: str) -> Resource:
        feed = self._feed(slug)
        path = urls.feed_path(slug, fmt)
        tombstones = feed.tombstones if fmt == "atom" else ()
        updated = self._updated(slug, feed.subscription, feed.tombstones, self.updated)
        prev = feed.newest_archive
        head = self._head(
            feed,
            path,
            updated,
            prev_archive_url=self._url(urls.archive_path(slug, prev, fmt)) if prev and fmt != "json" else None,
            tombstones=tombstones,
        )
        return Resource(self._document(fmt, head, feed.subscription), urls.content_type_for(path), updated)

    def _archive(self, slug: str | None, number: int, fmt: str) -> Resource | None:
        feed = self._feed(slug)
        if number > len(feed.archives):
            return None
        block = feed.archives[number - 1]
        path = urls.archive_path(slug, number, fmt)
        # An empty archive (the one after a full block) borrows the time of
        # the block before it, which cannot change either.
        updated = self._updated(slug, block or feed.archives[number - 2], (), self.updated)
        head = self._head(
            feed,
            path,
            updated,
            current_url=self._url(urls.feed_path(slug, fmt)),
            prev_archive_url=self._url(urls.archive_path(slug, number - 1, fmt)) if number > 1 else None,
            next_archive_url=self._url(urls.archive_path(slug, number + 1, fmt)) if number < len(feed.archives) else None,
        )
        return Resource(self._document(fmt, head, block), urls.content_type_for(path), updated)

    def _document(self, fmt: str, head: render.FeedHead, articles: list[Article]) -> bytes:
        if fmt == "json":
            return render.json_feed(self.config, head, [self._json_item(a) for a in articles])
        entries = [self.entry(a) for a in articles]
        if fmt == "atom":
            return render.atom_feed(self.config, head, entries)
        return render.rss_feed(self.config, head, entries)

    def entry(self, article: Article) -> render.Entry:
        """The article's Atom entry and RSS item, rendered once."""
        return self._entries.get_or_make(article.id, lambda: render.render_entry(self.config, article))

    def _json_item(self, article: Article) -> dict:
        item = self._json_items.get(article.id)
        if item is None:
            item = self._json_items[article.id] = render.json_item(self.config, article)
        return item

    # Pages

    def _category_page(self, slug: str) -> Resource:
        feed = self._feed(slug)
        info = CategoryInfo(self.names[slug], slug, self._count(slug))
        body = render_html.category_page(self.config, info, feed.subscription)
        updated = feed.newest_change or self.updated
        return Resource(body, urls.content_type_for(urls.html_path(slug)), updated)

    def _article_page(self, article: Article) -> Resource:
        body = render_html.article_page(self.config, article)
        return Resource(body, urls.content_type_for(urls.article_path(article.id)), recorded_change(article))

    def _opml(self) -> bytes:
        outlines = [render.Outline(self.config.site_title, self._url(urls.feed_path(None, "atom")), self._url("/"))]
        for info in self.category_infos():
            title = f"{self.config.site_title}: {info.name}"
            xml_url = self._url(urls.feed_path(info.slug, "atom"))
            outlines.append(render.Outline(title, xml_url, self._url(urls.html_path(info.slug))))
        return render.opml(self.config, self.config.site_title, outlines)
