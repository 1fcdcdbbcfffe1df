"""Headless Chromium on the served pages: the rendered index shows every
category with its feeds, carries the autodiscovery links and the subscribe
instructions, and its script ran under the page's own CSP; every feed link
answers 200 directly; a real mouse click on a copy button puts the address
on the clipboard, and the page can be photographed.
(tests/readers/test_chromium.py checks every copy button and every link of
the index, category and article pages.)"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urljoin

import pytest

from .browser import HEIGHT, WIDTH, click_copy_button, dump_dom, executable, png_size
from .harness import Server, fetch, opml_feeds

pytestmark = pytest.mark.readers

FEED_TYPES = {
    ".atom": "application/atom+xml",
    ".rss": "application/rss+xml",
    ".json": "application/feed+json",
    ".opml": "text/x-opml",
}


@pytest.fixture(autouse=True)
def chromium() -> None:
    if executable() is None:
        pytest.skip("chromium is not installed (Debian package chromium; .ci/run installs it)")


@pytest.fixture(scope="module")
def rendered(sample_server: Server) -> dict[str, object]:
    """The index and the first category page as Chromium renders them."""
    if executable() is None:
        pytest.skip("chromium is not installed (Debian package chromium; .ci/run installs it)")
    index = dump_dom(sample_server.url)
    category = index.xpath('//section[@class="categories"]//h3/a/@href')[0]
    # Pages link relatively, as a browser resolves against the page's URL.
    return {"index": index, "category": dump_dom(urljoin(sample_server.url, category))}


def alternates(dom) -> list[tuple[str, str]]:
    return [(link.get("type"), link.get("href")) for link in dom.xpath('//head/link[@rel="alternate"]')]


def feed_type(url: str) -> str | None:
    return next((kind for suffix, kind in FEED_TYPES.items() if url.endswith(suffix)), None)


def test_rendered_index_shows_categories_autodiscovery_and_instructions(sample_server: Server, rendered: dict) -> None:
    dom = rendered["index"]
    overall = [sample_server.absolute(f"/feeds/all{suffix}") for suffix in (".atom", ".rss", ".json")]
    assert alternates(dom) == [(feed_type(url), url) for url in overall]

    categories = [url for url in opml_feeds(sample_server) if "/category/" in url]
    shown = dom.xpath('//section[@class="categories"]//h3/a[@class="category"]')
    assert len(shown) == len(categories) > 0
    for link, feed in zip(shown, categories):
        slug = feed.rsplit("/", 1)[1].removesuffix(".atom")
        href = urljoin(sample_server.url, link.get("href"))
        assert href == sample_server.absolute(f"/categories/{slug}/index.html") and link.text_content().strip()

    assert "Paste this address into your feed reader" in dom.text_content()
    buttons = dom.xpath("//button[@data-copy]")
    assert {b.get("data-copy") for b in buttons} >= set(overall) | set(categories)
    # copy.js, loaded under the page's Content-Security-Policy, has run.
    assert all(button.get("aria-live") == "polite" for button in buttons)


def test_every_feed_link_on_the_rendered_pages_answers_200(sample_server: Server, rendered: dict) -> None:
    checked = 0
    for dom in rendered.values():
        assert alternates(dom), "no autodiscovery links"
        links = {href for href in dom.xpath("//a/@href | //link/@href | //button/@data-copy") if feed_type(href)}
        for url in links:
            reply = fetch(url)
            assert reply.status == 200, f"{url} answered {reply.status}"
            assert reply.headers["Content-Type"].startswith(feed_type(url)), f"{url}: {reply.headers['Content-Type']}"
            checked += 1
    assert checked >= 2 * len(opml_feeds(sample_server))


def test_mouse_click_on_copy_button_copies_the_address(sample_server: Server, tmp_path: Path) -> None:
    copied = click_copy_button(sample_server.url)
    assert copied.address == sample_server.absolute("/feeds/all.atom")
    assert copied.label == "Copied" and copied.clipboard == copied.address
    shot = tmp_path / "screenshot-browser-test.png"
    shot.write_bytes(copied.screenshot)
    assert png_size(shot.read_bytes()) == (WIDTH, HEIGHT)
