"""Which articles go in which document. Pure: articles and settings in,
the division of each feed out; no I/O, no clock.

- A feed is the whole site, one category or one topic (see `topics`); a
  feed is named by its key: None, a category's slug or a `TopicKey`. Its
  subscription document
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
  site, of the article's category and of the topics it was in carry an
  RFC 6721 deleted-entry for
  every withdrawal within `edit_window_days` of the feed's newest change.
- A document's `updated` (RSS lastBuildDate, HTTP Last-Modified) is the
  newest change of the entries in it (the moment each was first seen, or
  edited), or the `when` of a deleted-entry in it; never the clock. A
  document with neither takes the newest change of the whole site, and a
  site with none the time of the first run that recorded its ledger, so
  the same data always gives the same bytes.
  A page may date an article in the future; that date is its publication
  date, not a change, so it never pushes a feed's timestamp ahead of the
  moments things really happened (see `recorded_change`).
"""

from __future__ import annotations

import bisect
import datetime as dt
import hashlib
import operator
from dataclasses import dataclass
from typing import Iterable, Iterator, Sequence

from feedsvc.core.models import Article, TopicKey, TopicRule, Withdrawal
from feedsvc.core.topics import matches

EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)

# None: the whole site; a category's slug; a topic.
FeedKey = str | TopicKey | None

_DISPLAY_KEY = operator.attrgetter("published", "seq")
_id = operator.attrgetter("id")
_SEQ_KEY = operator.attrgetter("seq")


@dataclass(frozen=True)
class Limits:
    """The settings that shape the division of a feed."""

    feed_size: int
    archive_size: int
    edit_window_days: int


@dataclass(frozen=True)
class Feed:
    """One feed (the whole site when `key` is None) and how its articles
    divide between the subscription document and the archives."""

    key: FeedKey
    subscription: list[Article]  # display order
    archives: "Archives"  # archive n is archives[n - 1], display order
    tombstones: tuple[Withdrawal, ...]
    newest_change: dt.datetime | None  # over all its articles and withdrawals
    # The latest moment an article moved out or was refiled in (or, for a
    # topic, its settings changed): every document of the feed changed then.
    departed: dt.datetime | None

    @property
    def newest_archive(self) -> int:
        """The newest archive that holds entries (0: none)."""
        return self.archives.newest


class InSeqOrder(Sequence[Article]):
    """One feed's articles in the order they were first recorded, and the
    two questions the division asks of all of them. This one holds a list;
    the store answers the same questions with queries (store.catalog), so a
    server never holds every article."""

    def __init__(self, articles: list[Article]) -> None:
        self._articles = articles

    def __len__(self) -> int:
        return len(self._articles)

    def __getitem__(self, index):  # type: ignore[override]
        return self._articles[index]

    def newest_change(self) -> dt.datetime | None:
        return max(map(recorded_change, self._articles), default=None)

    def edited_since(self, end: int, since: dt.datetime) -> list[Article]:
        """Of the first `end` articles, those edited after publication
        whose change is at or after `since`."""
        return [a for a in self._articles[:end] if is_edited(a) and recorded_change(a) >= since]

    def digests(self, start: int, stop: int) -> Iterator[str]:
        """A digest of each article ranked `start` to `stop`, in this order
        (see `article_digest`)."""
        return map(article_digest, self._articles[start:stop])

    def rank(self, seq: int) -> int:
        """How many of the articles come before `seq`."""
        return bisect.bisect_left(self._articles, seq, key=_SEQ_KEY)

    def seqs(self, ranks: list[int]) -> list[int]:
        """The seq of the article at each of `ranks` (ascending)."""
        return [self._articles[rank].seq for rank in ranks]


