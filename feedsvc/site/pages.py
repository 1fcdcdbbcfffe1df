"""HTML pages for people in a browser: the index, one page per category and
one per article, plus the stylesheet and the copy-button script they load.

Pure functions from settings and articles to bytes: no I/O, no clock. The
pages must work under a strict Content-Security-Policy (``default-src 'none';
style-src 'self'; script-src 'self'``), so they carry no inline script, no
inline style and no style attribute; everything dynamic lives in SCRIPT.
Every piece of text is escaped, because a scraped title can hold markup.

Dates are shown in the site's time zone (``Config.timezone``) as ISO dates
(YYYY-MM-DD); each ``<time datetime>`` holds the full RFC 3339 moment in
that zone.
"""

from __future__ import annotations

import datetime as dt
import functools
import zoneinfo
from dataclasses import dataclass
from html import escape

from feedsvc.site import routes as urls
from feedsvc.config import Config
from feedsvc.core.models import Article, CategoryInfo

SUBSCRIBE_HINT = (
    "Paste this address into your feed reader "
    "(NetNewsWire, Miniflux, FreshRSS, Feedly, newsboat...) to subscribe."
)
FORMAT_NAMES = {"atom": "Atom", "rss": "RSS", "json": "JSON Feed"}
FORMAT_TYPES = {"atom": "application/atom+xml", "rss": "application/rss+xml", "json": "application/feed+json"}


def _text(value: str) -> str:
    """Escape text for element content and attribute values alike."""
    return escape(value, quote=True)


@dataclass(frozen=True)
class _Frame:
    """The parts of every page that depend only on the site's settings,
    built once per configuration because a build renders every article."""

    site_url: str
    zone: zoneinfo.ZoneInfo
    site_title: str  # escaped
    head_start: str  # doctype up to the viewport meta
    head_end: str  # stylesheet, script and icon links
    overall_alternates: str  # autodiscovery of the whole-site feeds
    index_banner: str
    banner: str
    footer: str

    def url(self, path: str) -> str:
        """An absolute, escaped URL under the configured base URL."""
        return _text(urls.absolute(self.site_url, path))


def _frame(config: Config) -> _Frame:
    # Config holds a mapping and so cannot be hashed; key on what pages use.
    return _frame_for(
        config.site_url,
        config.site_title,
        config.site_subtitle,
        config.language,
        config.timezone,
        config.icon,
    )


@functools.lru_cache(maxsize=16)
def _frame_for(
    site_url: str, title: str, subtitle: str, language: str, timezone: str, icon: str | None
) -> _Frame:
    def url(path: str) -> str:
        return _text(urls.absolute(site_url, path))

    site_title = _text(title)
    home = url(urls.INDEX_PATH)
    head_start = (
        "<!DOCTYPE html>\n"
        f'<html lang="{_text(language)}">\n'
        "<head>\n"
        '<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
    )
    head_end = (
        f'<meta name="description" content="{_text(subtitle)}">\n'
        f'<link rel="icon" href="{_icon_href(site_url, icon)}">\n'
        f'<link rel="stylesheet" href="{url(urls.STYLESHEET_PATH)}">\n'
        f'<script src="{url(urls.SCRIPT_PATH)}" defer></script>\n'
    )
    overall = "".join(_alternate(url(urls.feed_path(None, fmt)), fmt, title) for fmt in urls.FORMATS)
    tagline = f'<p class="tagline">{_text(subtitle)}</p>\n' if subtitle else ""
    index_banner = (
        f'<header class="banner">\n<h1 class="site-name"><a href="{home}">{site_title}</a></h1>\n{tagline}</header>\n'
    )
    banner = f'<header class="banner">\n<p class="site-name"><a href="{home}">{site_title}</a></p>\n</header>\n'
    footer = (
        '<footer class="site-footer">\n'
        f'<p><a href="{home}">{site_title}</a> · feeds: '
        + " · ".join(
            f'<a href="{url(urls.feed_path(None, fmt))}" type="{FORMAT_TYPES[fmt]}">{FORMAT_NAMES[fmt]}</a>'
            for fmt in urls.FORMATS
        )
        + f' · <a href="{url(urls.OPML_PATH)}" type="text/x-opml">OPML</a></p>\n'
        "</footer>\n</body>\n</html>\n"
    )
    return _Frame(
        site_url=site_url,
        zone=zoneinfo.ZoneInfo(timezone),
        site_title=site_title,
        head_start=head_start,
        head_end=head_end,
        overall_alternates=overall,
        index_banner=index_banner,
        banner=banner,
        footer=footer,
    )


