"""A real browser on the served site: headless Chromium loads the index,
category and article pages from gunicorn, under the server's own
Content-Security-Policy. A subscriber finds the feeds there and can copy them,
and every link on the pages answers 200 without a redirect."""

from __future__ import annotations

from typing import Iterator
from urllib.parse import urljoin

import pytest

import headless_chromium

from .browser import png_size
from .conftest import need
from .harness import Server, fetch, opml_feeds, subscription_feeds

pytestmark = pytest.mark.readers

HINT = "Paste this address into your feed reader"
FEED_TYPES = ["application/atom+xml", "application/rss+xml", "application/feed+json"]

SEEN = """({
  alternates: [...document.querySelectorAll('link[rel="alternate"]')].map((l) => [l.type, l.href]),
  categories: [...document.querySelectorAll(".channels h3 a")].map((a) => a.href),
  addresses: [...document.querySelectorAll("button[data-copy]")].map((b) => b.dataset.copy),
  hint: document.querySelector(".hint") && document.querySelector(".hint").innerText,
  links: [...document.querySelectorAll('a[href], link[href]:not([rel="icon"]), script[src]')]
    .map((e) => e.href || e.src),
})"""

COPY = """
(async (index) => {
  const button = document.querySelectorAll("button[data-copy]")[index];
  button.click();
  for (let wait = 0; wait < 100 && button.textContent === "Copy"; wait++) {
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return [button.dataset.copy, button.textContent, await navigator.clipboard.readText()];
})(%d)
"""


@pytest.fixture
def browser() -> Iterator[headless_chromium.Chromium]:
    need("chromium")
    with headless_chromium.Chromium() as chromium:
        yield chromium


def test_index_offers_every_feed_with_a_working_copy_button(browser, sample_server: Server) -> None:
    page = browser.open(sample_server.url, clipboard=True)
    seen = page.evaluate(SEEN)

    overall = [sample_server.absolute(f"/feeds/all.{ext}") for ext in ("atom", "rss", "json")]
    assert seen["alternates"] == [list(pair) for pair in zip(FEED_TYPES, overall)]
    assert set(seen["addresses"]) == set(subscription_feeds(sample_server))
    assert len(seen["categories"]) == len(opml_feeds(sample_server)) - 1  # the OPML also lists the overall feed
    assert seen["hint"].startswith(HINT)

    for index, address in enumerate(seen["addresses"]):
        assert page.evaluate(COPY % index, user_gesture=True) == [address, "Copied", address]
    assert page.csp_violations() == []


def test_every_link_on_the_pages_answers_200(sample_server: Server) -> None:
    need("chromium")
    # The browser is closed before the links are fetched: gunicorn's sync
    # workers would otherwise sit on the idle connections Chromium opens ahead.
    seen: dict[str, dict] = {}
    with headless_chromium.Chromium() as browser:
        index = browser.open(sample_server.url).evaluate(SEEN)
        article = next(link for link in index["links"] if "/articles/" in link)
        for url in (sample_server.url, index["categories"][0], article):
            page = browser.open(url)
            seen[url] = page.evaluate(SEEN)
            assert page.csp_violations() == [], url

    checked = set()
    for url, found in seen.items():
        assert found["alternates"], f"{url} has no autodiscovery links"
        for link in found["links"]:
            assert link.startswith(sample_server.url), f"{url} links off-site to {link}"
            if link not in checked:
                checked.add(link)
                reply = fetch(link)
                if link.endswith("/index.html"):
                    # Pages link to pages by their index.html, which works
                    # from file:// too; the server redirects to the page.
                    assert reply.status == 301, f"{link} (on {url}) answered {reply.status}"
                    reply = fetch(urljoin(link, reply.headers["Location"]))
                assert reply.status == 200, f"{link} (on {url}) did not answer 200"
    assert len(checked) > 10


# Layout, measured with the browser's own geometry.

FIELDS = """[...document.querySelectorAll('.feed-url input')].map(field => {
  const box = field.getBoundingClientRect(), row = field.closest('li').getBoundingClientRect();
  return {left: box.left, right: box.right, rowLeft: row.left, rowRight: row.right,
          endShown: field.scrollLeft + field.clientWidth >= field.scrollWidth - 1, value: field.value};
})"""


@pytest.mark.parametrize("path", ["/", "category"])
def test_on_a_phone_every_feed_address_fits_and_shows_its_end(sample_server: Server, path: str, tmp_path) -> None:
    need("chromium")
    with headless_chromium.Chromium() as browser:
        url = sample_server.url if path == "/" else urljoin(sample_server.url, "categories/customs/")
        page = browser.open(url, size=(390, 844))
        fields = page.evaluate(FIELDS)
        assert fields, "no feed addresses on the page"
        assert page.evaluate("document.documentElement.scrollWidth") <= 390, "the page scrolls sideways"
        for field in fields:
            assert 0 <= field["left"] and field["right"] <= min(field["rowRight"], 390) + 0.5, field
            # The end of a long address tells the feeds apart: it is what shows.
            assert field["endShown"], field["value"]
        shot = page.screenshot()
        (tmp_path / "phone.png").write_bytes(shot)
        assert png_size(shot) == (390, 844)


def test_on_a_laptop_the_first_screen_shows_the_newest_articles(sample_server: Server, tmp_path) -> None:
    need("chromium")
    with headless_chromium.Chromium() as browser:
        page = browser.open(sample_server.url, size=(1280, 900))
        first = page.evaluate("document.querySelector('.latest .articles li').getBoundingClientRect().bottom")
        panel = page.evaluate("document.querySelector('.subscribe').getBoundingClientRect().toJSON()")
        hint = page.evaluate("document.querySelector('.subscribe').textContent")
        shot = page.screenshot()
        (tmp_path / "laptop.png").write_bytes(shot)
    assert first < 900, f"the newest article ends at {first}px, below the first screen"
    assert panel["top"] < 900 and panel["right"] <= 1280, panel
    assert "Not sure which to pick?" in hint
    assert png_size(shot) == (1280, 900)
