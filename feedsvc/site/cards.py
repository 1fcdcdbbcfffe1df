"""What the root of several sites shows of one site: its `Card`, a few
values taken from its `Site`. The export keeps each site's card as JSON in
its build's manifest, so a build with nothing new for a site still lists
it without building it. Imports nothing that renders: an up-to-date build
reads a card without loading the renderers."""

from __future__ import annotations

from dataclasses import dataclass

from feedsvc.site import routes as urls

# How many of a site's newest articles the root page shows.
NEWEST = 5


@dataclass(frozen=True)
class Card:
    """What the root shows of one site. Paths are the site's own (under
    its prefix they are the instance's); `url` is its base URL."""

    title: str
    subtitle: str
    url: str
    articles: int
    feeds: tuple[tuple[str, str, str], ...]  # (title, Atom feed path, page path): the site's, then each category's and topic's
    newest: tuple[tuple[str, str, str, str], ...]  # (title, page path, RFC 3339 in the site's zone, YYYY-MM-DD)

    @classmethod
    def of(cls, site) -> "Card":
        """The card of a `feedsvc.site.model.Site`."""
        config = site.config
        feeds = [(config.site_title, urls.feed_path(None, "atom"), urls.INDEX_PATH)]
        for info in [*site.category_infos(), *site.topic_infos()]:
            feeds.append((f"{config.site_title}: {info.name}", urls.feed_path(info.key, "atom"), urls.html_path(info.key)))
        newest = []
        for article in site.feed(None).subscription[:NEWEST]:
            local = article.published.astimezone(config.zone)
            newest.append((article.title, urls.article_path(article.id), local.isoformat(timespec="seconds"), local.strftime("%Y-%m-%d")))
        return cls(config.site_title, config.site_subtitle, config.site_url, site.article_count, tuple(feeds), tuple(newest))

    def to_json(self) -> dict:
        return {
            "title": self.title,
            "subtitle": self.subtitle,
            "url": self.url,
            "articles": self.articles,
            "feeds": [list(feed) for feed in self.feeds],
            "newest": [list(article) for article in self.newest],
        }

    @classmethod
    def from_json(cls, data: dict) -> "Card":
        """A card as `to_json` wrote it; raises KeyError, TypeError or
        ValueError for anything else."""
        feeds = tuple((str(a), str(b), str(c)) for a, b, c in data["feeds"])
        newest = tuple((str(a), str(b), str(c), str(d)) for a, b, c, d in data["newest"])
        return cls(str(data["title"]), str(data["subtitle"]), str(data["url"]), int(data["articles"]), feeds, newest)

    def absolute(self, path: str) -> str:
        return urls.absolute(self.url, path)


def card_json(data: object) -> dict | None:
    """`data` when it is a card as `Card.to_json` writes it, else None."""
    try:
        Card.from_json(data)  # type: ignore[arg-type]
    except (KeyError, TypeError, ValueError):
        return None
    return data  # type: ignore[return-value]