def _icon_href(site_url: str, icon: str | None) -> str:
    # An empty data: icon stops browsers asking for /favicon.ico, which the site does not publish.
    if not icon:
        return "data:,"
    if icon.startswith(("http://", "https://")):
        return _text(icon)
    return _text(urls.absolute(site_url, icon))


def _alternate(href: str, fmt: str, title: str) -> str:
    """One autodiscovery link; `href` is already escaped, `title` is not."""
    label = _text(f"{title} ({FORMAT_NAMES[fmt]})")
    return f'<link rel="alternate" type="{FORMAT_TYPES[fmt]}" title="{label}" href="{href}">\n'


def _page(frame: _Frame, title: str, canonical: str, alternates: str, banner: str, main: str) -> bytes:
    """Assemble one document; `main` is already markup, `title` is not."""
    return "".join(
        (
            frame.head_start,
            f"<title>{_text(title)}</title>\n",
            f'<link rel="canonical" href="{frame.url(canonical)}">\n',
            alternates,
            frame.head_end,
            "</head>\n<body>\n",
            banner,
            '<main id="content">\n',
            main,
            "</main>\n",
            frame.footer,
        )
    ).encode("utf-8", errors="replace")


# --- pieces shared by the pages -------------------------------------------


def _time(frame: _Frame, moment: dt.datetime) -> str:
    local = moment.astimezone(frame.zone)
    return f'<time datetime="{local.isoformat(timespec="seconds")}">{local:%Y-%m-%d}</time>'


def _count(number: int) -> str:
    return f"{number} article" if number == 1 else f"{number} articles"


def _feed_list(frame: _Frame, slug: str | None, label: str) -> str:
    """Each feed of one channel as a link, its address as selectable text and a
    copy button; `label` (not escaped) names the channel for screen readers."""
    rows = []
    for fmt in urls.FORMATS:
        href = frame.url(urls.feed_path(slug, fmt))
        name = FORMAT_NAMES[fmt]
        field_label = _text(f"{name} address for {label}")
        rows.append(
            '<li class="feed-url">'
            f'<a class="format" href="{href}" type="{FORMAT_TYPES[fmt]}">{name}</a>'
            f'<input type="url" readonly value="{href}" aria-label="{field_label}" spellcheck="false">'
            f'<button type="button" class="copy" data-copy="{href}">Copy</button>'
            "</li>\n"
        )
    return '<ul class="feed-urls">\n' + "".join(rows) + "</ul>\n"


def _hint() -> str:
    return f'<p class="hint">{_text(SUBSCRIBE_HINT)}</p>\n'


def _category_link(frame: _Frame, name: str, slug: str) -> str:
    return f'<a class="category" href="{frame.url(urls.html_path(slug))}">{_text(name)}</a>'


def _article_list(frame: _Frame, articles: list[Article], show_category: bool) -> str:
    if not articles:
        return '<p class="empty">No articles yet.</p>\n'
    items = []
    for article in articles:
        category = f" · {_category_link(frame, article.category, article.category_slug)}" if show_category else ""
        items.append(
            "<li>"
            f'<a class="title" dir="auto" href="{frame.url(urls.article_path(article.id))}">{_text(article.title)}</a>'
            f'<span class="meta">{_time(frame, article.published)}{category}</span>'
            "</li>\n"
        )
    return '<ol class="articles">\n' + "".join(items) + "</ol>\n"


