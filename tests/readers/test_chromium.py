"""A real browser on the served site: headless Chromium loads the index,
category and article pages from gunicorn, under the server's own
Content-Security-Policy. A subscriber finds the feeds there and can copy them,
and every link on the pages answers 200 without a redirect."""

from __future__ import annotations

from typing import Iterator
from urllib.parse import urljoin

import pytest

import headless_chromium

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
