"""The HTML pages: autodiscovery, copy buttons, escaping of hostile text,
compatibility with the strict Content-Security-Policy, dates and
determinism. Pages are parsed with lxml; one test drives headless Chromium."""

from __future__ import annotations

import collections
import dataclasses
import datetime as dt
import functools
import http.server
import shutil
import threading
from pathlib import Path
from urllib.parse import urljoin

import lxml.html
import pytest

import headless_chromium

from feedsvc.site import routes as urls
from feedsvc.config import load_config
from feedsvc.store.ingest import ingest
from feedsvc.core.models import Article, CategoryInfo
from feedsvc.site.pages import (
    FORMAT_TYPES,
    SCRIPT,
    STYLESHEET,
    article_page,
    category_page,
    index_page,
)

SEEDS = Path(__file__).resolve().parents[1] / "seeds"
SUBSCRIBE_HINT = (
    "Paste this address into your feed reader "
    "(NetNewsWire, Miniflux, FreshRSS, Feedly, newsboat...) to subscribe."
)
NOW = dt.datetime(2025, 6, 1, 12, 0, tzinfo=dt.timezone.utc)
BASE_URL = "https://news.example.org/feeds-site/"
CSP = "default-src 'none'; style-src 'self'; script-src 'self'; img-src 'self' data:"

HOSTILE = [
    "<script>alert(1)</script>",
    "</title><script>alert('title')</script>",
    '"quoted" & \'apostrophe\' <b>bold</b>',
    "&amp; &lt;b&gt; &#x3C;script&#x3E; already-escaped lookalikes",
    "<img src=x onerror=alert(1)> javascript:alert(1)",
    "<!-- comment --> ]]> <![CDATA[ x ]]>",
    "مرحبا بالعالم \u200f عنوان",
    "Parcels 📦🚢 and 𝔘𝔫𝔦𝔠𝔬𝔡𝔢 ✓",
]

# Everything the pages may contain; anything else would be injected markup.
ALLOWED_TAGS = {
    "html", "head", "meta", "title", "link", "script", "body", "header", "main", "footer",
    "section", "article", "nav", "div", "h1", "h2", "h3", "p", "a", "ul", "ol", "li",
    "span", "time", "input", "button",
}  # fmt: skip


def make_config(tmp_path: Path, **overrides: object):
    seeds = tmp_path / "seeds"
    seeds.mkdir(exist_ok=True)
    settings = {"base_url": BASE_URL, "site_title": "Test Site", "site_key": "test-site"}
    settings.update(overrides)
    return load_config(seeds, environ={}, **settings)


def make_article(**fields: object) -> Article:
    values: dict[str, object] = dict(
        id="abcdefghijklmnop",
        iri="urn:uuid:00000000-0000-5000-8000-000000000001",
        seq=1,
        title="Port Opens New Terminal",
        summary="First paragraph.\n\nSecond paragraph.",
        category="Logistics",
        category_slug="logistics",
        published=dt.datetime(2025, 3, 1, 20, 30, tzinfo=dt.timezone.utc),
        updated=dt.datetime(2025, 3, 1, 20, 30, tzinfo=dt.timezone.utc),
        first_seen=dt.datetime(2025, 3, 1, 20, 30, tzinfo=dt.timezone.utc),
        date_source="first_seen",
        page_date=None,
        pages=("000_latest.txt",),
    )
    values.update(fields)
    return Article(**values)  # type: ignore[arg-type]


def parse(body: bytes) -> lxml.html.HtmlElement:
    """The page, with every link resolved as a browser resolves it against
    the page's own (canonical) URL, and a folder's index.html named by its
    folder URL, which the server redirects it to."""
    tree = lxml.html.document_fromstring(body.decode("utf-8"))
    (page,) = tree.xpath('//link[@rel="canonical"]/@href')
    tree.rewrite_links(lambda link: page_url(urljoin(page, link)))
    return tree


def page_url(url: str) -> str:
    return url.removesuffix("index.html") if url.endswith("/index.html") else url


def absolute(config, path: str) -> str:
    return urls.absolute(config.site_url, path)


def alternates(tree: lxml.html.HtmlElement) -> list[tuple[str, str, str]]:
    return [(link.get("type"), link.get("href"), link.get("title")) for link in tree.xpath('//head/link[@rel="alternate"]')]


