"""The published site built from one state of the ledger: every URL it
publishes and the bytes of each. The server and the static export both ask
this object, so they publish the same thing at the same paths. Which
articles go in which document is decided in `feedsvc.core.publish`; the
bytes come from the renderers in `feeds` and `pages`.

Rendering is lazy: a document is rendered when asked for, and each
article's feed entry is rendered once and kept, within a bound (see
`Site`), for every feed that shows it (the whole site, its category, its
topics). Documents themselves are not
kept here: the server keeps what it serves, and the export writes each once.
"""

from __future__ import annotations

import datetime as dt
from collections import OrderedDict
from dataclasses import dataclass
from typing import Callable, Iterator

from feedsvc.config import Config
from feedsvc.core import publish
from feedsvc.core.merge import withdrawals as withdrawn
from feedsvc.core.models import Article, CategoryInfo, TopicInfo, TopicKey, Withdrawal
from feedsvc.core.publish import FeedKey
from feedsvc.core.topics import TopicMark
from feedsvc.core.text import feed_iri, site_namespace
from feedsvc.site import feeds as render
from feedsvc.site import pages as render_html
from feedsvc.site import routes as urls
from feedsvc.site.fingerprints import Earlier, Fingerprints, Target

__all__ = ["Resource", "Site", "Target"]


@dataclass(frozen=True)
class Resource:
    body: bytes
    content_type: str
    last_modified: dt.datetime | None


class _Lru(OrderedDict):
    """A least-recently-used memo; `size` None keeps everything."""

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