# --- the pages ------------------------------------------------------------


def index_page(config: Config, categories: list[CategoryInfo], articles: list[Article]) -> bytes:
    """The front page: how to subscribe, every category with its feeds, and
    `articles` (the latest ones, newest first)."""
    frame = _frame(config)
    title = config.site_title
    category_items = "".join(
        '<li class="channel">\n'
        f'<h3>{_category_link(frame, category.name, category.slug)} <span class="count">{_count(category.count)}</span></h3>\n'
        + _feed_list(frame, category.slug, category.name)
        + "</li>\n"
        for category in categories
    )
    main = (
        '<section class="subscribe" aria-labelledby="subscribe">\n'
        '<h2 id="subscribe">Subscribe</h2>\n'
        + _hint()
        + '<div class="channel">\n<h3>All articles</h3>\n'
        + _feed_list(frame, None, f"all articles of {title}")
        + "</div>\n"
        + f'<p class="opml">Following every category? <a href="{frame.url(urls.OPML_PATH)}" type="text/x-opml">'
        "Download the OPML file</a> and import it into your reader to subscribe to all feeds at once.</p>\n"
        "</section>\n"
        '<section class="categories" aria-labelledby="categories">\n'
        '<h2 id="categories">Categories</h2>\n'
        + (f'<ul class="channels">\n{category_items}</ul>\n' if categories else '<p class="empty">No categories yet.</p>\n')
        + "</section>\n"
        '<section class="latest" aria-labelledby="latest">\n'
        '<h2 id="latest">Latest articles</h2>\n'
        + _article_list(frame, articles, show_category=True)
        + "</section>\n"
    )
    return _page(frame, title, urls.INDEX_PATH, frame.overall_alternates, frame.index_banner, main)


def category_page(config: Config, category: CategoryInfo, articles: list[Article]) -> bytes:
    """One category: its feeds and its articles, newest first as given."""
    frame = _frame(config)
    channel = f"{config.site_title}: {category.name}"
    alternates = "".join(
        _alternate(frame.url(urls.feed_path(category.slug, fmt)), fmt, channel) for fmt in urls.FORMATS
    )
    main = (
        f'<h1 dir="auto">{_text(category.name)}</h1>\n'
        f'<p class="count">{_count(category.count)}</p>\n'
        '<section class="subscribe" aria-labelledby="subscribe">\n'
        f'<h2 id="subscribe">Subscribe to {_text(category.name)}</h2>\n'
        + _hint()
        + _feed_list(frame, category.slug, channel)
        + "</section>\n"
        '<section class="latest" aria-labelledby="latest">\n'
        '<h2 id="latest">Latest articles</h2>\n'
        + _article_list(frame, articles, show_category=False)
        + "</section>\n"
        f'<nav class="back"><a href="{frame.url(urls.INDEX_PATH)}">← All categories and feeds</a></nav>\n'
    )
    title = f"{category.name} · {config.site_title}"
    return _page(frame, title, urls.html_path(category.slug), alternates + frame.overall_alternates, frame.banner, main)


def article_page(config: Config, article: Article) -> bytes:
    """One article: its title, dates, category and summary paragraphs."""
    frame = _frame(config)
    updated = (
        f" · updated {_time(frame, article.updated)}" if article.updated != article.published else ""
    )
    category = _category_link(frame, article.category, article.category_slug)
    paragraphs = "".join(f'<p dir="auto">{_text(paragraph)}</p>\n' for paragraph in article.paragraphs)
    main = (
        "<article>\n"
        f'<h1 dir="auto">{_text(article.title)}</h1>\n'
        f'<p class="meta">Published {_time(frame, article.published)}{updated} · in {category}</p>\n'
        f'<div class="summary">\n{paragraphs}</div>\n'
        + (f'<p class="source"><a href="{_text(article.link)}" rel="noopener noreferrer">Read the original article</a></p>\n' if article.link else "")
        + "</article>\n"
        f'<nav class="back"><a href="{frame.url(urls.html_path(article.category_slug))}">'
        f"← More in {_text(article.category)}</a> · "
        f'<a href="{frame.url(urls.INDEX_PATH)}">All articles and feeds</a></nav>\n'
    )
    title = f"{article.title} · {config.site_title}"
    return _page(frame, title, urls.article_path(article.id), frame.overall_alternates, frame.banner, main)