def feed_links(config, slug: str | None) -> list[tuple[str, str]]:
    return [(FORMAT_TYPES[fmt], absolute(config, urls.feed_path(slug, fmt))) for fmt in urls.FORMATS]


def copy_rows(tree: lxml.html.HtmlElement) -> list[tuple[str, str, str]]:
    """(data-copy, the text field's value, the format link) for each feed row."""
    rows = []
    for row in tree.xpath('//li[@class="feed-url"]'):
        (button,) = row.xpath(".//button")
        (field,) = row.xpath(".//input")
        (link,) = row.xpath(".//a")
        assert field.get("readonly") is not None
        assert button.get("type") == "button" and button.text_content() == "Copy"
        rows.append((button.get("data-copy"), field.get("value"), link.get("href")))
    return rows


@pytest.fixture(scope="module")
def sample(tmp_path_factory):
    """The bundled sample pages, ingested on a copy."""
    root = tmp_path_factory.mktemp("sample")
    seeds = root / "seeds"
    shutil.copytree(SEEDS, seeds, ignore=shutil.ignore_patterns("ledger*"))
    config = load_config(seeds, environ={}, base_url=BASE_URL)
    result = ingest(config, NOW)
    articles = result.articles(config.site_key)
    counts = collections.Counter(article.category_slug for article in articles)
    categories = [CategoryInfo(name, slug, counts[slug]) for name, slug in sorted(result.ledger.categories.items())]
    return config, categories, articles


def all_pages(config, categories, articles) -> dict[str, bytes]:
    category = categories[0]
    return {
        "index": index_page(config, categories, articles),
        "category": category_page(config, category, [a for a in articles if a.category_slug == category.slug]),
        "article": article_page(config, articles[0]),
    }


# --- structure -----------------------------------------------------------


def test_index_lists_categories_feeds_and_latest_articles(sample):
    config, categories, articles = sample
    tree = parse(index_page(config, categories, articles))

    assert tree.get("lang") == config.language
    assert tree.xpath("string(//title)") == config.site_title
    assert tree.xpath('//meta[@name="viewport"]')
    assert tree.xpath('//meta[@charset="utf-8"]')
    assert [(kind, href) for kind, href, _ in alternates(tree)] == feed_links(config, None)

    expected = [url for _, url in feed_links(config, None)]
    for category in categories:
        expected += [url for _, url in feed_links(config, category.slug)]
        (heading,) = tree.xpath(f'//li[@class="channel"]/h3[a/@href="{absolute(config, urls.html_path(category.slug))}"]')
        assert heading.xpath("string(a)") == category.name
        assert heading.xpath("string(span)") == f"{category.count} articles"
    assert [row[0] for row in copy_rows(tree)] == expected

    assert tree.xpath(f'//a[@href="{absolute(config, urls.OPML_PATH)}"]')
    assert SUBSCRIBE_HINT in tree.text_content()

    listed = tree.xpath('//ol[@class="articles"]/li')
    assert len(listed) == len(articles)
    for item, article in zip(listed, articles):
        (title,) = item.xpath('a[@class="title"]')
        assert title.text_content() == article.title
        assert title.get("href") == absolute(config, urls.article_path(article.id))
        assert dt.datetime.fromisoformat(item.xpath("string(.//time/@datetime)")) == article.published
        assert item.xpath("string(.//a[@class='category']/@href)") == absolute(config, urls.html_path(article.category_slug))


def test_category_page_has_its_own_feeds_first(sample):
    config, categories, articles = sample
    category = categories[-1]
    own = [a for a in articles if a.category_slug == category.slug]
    tree = parse(category_page(config, category, own))

    found = alternates(tree)
    assert [(kind, href) for kind, href, _ in found[:3]] == feed_links(config, category.slug)
    assert [(kind, href) for kind, href, _ in found[3:]] == feed_links(config, None)
    assert all(category.name in title for _, _, title in found[:3])
    assert [row[0] for row in copy_rows(tree)] == [url for _, url in feed_links(config, category.slug)]
    assert tree.xpath("string(//h1)") == category.name
    assert tree.xpath('//link[@rel="canonical"]/@href') == [absolute(config, urls.html_path(category.slug))]
    assert [a.get("href") for a in tree.xpath('//ol[@class="articles"]//a[@class="title"]')] == [
        absolute(config, urls.article_path(article.id)) for article in own
    ]


