"""Every URL path feedsvc publishes, and the file each one is exported to.
The server and the static export both take their paths from here."""

from __future__ import annotations

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

INDEX_PATH = "/"
OPML_PATH = "/feeds.opml"
STYLESHEET_PATH = "/style.css"
SCRIPT_PATH = "/copy.js"


def feed_path(slug: str | None, fmt: str) -> str:
    """The subscription feed: the whole site when `slug` is None."""
    return f"/feeds/all.{fmt}" if slug is None else f"/feeds/category/{slug}.{fmt}"


def archive_path(slug: str | None, number: int, fmt: str) -> str:
    """RFC 5005 archive document `number`, counted from 1 for the oldest."""
    base = "/feeds/all" if slug is None else f"/feeds/category/{slug}"
    return f"{base}/archive/{number}.{fmt}"


def html_path(slug: str | None) -> str:
    return INDEX_PATH if slug is None else f"/categories/{slug}/"


def article_path(article_id: str) -> str:
    return f"/articles/{article_id}/"


def absolute(site_url: str, path: str) -> str:
    """An absolute URL under the configured base URL (never the Host header)."""
    return site_url.rstrip("/") + "/" + path.lstrip("/")


def file_for(path: str) -> str:
    """The export file that answers `path`: folders get an index.html."""
    relative = path.lstrip("/")
    return relative + "index.html" if path.endswith("/") else relative


def content_type_for(path: str) -> str:
    if path.endswith("/"):
        return CONTENT_TYPES["html"]
    return CONTENT_TYPES.get(path.rsplit(".", 1)[-1], "application/octet-stream")