# --- static assets ---------------------------------------------------------

STYLESHEET = b"""\
/* feedsvc pages: readable on phones and desktops, light or dark as the reader prefers. */
:root {
  color-scheme: light dark;
  --text: #1d1f23;
  --muted: #5b6270;
  --background: #fbfbfc;
  --surface: #ffffff;
  --border: #d9dce3;
  --link: #0b57d0;
  --accent: #c2410c;
  --done: #1a7f37;
}

@media (prefers-color-scheme: dark) {
  :root {
    --text: #e6e8ec;
    --muted: #9aa3b2;
    --background: #15171b;
    --surface: #1e2127;
    --border: #343944;
    --link: #8ab4f8;
    --accent: #fb923c;
    --done: #4ade80;
  }
}

* { box-sizing: border-box; }

html { -webkit-text-size-adjust: 100%; text-size-adjust: 100%; }

body {
  margin: 0 auto;
  max-width: 52rem;
  padding: 1.5rem 1rem 3rem;
  background: var(--background);
  color: var(--text);
  font: 1rem/1.55 system-ui, -apple-system, "Segoe UI", Roboto, "Noto Sans", sans-serif;
  overflow-wrap: break-word;
}

a { color: var(--link); }
a:hover, a:focus-visible { text-decoration-thickness: 2px; }

h1, h2, h3 { line-height: 1.25; }
h1 { font-size: 1.9rem; margin: 0.5rem 0; }
h2 { font-size: 1.3rem; margin: 2.25rem 0 0.75rem; padding-bottom: 0.3rem; border-bottom: 1px solid var(--border); }
h3 { font-size: 1.05rem; margin: 0 0 0.5rem; }

.banner { margin-bottom: 1.5rem; }
.banner .site-name { margin: 0; font-size: 1.15rem; font-weight: 700; }
.banner h1.site-name { font-size: 2rem; }
.banner .site-name a { color: var(--text); text-decoration: none; }
.banner .site-name a:hover { text-decoration: underline; }
.tagline { margin: 0.25rem 0 0; color: var(--muted); }

.hint { margin-top: 0; color: var(--muted); }
.count { color: var(--muted); font-size: 0.9rem; font-weight: 400; }
p.count { margin-top: 0; }

.channels { list-style: none; margin: 0; padding: 0; display: grid; gap: 1rem; }
.channel {
  padding: 1rem;
  background: var(--surface);
  border: 1px solid var(--border);
  border-radius: 0.5rem;
}

.feed-urls { list-style: none; margin: 0; padding: 0; display: grid; gap: 0.4rem; }
.feed-url {
  display: grid;
  grid-template-columns: 6.5rem minmax(0, 1fr) auto;
  gap: 0.5rem;
  align-items: center;
}
.feed-url .format { font-weight: 600; white-space: nowrap; }
.feed-url input {
  width: 100%;
  min-width: 0;
  padding: 0.35rem 0.5rem;
  font: 0.85rem/1.3 ui-monospace, SFMono-Regular, Menlo, Consolas, monospace;
  color: var(--text);
  background: var(--background);
  border: 1px solid var(--border);
  border-radius: 0.3rem;
}
.copy {
  min-width: 5.5rem;
  padding: 0.35rem 0.8rem;
  font: inherit;
  font-size: 0.9rem;
  color: var(--surface);
  background: var(--link);
  border: 1px solid var(--link);
  border-radius: 0.3rem;
  cursor: pointer;
}
.copy:hover { filter: brightness(1.1); }
.copy:focus-visible, .feed-url input:focus-visible { outline: 2px solid var(--accent); outline-offset: 2px; }
.copy.copied { background: var(--done); border-color: var(--done); }

.subscribe > .channel { margin-bottom: 1rem; }
.opml { color: var(--muted); font-size: 0.95rem; }

.articles { list-style: none; margin: 0; padding: 0; }
.articles li { padding: 0.6rem 0; border-bottom: 1px solid var(--border); }
.articles li:last-child { border-bottom: 0; }
.articles .title { display: block; font-weight: 600; text-decoration: none; }
.articles .title:hover { text-decoration: underline; }
.meta { display: block; color: var(--muted); font-size: 0.9rem; }
p.meta { margin: 0 0 1.25rem; }
time { font-variant-numeric: tabular-nums; }

.summary p { margin: 0 0 1rem; font-size: 1.05rem; }
.back { margin-top: 2rem; }
.empty { color: var(--muted); font-style: italic; }

.site-footer {
  margin-top: 3rem;
  padding-top: 1rem;
  border-top: 1px solid var(--border);
  color: var(--muted);
  font-size: 0.9rem;
}

@media (max-width: 34rem) {
  body { padding: 1rem 0.75rem 2rem; }
  h1, .banner h1.site-name { font-size: 1.5rem; }
  .feed-urls { gap: 0.9rem; }
  .feed-url { grid-template-columns: minmax(0, 1fr) auto; row-gap: 0.2rem; }
  .feed-url .format { grid-column: 1 / -1; }
}
"""

