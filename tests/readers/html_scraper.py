"""The simulated scraper's HTML day: the site saved as HTML listing pages,
with a menu, a sidebar and a footer, read by feedsvc in text mode. Each
story links to its original article on the simulated site."""

from __future__ import annotations

import html


def source_link(serial: int) -> str:
    """Where the simulated site keeps story `serial`, as feeds must show it."""
    return f"https://trade-desk.example/stories/{serial}.html"


def render_html(number: int, page: list, with_trailers: bool) -> str:
    """Page `number` of the listing as the site's HTML. `page` holds the
    stories (title, paragraphs, date, category, serial) top first."""
    cards = []
    for story in page:
        href = html.escape(source_link(story.serial) + "?utm_source=listing&utm_medium=web#top", quote=True)
        title = html.escape(story.title)
        paragraphs = "".join(f"<p>{html.escape(p)}</p>" for p in story.paragraphs)
        trailer = ""
        if with_trailers:
            trailer = f'<p class="meta">{story.date:%m/%d/%Y} {html.escape(story.category)}</p><a class="more" href="{href}">Read More</a>'
        cards.append(
            f'<article class="story"><a class="thumb" href="{href}"><span>{title}</span></a>'
            f'<h2><a href="{href}">{title}</a></h2>{paragraphs}{trailer}</article>'
        )
    body = "\n".join(cards)
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Simulated Trade Desk - page {number}</title>
<link rel="canonical" href="https://trade-desk.example/news/page/{number}"><script>var t = "Read More";</script></head>
<body><header><nav><a href="/">Home</a> <a href="/customs">Customs</a> <a href="javascript:void(0)">Menu</a></nav></header>
<main>
{body}
</main>
<aside><h3>Most read</h3><ul><li><a href="/popular">Popular this week</a></li></ul></aside>
<footer><p>Simulated Trade Desk. All rights reserved.</p></footer></body></html>
"""


def link_problems(day, truth, articles: list[dict], opened: dict[str, dict[str, str]]) -> list[str]:
    """On the HTML day every story the site lists has its source link, in
    `feedsvc articles` and in what each reader opens (`opened`: feed URL ->
    entry title -> the link the reader follows)."""
    where = f"day {day.number}"
    listed = {serial for page in day.listing for serial in page}
    titles = truth.by_title()
    problems = []
    for article in articles:
        serial = titles.get(article["title"].casefold())
        if serial in listed and article["link"] != source_link(serial):
            problems.append(f"{where}: {article['title']!r} has link {article['link']!r}, expected {source_link(serial)!r}")
    for url, links in opened.items():
        for title, link in links.items():
            serial = titles.get(title.casefold())
            if serial in listed and link != source_link(serial):
                problems.append(f"{where}: the reader opens {link!r} for {title!r} from {url}, not the source")
    if not any(link.startswith("https://trade-desk.example/") for links in opened.values() for link in links.values()):
        problems.append(f"{where}: no reader entry opens a source link")
    return problems