class Site:
    """The published site built from one state of the ledger.

    Its articles come from a catalog: `publish.Catalog` holds them in
    memory (the export, which renders every document anyway), and
    `store.catalog` asks the store for each document's articles (the
    server). `kept_entries` bounds how many articles' rendered entries are
    kept (None: all), the least recently used going first: an article is
    rendered once for all the feeds that show it when they ask for it
    close enough together. A build asks for every archive in an order that
    makes it so (`publish.export.write_order`); a long-running server,
    which renders archives only when asked, bounds its memory.
    """

    def __init__(
        self,
        config: Config,
        catalog: "publish.Catalog",
        kept_entries: int | None = None,
        topic_marks: dict[str, TopicMark] | None = None,
    ) -> None:
        self.config = config
        self.catalog = catalog
        marks = topic_marks or {}
        # The topic feeds of the settings, by slug, and those the record of
        # topics knows that the settings dropped (their URLs are gone).
        self.topics = {topic.slug: topic for topic in sorted(config.topics, key=lambda topic: topic.slug)}
        self.retired = {slug: mark.name for slug, mark in marks.items() if slug not in self.topics}
        # feed key -> the latest moment every document of the feed changed
        # without an entry to date it: an article moved out of a category,
        # or a topic's settings changed.
        self.departures: dict[FeedKey, dt.datetime] = dict(catalog.departures)
        self.departures.update({TopicKey(slug): mark.changed for slug, mark in marks.items()})
        self.withdrawals = catalog.withdrawals
        self.categories = dict(sorted(catalog.categories.items(), key=lambda pair: pair[1]))  # name -> slug
        self.names = {slug: name for name, slug in self.categories.items()}
        self.updated = catalog.updated
        # The index lists every topic with its count: a topic's change is one of the index's.
        self._index_updated = max([self.updated, *(mark.changed for mark in marks.values())])
        self.article_count = catalog.article_count
        self._limits = publish.Limits(config.feed_size, config.archive_size, config.edit_window_days)
        self._namespace = site_namespace(config.site_key)
        self._feeds: dict[FeedKey, publish.Feed] = {}
        self._entries = _Lru(kept_entries)
        self._json_items = _Lru(kept_entries)

    @classmethod
    def of(
        cls,
        config: Config,
        articles: list[Article],
        withdrawals: list[Withdrawal],
        categories: dict[str, str],
        kept_entries: int | None = None,
        departures: dict[FeedKey, dt.datetime] | None = None,
        created: dt.datetime | None = None,
        topic_marks: dict[str, TopicMark] | None = None,
    ) -> "Site":
        """The site of these articles, held in memory."""
        catalog = publish.Catalog(articles, withdrawals, categories, departures, created, tuple(config.topics))
        return cls(config, catalog, kept_entries, topic_marks)

    @classmethod
    def from_ingest(
        cls, config: Config, result, kept_entries: int | None = None, topic_marks: dict[str, TopicMark] | None = None
    ) -> "Site":
        """The site for a `store.ingest.Ingest` result, held in memory, and
        the record of topic feeds (`store.topics`; without it, a topic's
        feed is dated by its entries alone)."""
        return cls.of(
            config,
            result.articles(config.site_key),
            withdrawn(result.ledger, config.site_key, config.topics),
            result.ledger.categories,
            kept_entries,
            result.departures(),
            result.ledger.created,
            topic_marks,
        )

    @property
    def articles(self) -> list[Article]:
        """Every article, newest first (a catalog held in memory only)."""
        return self.catalog.articles

    # The URL map

    def targets(self) -> Iterator[Target]:
        """Every URL the site publishes, with the export file and fingerprint."""
        return Fingerprints(self).targets()

    def fingerprints(self, earlier: Earlier | None = None) -> Fingerprints:
        """The same, the article pages apart from the other documents;
        `earlier`: what the last build knew, to start from."""
        return Fingerprints(self, earlier)

    def is_gone(self, path: str) -> bool:
        """A category that existed and has no articles now, or a topic the
        settings dropped (HTTP 410). A topic without articles is not gone:
        it is still a feed its subscribers asked for."""
        route = urls.match(path)
        if route is None or route.kind not in ("feed", "category", "topic"):
            return False
        key = route.key
        if isinstance(key, TopicKey):
            return key.slug in self.retired
        return key is not None and key in self.names and not self.count(key)

    def publishes(self, path: str) -> bool:
        """Whether `path` is a URL of this site, without rendering it."""
        route = urls.match(path)
        if route is None:
            return False
        if route.kind == "article":
            return self.catalog.article(route.id) is not None
        if route.kind == "archive":
            return self._known(route.key) and route.number <= len(self.feed(route.key).archives)
        if route.kind in ("feed", "category", "topic"):
            return self._known(route.key) and (route.kind == "feed" or route.key is not None)
        return True

    def render(self, path: str) -> Resource | None:
        """The bytes of `path`, or None when it is not a URL of this site."""
        route = urls.match(path)
        if route is not None and route.kind == "article":  # one lookup tells and gives: most paths are these
            article = self.catalog.article(route.id)
            if article is None:
                return None
            return Resource(render_html.article_page(self.config, article), urls.content_type_for(path), publish.recorded_change(article))
        if not self.publishes(path):
            return None
        assert route is not None
        content_type = urls.content_type_for(path)
        if route.kind == "archive":
            return self._archive(route.key, route.number, route.fmt)
        if route.kind == "feed":
            return self._subscription(route.key, route.fmt)
        if route.kind in ("category", "topic"):
            return self._feed_page(route.key)
        if route.kind == "index":
            body = render_html.index_page(self.config, self.category_infos(), self.feed(None).subscription, self.topic_infos())
            return Resource(body, content_type, self._index_updated)
        if route.kind == "opml":
            return Resource(self._opml(), content_type, None)
        if route.kind == "stylesheet":
            return Resource(render_html.STYLESHEET, content_type, None)
        return Resource(render_html.SCRIPT, content_type, None)

    def _known(self, key: FeedKey) -> bool:
        if isinstance(key, TopicKey):
            return key.slug in self.topics or key.slug in self.retired
        return key is None or key in self.names

    # Categories, topics and feeds

    def category_infos(self) -> list[CategoryInfo]:
        """Categories that have articles now, by name."""
        infos = [CategoryInfo(name, slug, self.count(slug)) for slug, name in self.names.items() if self.count(slug)]
        return sorted(infos, key=lambda c: (c.name.casefold(), c.slug))

    def topic_infos(self) -> list[TopicInfo]:
        """Every topic of the settings, those without articles too, by name."""
        infos = [TopicInfo(topic.name, slug, self.count(TopicKey(slug))) for slug, topic in self.topics.items()]
        return sorted(infos, key=lambda t: (t.name.casefold(), t.slug))

    def count(self, key: FeedKey) -> int:
        return len(self.catalog.recorded(key))

    def feed(self, key: FeedKey) -> publish.Feed:
        feed = self._feeds.get(key)
        if feed is None:
            feed = publish.divide(key, self.catalog.recorded(key), self.withdrawals, self.departures.get(key), self._limits)
            self._feeds[key] = feed
        return feed

    def name(self, key: FeedKey) -> str | None:
        """The name of a category or topic (None: the whole site)."""
        if isinstance(key, TopicKey):
            topic = self.topics.get(key.slug)
            return topic.name if topic else self.retired[key.slug]
        return None if key is None else self.names[key]

    def _title(self, key: FeedKey) -> str:
        return self.config.site_title if key is None else f"{self.config.site_title}: {self.name(key)}"

    def _head(self, feed: publish.Feed, path: str, updated: dt.datetime, **links: str | None) -> render.FeedHead:
        return render.FeedHead(
            id=feed_iri(self._namespace, path),
            title=self._title(feed.key),
            subtitle=self.config.site_subtitle,
            updated=updated,
            self_url=self._url(path),
            html_url=self._url(urls.html_path(feed.key)),
            **links,
        )

    def _url(self, path: str) -> str:
        return urls.absolute(self.config.site_url, path)

    def _subscription(self, key: FeedKey, fmt: str) -> Resource:
        feed = self.feed(key)
        path = urls.feed_path(key, fmt)
        tombstones = feed.tombstones if fmt == "atom" else ()
        updated = publish.document_updated(feed, feed.subscription, feed.tombstones, self.updated)
        prev = feed.newest_archive
        head = self._head(
            feed,
            path,
            updated,
            prev_archive_url=self._url(urls.archive_path(key, prev, fmt)) if prev and fmt != "json" else None,
            tombstones=tombstones,
        )
        return Resource(self._document(fmt, head, feed.subscription), urls.content_type_for(path), updated)

    def _archive(self, key: FeedKey, number: int, fmt: str) -> Resource:
        feed = self.feed(key)
        block = feed.archives[number - 1]
        path = urls.archive_path(key, number, fmt)
        # An empty archive (the one after a full block) borrows the time of
        # the block before it, which cannot change either.
        updated = publish.document_updated(feed, block or feed.archives[number - 2], (), self.updated)
        head = self._head(
            feed,
            path,
            updated,
            current_url=self._url(urls.feed_path(key, fmt)),
            prev_archive_url=self._url(urls.archive_path(key, number - 1, fmt)) if number > 1 else None,
            next_archive_url=self._url(urls.archive_path(key, number + 1, fmt)) if number < len(feed.archives) else None,
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
        return self._json_items.get_or_make(article.id, lambda: render.json_item(self.config, article))

    # Pages

    def _feed_page(self, key: str | TopicKey) -> Resource:
        """The page of a category or a topic."""
        feed = self.feed(key)
        if isinstance(key, TopicKey):
            info: CategoryInfo | TopicInfo = TopicInfo(self.name(key), key.slug, self.count(key))
        else:
            info = CategoryInfo(self.names[key], key, self.count(key))
        body = render_html.category_page(self.config, info, feed.subscription)
        return Resource(body, urls.content_type_for(urls.html_path(key)), feed.newest_change or self.updated)

    def _opml(self) -> bytes:
        outlines = [render.Outline(self.config.site_title, self._url(urls.feed_path(None, "atom")), self._url("/"))]
        for info in [*self.category_infos(), *self.topic_infos()]:
            xml_url = self._url(urls.feed_path(info.key, "atom"))
            outlines.append(render.Outline(self._title(info.key), xml_url, self._url(urls.html_path(info.key))))
        return render.opml(self.config, self.config.site_title, outlines)
