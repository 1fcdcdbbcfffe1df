"""The plain-lxml baseline for the build benchmark: read a feedsvc ledger
and write the site's Atom and RSS documents (subscription feeds and RFC 5005
archives, for the whole site and each category) as one lxml tree per
document, serialized by lxml.

    python bench/lxml_baseline.py SEEDS LEDGER OUT [TIMINGS.json]

It aims at the bytes feedsvc writes for the benchmark corpus, which has no
withdrawals and no edits; the benchmark checks the files against feedsvc's
and reports how many are byte-identical. Ids and site settings are data, so
they come from feedsvc (feedsvc.text, feedsvc.config); the division into
documents and all the markup are done here.
"""

from __future__ import annotations

import datetime as dt
import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from lxml import etree

from feedsvc.config import load_config
from feedsvc.core.text import article_iri, feed_iri, site_namespace

ATOM = "http://www.w3.org/2005/Atom"
HISTORY = "http://purl.org/syndication/history/1.0"
CONTENT = "http://purl.org/rss/1.0/modules/content/"
ATOM_TYPE = "application/atom+xml"
RSS_TYPE = "application/rss+xml"
RSS_DOCS = "https://www.rssboard.org/rss-specification"
A = "{%s}" % ATOM


@dataclass
class Item:
    seq: int
    iri: str
    url: str
    title: str
    content: str
    slug: str
    label: str
    published: dt.datetime
    updated: dt.datetime
    change: dt.datetime  # when the ledger last saw it change


def read_items(ledger: Path, site_key: str, site_url: str) -> tuple[list[Item], dict[str, str]]:
    namespace = site_namespace(site_key)
    records, categories = [], {}
    with ledger.open(encoding="utf-8") as lines:
        next(lines)
        for line in lines:
            row = json.loads(line)
            if row["kind"] == "category":
                categories[row["name"]] = row["slug"]
            elif row["kind"] == "article" and not row["withdrawn"]:
                records.append(row)
    items = []
    for row in records:
        published, updated, first_seen = (dt.datetime.fromisoformat(row[k]) for k in ("published", "updated", "first_seen"))
        paragraphs = [p for p in row["summary"].split("\n\n") if p]
        items.append(
            Item(
                seq=row["seq"],
                iri=article_iri(namespace, row["id"]),
                url=f"{site_url}articles/{row['id']}/",
                title=row["title"],
                content="<p>" + "</p>\n<p>".join(_escape(p) for p in paragraphs) + "</p>",
                slug=categories[row["category"]],
                label=row["category"],
                published=published,
                updated=updated,
                change=max(first_seen, updated) if updated > published else first_seen,
            )
        )
    return items, categories


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


@dataclass
class Document:
    path: str
    title: str
    html_url: str
    items: list[Item]  # display order
    updated: dt.datetime
    links: list[tuple[str, str]]  # (rel, path without the format)
    archive: bool


def documents(items: list[Item], categories: dict[str, str], config) -> list[Document]:
    """The subscription feed and archives of the whole site and of each
    category, as feedsvc divides them when nothing was edited or withdrawn."""
    site_url = config.site_url
    in_seq = sorted(items, key=lambda i: i.seq)
    site_updated = max((i.change for i in items), default=dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc))
    feeds = [(None, config.site_title, site_url, in_seq)]
    for name, slug in sorted(categories.items(), key=lambda pair: pair[1]):
        members = [i for i in in_seq if i.slug == slug]
        feeds.append((slug, f"{config.site_title}: {name}", f"{site_url}categories/{slug}/", members))
    docs = []
    for slug, title, html_url, recorded in feeds:
        base = "/feeds/all" if slug is None else f"/feeds/category/{slug}"
        size, step = config.feed_size, config.archive_size
        window, archived = recorded[-size:], recorded[:-size] if len(recorded) > size else []
        blocks = [archived[i : i + step] for i in range(0, len(archived), step)]
        if blocks and len(blocks[-1]) == step:
            blocks.append([])
        newest = max((n for n, block in enumerate(blocks, 1) if block), default=0)
        links = [("prev-archive", f"{base}/archive/{newest}")] if newest else []
        docs.append(Document(base, title, html_url, display(window), updated(window, site_updated), links, False))
        for number, block in enumerate(blocks, 1):
            links = [("current", base)]
            if number > 1:
                links.append(("prev-archive", f"{base}/archive/{number - 1}"))
            if number < len(blocks):
                links.append(("next-archive", f"{base}/archive/{number + 1}"))
            when = updated(block or blocks[number - 2], site_updated)
            docs.append(Document(f"{base}/archive/{number}", title, html_url, display(block), when, links, True))
    return docs