class Archives(Sequence[list[Article]]):
    """A feed's archive blocks, each read when asked: block n holds the
    articles ranked (n - 1) * size to n * size in `seq` order, shown in
    display order. A full newest block is followed by an empty one."""

    def __init__(self, recorded: InSeqOrder, archived: int, size: int) -> None:
        self._recorded = recorded
        self._archived = archived  # how many of the feed's oldest articles are archived
        self._size = size
        # The block read last: each format of an archive asks for it in turn.
        self._last: tuple[int, list[Article]] | None = None

    @property
    def newest(self) -> int:
        """The newest archive that holds entries (0: none)."""
        return -(-self._archived // self._size)

    def span(self, index: int) -> tuple[int, int]:
        """The ranks, in `seq` order, of the articles archives[index] holds."""
        start = index * self._size
        return start, min(start + self._size, self._archived)

    def ends(self, after: int = 0) -> dict[int, int]:
        """Where in the history each archive numbered above `after` ends:
        archive number -> the seq of its newest article. The empty archive
        after a full block ends where that block does."""
        numbers = range(after + 1, len(self) + 1)
        return dict(zip(numbers, self._recorded.seqs([self.span(number - 1)[1] - 1 for number in numbers])))

    def __len__(self) -> int:
        full = self._archived and self._archived % self._size == 0
        return self.newest + (1 if full else 0)

    def __getitem__(self, index):  # type: ignore[override]
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        if index < 0:
            index += len(self)
        if not 0 <= index < len(self):
            raise IndexError(index)
        if self._last is None or self._last[0] != index:
            start, stop = self.span(index)
            self._last = (index, display_order(list(self._recorded[start:stop])))
        return list(self._last[1])


def article_digest(a: Article) -> str:
    """Every field of an article that a renderer may show, digested. This
    runs for every article of a site held in memory, so it is one
    formatted string, and times go in as timestamps (all are UTC)."""
    fields = (
        f"{a.id}\x1f{a.iri}\x1f{a.seq}\x1f{a.title}\x1f{a.summary}\x1f{a.category}\x1f{a.category_slug}"
        f"\x1f{a.published.timestamp()}\x1f{a.updated.timestamp()}\x1f{a.first_seen.timestamp()}"
        f"\x1f{a.date_source}\x1f{a.page_date}\x1f{a.pages}\x1f{a.link}\x1f{a.link_seen and a.link_seen.timestamp()}"
    )
    return hashlib.sha1(fields.encode("utf-8")).hexdigest()[:20]


def is_edited(article: Article) -> bool:
    """Edited after publication: `updated` moved past `published`."""
    return article.updated > article.published


def recorded_change(article: Article) -> dt.datetime:
    """When the ledger last saw this article change: first seen, or edited.

    An `updated` that merely repeats the publication date is not a change.
    That matters only for an article dated in the future, whose `updated`
    is that future date: counting it would pin every feed holding it to
    that date, so a later article could not advance the feed, and
    Last-Modified would lie ahead of the clock.
    """
    changed = max(article.first_seen, article.updated) if is_edited(article) else article.first_seen
    # A link that appeared or changed changes the entry's bytes, not its `updated`.
    return max(changed, article.link_seen) if article.link_seen else changed


def display_order(articles: Iterable[Article]) -> list[Article]:
    """Newest first, as every document and page shows its articles."""
    return sorted(articles, key=_DISPLAY_KEY, reverse=True)


def by_feed(articles: list[Article], slugs: list[str], topics: tuple[TopicRule, ...] = ()) -> dict[FeedKey, list[Article]]:
    """Each feed's articles in the order they were first recorded: the
    whole site under None, each category under its slug, each topic under
    its TopicKey."""
    in_seq_order = sorted(articles, key=_SEQ_KEY)
    recorded: dict[FeedKey, list[Article]] = {None: in_seq_order, **{slug: [] for slug in slugs}}
    for article in in_seq_order:
        recorded.setdefault(article.category_slug, []).append(article)
    for topic in topics:
        recorded[TopicKey(topic.slug)] = [article for article in in_seq_order if matches(topic, article)]
    return recorded


class Catalog:
    """A site's articles as the site model asks for them, held in memory:
    each feed's articles in `seq` order, an article by id, the withdrawals
    and moves, and the newest change of the site. A server asks the store
    the same questions instead (store.catalog), and holds none of this."""

    def __init__(
        self,
        articles: list[Article],
        withdrawals: list[Withdrawal],
        categories: dict[str, str],
        departures: dict[FeedKey, dt.datetime] | None = None,
        created: dt.datetime | None = None,
        topics: tuple[TopicRule, ...] = (),
    ) -> None:
        self.articles = display_order(articles)  # every article, newest first
        self.withdrawals = sorted(withdrawals, key=lambda w: (w.when, w.iri), reverse=True)
        self.categories = categories  # name -> slug
        self.departures = dict(departures or {})
        self.article_count = len(self.articles)
        self._by_id = {article.id: article for article in self.articles}
        found = by_feed(self.articles, list(categories.values()), topics)
        self._recorded = {key: InSeqOrder(articles) for key, articles in found.items()}
        self.updated = site_updated(self.recorded(None), self.withdrawals, created)

    def recorded(self, key: FeedKey) -> InSeqOrder:
        return self._recorded.get(key) or InSeqOrder([])

    # A catalog held in memory has no position in the store to build from.
    position = None

    def article(self, article_id: str) -> Article | None:
        return self._by_id.get(article_id)

    def every_article(self) -> Iterator[Article]:
        return iter(self.articles)

    def after_fork(self) -> None:
        """Nothing to reopen in a forked process: all is in memory."""

    def article_digests(self, ids: Iterable[str] | None = None) -> Iterator[tuple[str, str]]:
        """(id, digest) of every article, in id order, or of those of `ids` published."""
        found = sorted(self.articles, key=_id) if ids is None else filter(None, map(self._by_id.get, ids))
        return ((article.id, article_digest(article)) for article in found)


def site_updated(everything: InSeqOrder, withdrawals: list[Withdrawal], created: dt.datetime | None = None) -> dt.datetime:
    """The newest change of the whole site (`everything`: the whole site's
    feed); with none, the first run that recorded it (`created`), and 1970
    only for a site never recorded."""
    changes = [everything.newest_change(), *(w.when for w in withdrawals)]
    return max((change for change in changes if change is not None), default=created or EPOCH)


def withdrawn_from(key: FeedKey, withdrawals: list[Withdrawal]) -> list[Withdrawal]:
    """The withdrawals of articles that were in the feed named `key`."""
    if key is None:
        return withdrawals
    if isinstance(key, TopicKey):
        return [w for w in withdrawals if key.slug in w.topics]
    return [w for w in withdrawals if w.category_slug == key]


def divide(
    key: FeedKey,
    recorded: InSeqOrder,
    withdrawals: list[Withdrawal],
    departed: dt.datetime | None,
    limits: Limits,
) -> Feed:
    """Divide one feed's articles (in `seq` order) into its documents."""
    gone = withdrawn_from(key, withdrawals)
    archived = max(0, len(recorded) - limits.feed_size)
    window = list(recorded[archived:])
    changes = [recorded.newest_change(), *(w.when for w in gone), departed]
    newest = max((change for change in changes if change is not None), default=None)
    recent_edits: list[Article] = []
    tombstones: tuple[Withdrawal, ...] = ()
    if newest is not None:
        since = newest - dt.timedelta(days=limits.edit_window_days)
        recent_edits = recorded.edited_since(archived, since)
        tombstones = tuple(w for w in gone if w.when >= since)
    return Feed(
        key=key,
        subscription=display_order(window + recent_edits),
        archives=Archives(recorded, archived, limits.archive_size),
        tombstones=tombstones,
        newest_change=newest,
        departed=departed,
    )


def document_updated(
    feed: Feed, articles: list[Article], tombstones: tuple[Withdrawal, ...], fallback: dt.datetime
) -> dt.datetime:
    """The newest change in one document of `feed`. An article moving out
    of a category changes every document of that category's feed (its
    archives shift), so the move counts as a change of each."""
    changes = [recorded_change(a) for a in articles] + [w.when for w in tombstones]
    if feed.departed is not None:
        changes.append(feed.departed)
    return max(changes, default=fallback)