def test_article_page_shows_title_dates_category_and_paragraphs(tmp_path):
    config = make_config(tmp_path)
    article = make_article(
        summary="One.\n\nTwo, with more.\n\nThree.",
        updated=dt.datetime(2025, 3, 4, 9, 0, tzinfo=dt.timezone.utc),
    )
    tree = parse(article_page(config, article))

    assert [(kind, href) for kind, href, _ in alternates(tree)] == feed_links(config, None)
    assert tree.xpath("string(//h1)") == article.title
    assert [p.text_content() for p in tree.xpath('//div[@class="summary"]/p')] == ["One.", "Two, with more.", "Three."]
    moments = [dt.datetime.fromisoformat(value) for value in tree.xpath('//p[@class="meta"]/time/@datetime')]
    assert moments == [article.published, article.updated]
    assert tree.xpath('//p[@class="meta"]/a/@href') == [absolute(config, urls.html_path("logistics"))]
    assert absolute(config, urls.INDEX_PATH) in tree.xpath("//nav//a/@href")


def test_article_page_omits_updated_when_never_edited(tmp_path):
    tree = parse(article_page(make_config(tmp_path), make_article()))
    assert len(tree.xpath('//p[@class="meta"]/time')) == 1
    assert "updated" not in tree.xpath('string(//p[@class="meta"])')


def test_empty_site_still_offers_the_feeds(tmp_path):
    config = make_config(tmp_path)
    tree = parse(index_page(config, [], []))
    assert [row[0] for row in copy_rows(tree)] == [url for _, url in feed_links(config, None)]
    assert tree.xpath('//p[@class="empty"]')


def test_copy_button_field_and_link_carry_the_same_address(sample):
    config, categories, articles = sample
    for body in all_pages(config, categories, articles).values():
        for copied, shown, linked in copy_rows(parse(body)):
            assert copied == shown == linked


# --- links ---------------------------------------------------------------


@pytest.mark.parametrize("base_url", ["https://news.example.org/feeds-site/", "http://127.0.0.1:8000", "https://x.test/a/b/"])
def test_every_link_resolves_under_the_base_url_and_pages_link_relatively(tmp_path, base_url):
    config = make_config(tmp_path, base_url=base_url)
    article = make_article()
    pages = [
        index_page(config, [CategoryInfo("Logistics", "logistics", 1)], [article]),
        category_page(config, CategoryInfo("Logistics", "logistics", 1), [article]),
        article_page(config, article),
    ]
    for body in pages:
        raw = lxml.html.document_fromstring(body.decode("utf-8"))
        # Pages, the stylesheet and the script are linked relatively, and a
        # folder by its index.html, so an exported tree works from file://.
        internal = raw.xpath("//a[not(@type)]/@href | //link[@rel='stylesheet']/@href | //script/@src")
        assert internal and all("://" not in link and not link.endswith("/") for link in internal), internal
        # Feeds, copy boxes and the canonical URL stay absolute: a reader pastes them.
        pasted = raw.xpath("//a[@type]/@href | //link[@rel='alternate' or @rel='canonical']/@href | //button/@data-copy | //input/@value")
        assert pasted and all(link.startswith(config.site_url) for link in pasted), pasted
        tree = parse(body)
        addresses = tree.xpath("//a/@href | //link/@href | //script/@src | //button/@data-copy | //input/@value")
        for address in addresses:
            assert address == "data:," or address.startswith(config.site_url), address
        assert tree.xpath("//script/@src") == [absolute(config, urls.SCRIPT_PATH)]
        assert tree.xpath('//link[@rel="stylesheet"]/@href') == [absolute(config, urls.STYLESHEET_PATH)]


# --- hostile text ----------------------------------------------------------


def hostile_pages(tmp_path: Path, text: str) -> tuple[object, Article, CategoryInfo, dict[str, bytes]]:
    config = make_config(tmp_path, site_title=f"Site {text}", site_subtitle=f"Sub {text}")
    article = make_article(title=f"Title {text}", summary=f"First {text}\n\nSecond {text}", category=f"Cat {text}")
    category = CategoryInfo(article.category, article.category_slug, 1)
    pages = {
        "index": index_page(config, [category], [article]),
        "category": category_page(config, category, [article]),
        "article": article_page(config, article),
    }
    return config, article, category, pages