def display(items: list[Item]) -> list[Item]:
    return sorted(items, key=lambda i: (i.published, i.seq), reverse=True)


def updated(items: list[Item], fallback: dt.datetime) -> dt.datetime:
    return max((i.change for i in items), default=fallback)


def rfc822(moment: dt.datetime) -> str:
    days = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
    months = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
    return f"{days[moment.weekday()]}, {moment.day:02d} {months[moment.month - 1]} {moment.year} {moment:%H:%M:%S} +0000"


def atom(doc: Document, config, namespace) -> bytes:
    nsmap = {"fh": HISTORY, None: ATOM} if doc.archive else {None: ATOM}
    feed = etree.Element(A + "feed", nsmap=nsmap)
    feed.set("{http://www.w3.org/XML/1998/namespace}lang", config.language)
    sub = etree.SubElement
    sub(feed, A + "id").text = feed_iri(namespace, doc.path + ".atom")
    sub(feed, A + "title").text = doc.title
    sub(feed, A + "updated").text = doc.updated.isoformat()
    sub(sub(feed, A + "author"), A + "name").text = config.author_name
    sub(feed, A + "link", href=config.site_url + doc.path[1:] + ".atom", rel="self", type=ATOM_TYPE)
    sub(feed, A + "link", href=doc.html_url, rel="alternate", type="text/html")
    for rel, path in doc.links:
        sub(feed, A + "link", href=config.site_url + path[1:] + ".atom", rel=rel, type=ATOM_TYPE)
    sub(feed, A + "generator").text = "feedsvc"
    sub(feed, A + "subtitle").text = config.site_subtitle
    if doc.archive:
        sub(feed, f"{{{HISTORY}}}archive")
    for item in doc.items:
        entry = sub(feed, A + "entry")
        sub(entry, A + "id").text = item.iri
        sub(entry, A + "title").text = item.title
        sub(entry, A + "updated").text = item.updated.isoformat()
        sub(entry, A + "content", type="html").text = item.content
        sub(entry, A + "link", href=item.url)
        sub(entry, A + "category", term=item.slug, label=item.label)
        sub(entry, A + "published").text = item.published.isoformat()
    return etree.tostring(feed, xml_declaration=True, encoding="UTF-8")


def rss(doc: Document, config) -> bytes:
    nsmap = {"atom": ATOM, "content": CONTENT}
    if doc.archive:
        nsmap = {"fh": HISTORY, **nsmap}
    root = etree.Element("rss", nsmap=nsmap, version="2.0")
    sub = etree.SubElement
    channel = sub(root, "channel")
    sub(channel, "title").text = doc.title
    sub(channel, "link").text = doc.html_url
    sub(channel, "description").text = config.site_subtitle
    sub(channel, A + "link", href=config.site_url + doc.path[1:] + ".rss", rel="self", type=RSS_TYPE)
    sub(channel, "docs").text = RSS_DOCS
    sub(channel, "generator").text = "feedsvc"
    sub(channel, "language").text = config.language
    sub(channel, "lastBuildDate").text = rfc822(doc.updated)
    for rel, path in doc.links:
        sub(channel, A + "link", rel=rel, href=config.site_url + path[1:] + ".rss")
    if doc.archive:
        sub(channel, f"{{{HISTORY}}}archive")
    for item in doc.items:
        element = sub(channel, "item")
        sub(element, "title").text = item.title
        sub(element, "link").text = item.url
        sub(element, "description").text = item.content
        sub(element, "guid", isPermaLink="false").text = item.iri
        sub(element, "category").text = item.label
        sub(element, "pubDate").text = rfc822(item.published)
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


def write(out: Path, relative: str, body: bytes, folders: set[Path]) -> None:
    path = out / relative
    if path.parent not in folders:
        path.parent.mkdir(parents=True, exist_ok=True)
        folders.add(path.parent)
    path.write_bytes(body)


def main(seeds: Path, ledger: Path, out: Path, timings_file: Path | None) -> None:
    started = time.perf_counter()
    config = load_config(seeds, ledger)
    items, categories = read_items(ledger, config.site_key, config.site_url)
    loaded = time.perf_counter()
    namespace = site_namespace(config.site_key)
    folders: set[Path] = set()
    count = 0
    for doc in documents(items, categories, config):
        write(out, doc.path[1:] + ".atom", atom(doc, config, namespace), folders)
        write(out, doc.path[1:] + ".rss", rss(doc, config), folders)
        count += 2
    done = time.perf_counter()
    timings = json.dumps({"files": count, "load": loaded - started, "render_write": done - loaded})
    if timings_file:
        timings_file.write_text(timings)
    print(timings)


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3]), Path(sys.argv[4]) if len(sys.argv) > 4 else None)