SCRIPT = b"""\
// Copy buttons for feed addresses. The clipboard API needs a secure context
// (https or localhost); elsewhere the address is selected so that the reader
// can press Ctrl+C. Loaded as a file because the pages forbid inline script.
(function () {
  "use strict";

  var RESET_AFTER_MS = 2000;
  var COPY_KEYS = /Mac|iPhone|iPad/.test(navigator.platform) ? "\\u2318C" : "Ctrl+C";

  function fieldOf(button) {
    var row = button.closest(".feed-url");
    return row ? row.querySelector("input") : null;
  }

  function selectField(button) {
    var field = fieldOf(button);
    if (!field) {
      return false;
    }
    field.focus();
    field.select();
    return true;
  }

  function announce(button, message, copied) {
    if (!button.hasAttribute("data-label")) {
      button.setAttribute("data-label", button.textContent);
    }
    button.textContent = message;
    button.classList.toggle("copied", copied);
    window.clearTimeout(Number(button.getAttribute("data-timer")));
    var timer = window.setTimeout(function () {
      button.textContent = button.getAttribute("data-label");
      button.classList.remove("copied");
    }, RESET_AFTER_MS);
    button.setAttribute("data-timer", String(timer));
  }

  function copyBySelection(button) {
    var copied = false;
    if (selectField(button)) {
      try {
        copied = document.execCommand("copy");
      } catch (error) {
        copied = false;
      }
    }
    announce(button, copied ? "Copied" : "Press " + COPY_KEYS, copied);
  }

  function copy(event) {
    var button = event.currentTarget;
    var address = button.getAttribute("data-copy");
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(address).then(
        function () {
          selectField(button);
          announce(button, "Copied", true);
        },
        function () {
          copyBySelection(button);
        }
      );
    } else {
      copyBySelection(button);
    }
  }

  function selectAll(event) {
    event.currentTarget.select();
  }

  document.querySelectorAll("button[data-copy]").forEach(function (button) {
    button.setAttribute("aria-live", "polite");
    button.addEventListener("click", copy);
  });
  document.querySelectorAll(".feed-url input").forEach(function (field) {
    field.addEventListener("focus", selectAll);
  });
})();
"""
