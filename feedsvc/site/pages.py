"""HTML pages for people in a browser: the index, one page per category,
per topic and per article, from the Jinja2 templates in `templates/`, plus the
stylesheet and the copy-button script in `static/` that they load.

Pure functions from settings and articles to bytes: no clock. The pages
must work under a strict Content-Security-Policy (``default-src 'none';
style-src 'self'; script-src 'self'``), so they carry no inline script, no
inline style and no style attribute; everything dynamic lives in the
script. Every piece of text is escaped, because a scraped title can hold
markup.

Dates are shown in the site's time zone (``Config.timezone``) as ISO dates
(YYYY-MM-DD); each ``<time datetime>`` holds the full RFC 3339 moment in
that zone.
"""

from __future__ import annotations

import datetime as dt
import functools
import html
import zoneinfo
from dataclasses import dataclass
from importlib import resources

import jinja2
from markupsafe import Markup

from feedsvc.config import Config
from feedsvc.core.models import Article, CategoryInfo, TopicInfo
from feedsvc.site import routes

FORMAT_NAMES = {"atom": "Atom", "rss": "RSS", "json": "JSON Feed"}
FORMAT_TYPES = {"atom": "application/atom+xml", "rss": "application/rss+xml", "json": "application/feed+json"}


def _escaped(value: object) -> object:
    """Every value a template prints, escaped as html.escape does (quotes
    included), so the bytes stay those of earlier releases."""
    if isinstance(value, Markup):
        return value
    return Markup(html.escape(str(value), quote=True))


_TEMPLATES = jinja2.Environment(
    loader=jinja2.PackageLoader("feedsvc.site", "templates"),
    autoescape=True,
    finalize=_escaped,
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
    keep_trailing_newline=True,
    auto_reload=False,  # the templates ship with the package
)
_TEMPLATES.globals.update(routes=routes, formats=routes.FORMATS, names=FORMAT_NAMES, types=FORMAT_TYPES)

STYLESHEET = resources.files("feedsvc.site").joinpath("static/style.css").read_bytes()
SCRIPT = resources.files("feedsvc.site").joinpath("static/copy.js").read_bytes()


@dataclass(frozen=True)
class _SiteView:
    """What every page shows of the site's settings."""

    title: str
    subtitle: str
    language: str
    icon: str
    site_url: str
    zone: zoneinfo.ZoneInfo
    page: str  # the path of the page being rendered, or one as deep

    def url(self, path: str) -> str:
        """An absolute URL under the configured base URL: for feeds and
        anything a reader may paste elsewhere."""
        return routes.absolute(self.site_url, path)

    def link(self, path: str) -> str:
        """A relative link to another page or file of the site."""
        return routes.relative(self.page, path)

    def local(self, moment: dt.datetime) -> dt.datetime:
        return moment.astimezone(self.zone)


@dataclass(frozen=True)
class _Frame:
    """The parts of every page that depend only on the settings, rendered
    once per configuration: a build renders every article with one."""

    overall_alternates: Markup
    head_end: Markup
    banner: Markup
    footer: Markup


@functools.lru_cache(maxsize=16)
def _site(config: Config, depth: int) -> tuple[_SiteView, _Frame]:
    """The view of the settings for a page `depth` folders deep, with its frame."""
    site = _SiteView(
        title=config.site_title,
        subtitle=config.site_subtitle,
        language=config.language,
        icon=_icon_href(config.site_url, config.icon),
        site_url=config.site_url,
        zone=zoneinfo.ZoneInfo(config.timezone),
        page="/" + "x/" * depth,
    )
    parts = _TEMPLATES.get_template("frame.html").module
    frame = _Frame(
        overall_alternates=parts.alternates(site, None, site.title),
        head_end=parts.head_end(site),
        banner=parts.banner(site),
        footer=parts.footer(site),
    )
    return site, frame


def _icon_href(site_url: str, icon: str | None) -> str:
    # An empty data: icon stops browsers asking for /favicon.ico, which the site does not publish.
    if not icon:
        return "data:,"
    if icon.startswith(("http://", "https://")):
        return icon
    return routes.absolute(site_url, icon)


def _render(config: Config, template: str, title: str | None, canonical: str, **context: object) -> bytes:
    """One page: `title` names it before the site's title (None: the site's
    own page), `canonical` is its path."""
    site, frame = _site(config, canonical.count("/") - 1)
    text = _TEMPLATES.get_template(template).render(
        site=site, frame=frame, title=site.title if title is None else f"{title} · {site.title}", canonical=canonical, **context
    )
    return text.encode("utf-8", errors="replace")


def index_page(config: Config, categories: list[CategoryInfo], articles: list[Article], topics: list[TopicInfo] = ()) -> bytes:
    """The front page: how to subscribe, every category and topic with its
    feeds, and `articles` (the latest ones, newest first)."""
    return _render(config, "index.html", None, routes.INDEX_PATH, categories=categories, articles=articles, topics=topics)


def category_page(config: Config, category: CategoryInfo | TopicInfo, articles: list[Article]) -> bytes:
    """One category (or topic): its feeds and its articles, newest first as given."""
    channel = f"{config.site_title}: {category.name}"
    return _render(
        config, "category.html", category.name, routes.html_path(category.key), category=category, channel=channel, articles=articles
    )


def article_page(config: Config, article: Article) -> bytes:
    """One article: its title, dates, category and summary paragraphs."""
    return _render(config, "article.html", article.title, routes.article_path(article.id), article=article)


def instance_page(title: str, sites: list[dict], site_url: str, canonical: str, opml: str) -> bytes:
    """The root of an instance of several sites: each site with its feeds
    and newest articles (`sites`, as `site.root` prepares them)."""
    text = _TEMPLATES.get_template("instance.html").render(
        title=title,
        sites=sites,
        canonical=routes.absolute(site_url, canonical),
        stylesheet=routes.relative(canonical, routes.STYLESHEET_PATH),
        opml=routes.absolute(site_url, opml),
    )
    return text.encode("utf-8", errors="replace")
