"""The root of an instance of several sites: an HTML page listing every
site with its feeds and newest articles, and an OPML file of every feed of
every site. Both are made from each site's `Card` (`cards`), so the server and the static
export write the same bytes. Pure: values in, bytes out."""

from __future__ import annotations

from dataclasses import dataclass

from lxml import etree

from feedsvc.config import GENERATOR
from feedsvc.site import pages
from feedsvc.site import routes as urls
from feedsvc.site.cards import Card
from feedsvc.site.entries import xml_safe
from feedsvc.site.feeds import OPML_DOCS

TITLE = "All sites"
# Where the root's own documents live; with a site mounted at `/`, that
# site keeps `/` and `/feeds.opml`, and the list of sites moves aside.
INDEX_PATH, OPML_PATH = urls.INDEX_PATH, urls.OPML_PATH
ASIDE_INDEX_PATH, ASIDE_OPML_PATH = "/sites/", "/sites.opml"


@dataclass(frozen=True)
class Placed:
    """A site's card where the instance publishes it: `name`, under `prefix`."""

    name: str
    prefix: str
    card: Card


def paths(root_site: str | None) -> tuple[str, str]:
    """The root index's and the root OPML's paths."""
    return (ASIDE_INDEX_PATH, ASIDE_OPML_PATH) if root_site else (INDEX_PATH, OPML_PATH)


def index_page(placed: list[Placed], site_url: str, root_site: str | None) -> bytes:
    """The page listing every site."""
    index, opml = paths(root_site)
    return pages.instance_page(TITLE, [_view(item, index) for item in placed], site_url, index, opml)


def _view(item: Placed, page: str) -> dict:
    """One site as the page shows it: links into it relative to `page`."""
    card = item.card

    def link(path: str) -> str:
        return urls.relative(page, item.prefix + path.lstrip("/"))

    return {
        "name": item.name,
        "title": card.title,
        "subtitle": card.subtitle,
        "articles": card.articles,
        "link": link(urls.INDEX_PATH),
        "feeds": [{"title": title, "atom": card.absolute(feed), "page": link(page_path)} for title, feed, page_path in card.feeds],
        "newest": [{"title": title, "link": link(path), "datetime": moment, "date": date} for title, path, moment, date in card.newest],
    }


def opml(placed: list[Placed]) -> bytes:
    """OPML 2.0: one folder per site holding its feeds, each feed by its
    Atom URL. It carries no dates, like each site's own OPML."""
    root = etree.Element("opml", version="2.0")
    head = etree.SubElement(root, "head")
    etree.SubElement(head, "title").text = TITLE
    etree.SubElement(head, "ownerName").text = GENERATOR
    etree.SubElement(head, "docs").text = OPML_DOCS
    body = etree.SubElement(root, "body")
    for item in placed:
        card = item.card
        folder = etree.SubElement(body, "outline", text=xml_safe(card.title), title=xml_safe(card.title))
        for title, feed, page in card.feeds:
            etree.SubElement(
                folder, "outline", type="rss", text=xml_safe(title), title=xml_safe(title), xmlUrl=card.absolute(feed), htmlUrl=card.absolute(page)
            )
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)


def documents(placed: list[Placed], site_url: str, root_site: str | None) -> dict:
    """Every document the root publishes, by path (`model.Resource`s):
    the index, the OPML and, unless a site holds `/`, the stylesheet."""
    from feedsvc.site.model import Resource

    index, opml_path = paths(root_site)
    # No Last-Modified: the list changes when a site leaves it too, which
    # no site's date would tell; the ETag alone revalidates it.
    found = {
        index: Resource(index_page(placed, site_url, root_site), urls.content_type_for(index), None),
        opml_path: Resource(opml(placed), urls.content_type_for(opml_path), None),
    }
    if root_site is None:
        found[urls.STYLESHEET_PATH] = Resource(pages.STYLESHEET, urls.content_type_for(urls.STYLESHEET_PATH), None)
    return found
