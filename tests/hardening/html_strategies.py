"""Hypothesis strategies for HTML listing pages: cards of the card grammar
dressed in markup (random nesting, hidden and script elements, hostile
hrefs and dates), then damaged at the byte level like text pages."""

from __future__ import annotations

import html

from hypothesis import strategies as st

from .strategies import card, encode_line, headline, mutation, summary_paragraph, wild_text

HREFS = st.one_of(
    st.sampled_from(["https://ex.org/a?utm_source=x", "/relative", "javascript:alert(1)", "data:text/html,x", "  ", "#top", "http://[::1", "//ex.org/b"]),
    wild_text(20),
)
DATES = st.one_of(st.sampled_from(["2025-07-29", "July 29, 2025", "29.07.2025", "Jul 29", "2025-07-29T10:00:00+14:00", "31/31/2025"]), wild_text(12))
WRAPPERS = st.sampled_from(["div", "span", "b", "section", "li", "p", "script", "style", "template", "nav"])
# The [html] tables the fuzzed pages are read with.
SETTINGS = (
    '[html]\nmode = "text"\n',
    '[html]\ncard = ".card"\ntitle = ".title"\nsummary = ".summary"\ndate = ".date"\ncategory = ".cat"\npage_url = "https://ex.org/list/"\n',
    '[html]\ncard = ".card"\ntitle = ".title"\nlink = "a.more"\ndate = "time"\ndayfirst = true\ndate_format = "%d.%m.%Y"\n',
)


def _escaped(text: str, raw: bool) -> str:
    return text if raw else html.escape(text)


@st.composite
def html_card(draw: st.DrawFn) -> str:
    raw = draw(st.booleans())  # unescaped text: markup from the page itself
    title = _escaped(draw(headline()), raw)
    summary = "".join(f"<p>{_escaped(p, raw)}</p>" for p in draw(st.lists(summary_paragraph(), max_size=3)))
    href = html.escape(draw(HREFS), quote=True)
    date = html.escape(draw(DATES), quote=True)
    text_lines = "<br>".join(html.escape(line) for line in draw(card()))
    inner = (
        f'<h2 class="title"><a href="{href}">{title}</a></h2><div class="summary">{summary}</div>'
        f'<time datetime="{date}" class="date">{date}</time><span class="cat">{_escaped(draw(wild_text(10)), raw)}</span>'
        f'<a class="more" href="{href}">Read More</a><div>{text_lines}</div>'
    )
    for tag in draw(st.lists(WRAPPERS, max_size=4)):
        inner = f"<{tag}>{inner}</{tag}>"
    return f'<article class="card">{inner}</article>'


@st.composite
def html_page_bytes(draw: st.DrawFn) -> bytes:
    cards = "\n".join(draw(st.lists(html_card(), max_size=8)))
    head = draw(st.sampled_from(["", '<meta charset="utf-8">', '<meta charset="windows-1252">', '<base href="https://ex.org/x/">', '<meta charset="bogus">']))
    depth = draw(st.integers(0, 400))
    page = f"<!DOCTYPE html><html><head>{head}</head><body>{'<div>' * depth}{cards}</body></html>"
    data = encode_line(page, draw(st.sampled_from(["utf-8", "cp1252"])))
    for _ in range(draw(st.integers(0, 3))):
        data = draw(mutation(data))
    return data


def raw_html_pages() -> st.SearchStrategy[bytes]:
    return st.one_of(st.binary(max_size=2000), html_page_bytes())
