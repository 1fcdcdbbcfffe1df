"""The route table: every URL path feedsvc publishes, declared once. The
same declaration builds a path (`Route.path`) and matches one (`match`), so
the server, the export, the checker and WebSub always agree. A path's
export file is the path itself, with `index.html` for a folder."""

from __future__ import annotations

import re
from dataclasses import dataclass

from feedsvc.core.models import TopicKey

FORMATS = ("atom", "rss", "json")
ARCHIVE_FORMATS = ("atom", "rss")

CONTENT_TYPES = {
    "atom": "application/atom+xml; charset=utf-8",
    "rss": "application/rss+xml; charset=utf-8",
    "json": "application/feed+json; charset=utf-8",
    "opml": "text/x-opml; charset=utf-8",
    "html": "text/html; charset=utf-8",
    "css": "text/css; charset=utf-8",
    "js": "text/javascript; charset=utf-8",
}

# kind -> its paths: with a category slug, with a topic's slug, and with
# neither (the whole site).
_TABLE: tuple[tuple[str, str], ...] = (
    ("index", "/"),
    ("opml", "/feeds.opml"),
    ("stylesheet", "/style.css"),
    ("script", "/copy.js"),
    ("feed", "/feeds/all.{fmt}"),
    ("feed", "/feeds/category/{slug}.{fmt}"),
    ("feed", "/feeds/topic/{topic}.{fmt}"),
    ("archive", "/feeds/all/archive/{number}.{fmt}"),
    ("archive", "/feeds/category/{slug}/archive/{number}.{fmt}"),
    ("archive", "/feeds/topic/{topic}/archive/{number}.{fmt}"),
    ("category", "/categories/{slug}/"),
    ("topic", "/topics/{topic}/"),
    ("article", "/articles/{id}/"),
)

_FIELDS = {
    "slug": r"[^/]+",
    "topic": r"[^/]+",
    "id": r"[^/]+",
    "number": r"[1-9][0-9]*",
}
_FORMATS_OF = {"feed": FORMATS, "archive": ARCHIVE_FORMATS}


@dataclass(frozen=True)
class Route:
    """One URL of the site: its kind, and the category slug or topic slug
    (neither for the whole site), archive number, format or article id it
    names."""

    kind: str
    slug: str | None = None
    number: int = 0
    fmt: str | None = None
    id: str | None = None
    topic: str | None = None

    @property
    def path(self) -> str:
        for kind, template in _TABLE:
            if (
                kind == self.kind
                and ("{slug}" in template) == (self.slug is not None)
                and ("{topic}" in template) == (self.topic is not None)
            ):
                return template.format(slug=self.slug, topic=self.topic, number=self.number, fmt=self.fmt, id=self.id)
        raise ValueError(f"no route for {self}")

    @property
    def document(self) -> "Route":
        """The document this is one format of: formats of a feed or an
        archive share it."""
        return Route(self.kind, self.slug, self.number, None, self.id, self.topic)

    @property
    def key(self) -> str | TopicKey | None:
        """The feed a feed, archive, category or topic route belongs to:
        None (the whole site), a category's slug or a TopicKey."""
        return TopicKey(self.topic) if self.topic is not None else self.slug


def _route(kind: str, key: str | TopicKey | None, **fields: object) -> Route:
    if isinstance(key, TopicKey):
        return Route(kind, topic=key.slug, **fields)
    return Route(kind, key, **fields)


def _pattern(kind: str, template: str) -> re.Pattern:
    fields = dict(_FIELDS, fmt="|".join(_FORMATS_OF.get(kind, ())))
    parts = re.split(r"\{(\w+)\}", template)
    regex = "".join(re.escape(part) if i % 2 == 0 else f"(?P<{part}>{fields[part]})" for i, part in enumerate(parts))
    return re.compile(regex)


_PATTERNS = tuple((kind, _pattern(kind, template)) for kind, template in _TABLE)


def match(path: str) -> Route | None:
    """The route `path` names, or None when the site has no such URL shape."""
    for kind, pattern in _PATTERNS:
        found = pattern.fullmatch(path)
        if found:
            values = found.groupdict()
            number = int(values["number"]) if "number" in values else 0
            return Route(kind, values.get("slug"), number, values.get("fmt"), values.get("id"), values.get("topic"))
    return None


INDEX_PATH = Route("index").path
OPML_PATH = Route("opml").path
STYLESHEET_PATH = Route("stylesheet").path
SCRIPT_PATH = Route("script").path


# A feed is named by None (the whole site), a category's slug or a TopicKey.


def feed_path(key: str | TopicKey | None, fmt: str) -> str:
    """The subscription feed: the whole site when `key` is None."""
    return _route("feed", key, fmt=fmt).path


def archive_path(key: str | TopicKey | None, number: int, fmt: str) -> str:
    """RFC 5005 archive document `number`, counted from 1 for the oldest."""
    return _route("archive", key, number=number, fmt=fmt).path


def html_path(key: str | TopicKey | None) -> str:
    """The page of a feed: the index, a category's page or a topic's."""
    if key is None:
        return INDEX_PATH
    return _route("topic" if isinstance(key, TopicKey) else "category", key).path


def article_path(article_id: str) -> str:
    return Route("article", id=article_id).path


def absolute(site_url: str, path: str) -> str:
    """An absolute URL under the configured base URL (never the Host header)."""
    return site_url.rstrip("/") + "/" + path.lstrip("/")


def relative(from_path: str, to_path: str) -> str:
    """A link from the page at `from_path` to `to_path` that works on any
    host, under any path prefix and from file://: relative, and naming a
    folder's index.html, since file:// shows a folder as a listing."""
    return "../" * (from_path.count("/") - 1) + file_for(to_path)


def file_for(path: str) -> str:
    """The export file that answers `path`: folders get an index.html."""
    relative = path.lstrip("/")
    return relative + "index.html" if path.endswith("/") else relative


def path_for(file: str) -> str:
    """The path an export file answers: file_for turned around."""
    folder, _, name = file.rpartition("/")
    return f"/{folder}/" if folder and name == "index.html" else "/" if file == "index.html" else "/" + file


def content_type_for(path: str) -> str:
    if path.endswith("/"):
        return CONTENT_TYPES["html"]
    return CONTENT_TYPES.get(path.rsplit(".", 1)[-1], "application/octet-stream")