@pytest.mark.parametrize("text", HOSTILE)
def test_hostile_text_is_escaped_and_round_trips(tmp_path, text):
    config, article, category, pages = hostile_pages(tmp_path, text)
    for name, body in pages.items():
        tree = parse(body)
        assert {element.tag for element in tree.iter() if isinstance(element.tag, str)} <= ALLOWED_TAGS, name
        (script,) = tree.xpath("//script")
        assert script.get("src") == absolute(config, urls.SCRIPT_PATH) and not script.text_content()
        assert tree.xpath('//meta[@name="description"]/@content') == [config.site_subtitle]
        assert all(title.startswith(config.site_title) for _, _, title in alternates(tree))
        assert tree.xpath("//footer/p/a[1]")[0].text_content() == config.site_title
        assert tree.xpath("//title")[0].text_content().endswith(config.site_title)
        assert b"<script>alert" not in body and b"<img" not in body

    index = parse(pages["index"])
    assert index.xpath("//h1")[0].text_content() == config.site_title
    assert index.xpath('//p[@class="tagline"]')[0].text_content() == config.site_subtitle
    assert index.xpath('//a[@class="title"]')[0].text_content() == article.title
    assert [a.text_content() for a in index.xpath('//a[@class="category"]')] == [category.name, article.category]
    assert any(label.endswith(category.name) for label in index.xpath("//input/@aria-label"))

    category_tree = parse(pages["category"])
    assert category_tree.xpath("//h1")[0].text_content() == category.name
    assert category_tree.xpath("//title")[0].text_content() == f"{category.name} · {config.site_title}"

    article_tree = parse(pages["article"])
    assert article_tree.xpath("//title")[0].text_content() == f"{article.title} · {config.site_title}"
    assert article_tree.xpath("//h1")[0].text_content() == article.title
    assert [p.text_content() for p in article_tree.xpath('//div[@class="summary"]/p')] == article.paragraphs
    assert article_tree.xpath('//p[@class="meta"]/a')[0].text_content() == article.category


@pytest.mark.parametrize("text", HOSTILE)
def test_pages_obey_the_content_security_policy(tmp_path, text):
    """No inline script, no inline style, no event handler attributes, no
    javascript: URLs: the CSP would block them (or they would be injections)."""
    *_, pages = hostile_pages(tmp_path, text)
    for body in pages.values():
        tree = parse(body)
        assert not tree.xpath("//style | //*[@style]")
        assert all(script.get("src") and not script.text_content() for script in tree.xpath("//script"))
        for element in tree.iter():
            if not isinstance(element.tag, str):
                continue
            assert not [name for name in element.attrib if name.lower().startswith("on")]
            assert not any(value.strip().lower().startswith("javascript:") for value in element.attrib.values())


def test_assets_are_plain_utf8_and_need_no_inline_code():
    script, stylesheet = SCRIPT.decode("utf-8"), STYLESHEET.decode("utf-8")
    assert "<" not in stylesheet  # a stray tag would mean markup pasted into the CSS
    assert "eval(" not in script and "innerHTML" not in script  # both need looser CSP or invite injection


# --- dates -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("zone", "moment", "shown"),
    [
        ("UTC", "2025-03-01T20:30:00+00:00", "2025-03-01"),
        ("Asia/Tokyo", "2025-03-02T05:30:00+09:00", "2025-03-02"),
        ("America/New_York", "2025-03-01T15:30:00-05:00", "2025-03-01"),
    ],
)
def test_dates_are_shown_in_the_site_time_zone(tmp_path, zone, moment, shown):
    config = make_config(tmp_path, timezone=zone)
    article = make_article()  # published 2025-03-01 20:30 UTC
    for body in (article_page(config, article), index_page(config, [], [article])):
        (time,) = parse(body).xpath("//main//time")
        assert time.get("datetime") == moment
        assert time.text_content() == shown
        assert dt.datetime.fromisoformat(time.get("datetime")) == article.published


# --- determinism -------------------------------------------------------------


def test_same_input_gives_same_bytes_whatever_was_rendered_before(sample, tmp_path):
    config, categories, articles = sample
    first = all_pages(config, categories, articles)
    other = dataclasses.replace(config, base_url="https://other.example/", timezone="Asia/Tokyo", site_title="Other")
    other_pages = all_pages(other, categories, articles)
    again = all_pages(dataclasses.replace(config), categories, articles)

    assert again == first
    assert all(b"news.example.org" not in body for body in other_pages.values())
    assert all(b"other.example" not in body for body in first.values())


# --- a real browser ----------------------------------------------------------


class _StaticHandler(http.server.SimpleHTTPRequestHandler):
    """Serves rendered files with the security headers the site sends."""

    def end_headers(self) -> None:
        self.send_header("Content-Security-Policy", CSP)
        self.send_header("X-Content-Type-Options", "nosniff")
        super().end_headers()

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def served_index(sample, tmp_path):
    """The sample index page, style.css and copy.js served on 127.0.0.1 under
    the site's CSP; yields (url, the page's bytes)."""
    _, categories, articles = sample
    root = tmp_path / "site"
    root.mkdir()
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_StaticHandler, directory=str(root)))
    config = load_config(tmp_path, environ={}, base_url=f"http://127.0.0.1:{server.server_port}/")
    page = index_page(config, categories, articles)
    (root / "index.html").write_bytes(page)
    (root / "style.css").write_bytes(STYLESHEET)
    (root / "copy.js").write_bytes(SCRIPT)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield absolute(config, urls.INDEX_PATH), page
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="module")
def browser():
    if headless_chromium.executable() is None:
        pytest.skip("chromium is not installed")
    with headless_chromium.Chromium() as chromium:
        yield chromium


# Clicks one copy button and reports what the reader would then see.
CLICK = """
(async (index) => {
  const button = document.querySelectorAll("button[data-copy]")[index];
  const labels = [];
  new MutationObserver(() => labels.push(button.textContent)).observe(button, {childList: true});
  button.click();
  for (let wait = 0; wait < 100 && labels.length === 0; wait++) {
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  const field = document.activeElement;
  return {
    address: button.getAttribute("data-copy"),
    feedback: labels[0] || null,
    selected: field && field.value ? field.value.substring(field.selectionStart, field.selectionEnd) : null,
    clipboard: %s,
  };
})(%d)
"""


def click(page: headless_chromium.Page, index: int, read_clipboard: bool, gesture: bool) -> dict:
    reader = "await navigator.clipboard.readText()" if read_clipboard else "null"
    return page.evaluate(CLICK % (reader, index), user_gesture=gesture)


@pytest.mark.readers
def test_copy_buttons_put_the_feed_address_on_the_clipboard(browser, served_index):
    url, body = served_index
    page = browser.open(url, clipboard=True)
    expected = [row[0] for row in copy_rows(parse(body))]

    results = [click(page, index, read_clipboard=True, gesture=True) for index in range(len(expected))]

    assert [result["address"] for result in results] == expected
    for result in results:
        assert result["feedback"] == "Copied"
        assert result["clipboard"] == result["address"]
        assert result["selected"] == result["address"]
    assert page.csp_violations() == []


@pytest.mark.readers
def test_copy_buttons_select_the_address_without_clipboard_access(browser, served_index):
    url, body = served_index
    page = browser.open(url, clipboard=False)
    expected = [row[0] for row in copy_rows(parse(body))]

    results = [click(page, index, read_clipboard=False, gesture=False) for index in range(len(expected))]

    for result, address in zip(results, expected):
        # Without the clipboard API the script selects the address and asks
        # for the copy shortcut, unless the browser's copy command still works.
        assert result["feedback"] in {"Copied", "Press Ctrl+C"}
        assert result["selected"] == address
    assert page.csp_violations() == []


@pytest.mark.readers
def test_index_in_chromium_is_styled_and_discoverable(browser, served_index):
    url, body = served_index
    page = browser.open(url)
    seen = page.evaluate(
        """({
          alternates: [...document.querySelectorAll('link[rel="alternate"]')].map((l) => [l.type, l.href]),
          categories: [...document.querySelectorAll(".channels h3 a")].map((a) => a.textContent),
          hint: document.querySelector(".hint").innerText,
          buttonBackground: getComputedStyle(document.querySelector("button.copy")).backgroundColor,
          bodyWidth: document.body.getBoundingClientRect().width,
        })"""
    )
    tree = parse(body)
    assert seen["alternates"] == [[kind, href] for kind, href, _ in alternates(tree)]
    assert seen["categories"] == tree.xpath('//ul[@class="channels"]//h3/a/text()')
    assert seen["hint"] == SUBSCRIBE_HINT
    # The stylesheet loaded under the CSP: a coloured button, a bounded column.
    assert seen["buttonBackground"] not in {"", "rgba(0, 0, 0, 0)", "rgb(239, 239, 239)"}
    assert seen["bodyWidth"] <= 52 * 16
    assert page.csp_violations() == []
