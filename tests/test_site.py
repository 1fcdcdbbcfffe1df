"""The site's URL map and what each document holds: subscription windows,
RFC 5005 archives that never change once full, edits and backdated
articles reaching subscribers, takedowns, gone categories, fingerprints."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest
from lxml import etree

from feedsvc.core import marks
from feedsvc.site import routes as urls
from feedsvc.core.models import Withdrawal
from feedsvc.core.publish import recorded_change
from feedsvc.site.model import Site

from feedcheck import ATOM, NS, check, check_atom, feed_updated, ids, is_archive, links
from sitebuild import card, ingested_site, make_article, make_site, site_of_ledger, write_page

HOUR = dt.timedelta(hours=1)
DAY = dt.timedelta(days=1)


@pytest.fixture
def tiny(config):
    """Feeds of 3 entries and archives of 4, so a few articles make a chain."""
    return dataclasses.replace(config, feed_size=3, archive_size=4)


def path_of(config, url: str) -> str:
    assert url.startswith(config.site_url)
    return "/" + url[len(config.site_url) :]


def archive_chain(site: Site, slug: str | None, fmt: str) -> list[str]:
    """Archive paths from the newest back to archive 1, following prev-archive."""
    config = site.config
    chain = []
    url = links(site.render(urls.feed_path(slug, fmt)).body).get("prev-archive")
    while url:
        path = path_of(config, url)
        chain.append(path)
        url = links(site.render(path).body).get("prev-archive")
    return chain


# The URL map


def test_every_target_renders_with_its_content_type_and_file(tiny, now):
    site, _ = ingested_site(tiny, now)
    targets = list(site.targets())
    paths = [t.path for t in targets]
    assert len(paths) == len(set(paths))
    assert {"/", "/feeds.opml", "/style.css", "/copy.js", "/feeds/all.atom", "/feeds/all/archive/1.rss"} <= set(paths)
    assert {urls.article_path(a.id) for a in site.articles} <= set(paths)
    for target in targets:
        resource = site.render(target.path)
        assert resource is not None, target.path
        assert resource.body
        assert resource.content_type == urls.content_type_for(target.path)
        assert target.file == urls.file_for(target.path)
        assert not site.is_gone(target.path)
    assert site.article_count == 18
    assert site.updated == now  # the sample pages were all first seen now


def test_a_future_date_does_not_pin_the_feed_timestamp(tiny, seeds, now):
    site, _ = ingested_site(tiny, now)
    future = [a for a in site.articles if a.published > now]
    assert future, "the sample pages date one article after `now`"
    assert future[0].iri in ids("/feeds/all.atom", site.render("/feeds/all.atom").body)
    assert site.render("/feeds/all.atom").last_modified == now
    write_page(seeds, "008_next.txt", [card("Port of Antwerp opens new berth", "The berth opened.", None)])
    later, _ = ingested_site(tiny, now + HOUR)
    assert feed_updated("/feeds/all.rss", later.render("/feeds/all.rss").body) == now + HOUR


@pytest.mark.parametrize(
    "path",
    [
        "/feeds/category/no-such.atom",
        "/feeds/all.xml",
        "/feeds/all/archive/0.atom",
        "/feeds/all/archive/01.atom",
        "/feeds/all/archive/99.atom",
        "/feeds/all/archive/1.json",
        "/feeds/category/customs/archive/99.rss",
        "/categories/no-such/",
        "/categories/customs",
        "/articles/no-such/",
        "/articles/",
        "/feeds/all.atom/",
        "/FEEDS/ALL.ATOM",
        "/../feeds/all.atom",
        "",
    ],
)
def test_paths_outside_the_site_render_nothing(tiny, now, path):
    site, _ = ingested_site(tiny, now)
    assert site.render(path) is None
    assert not site.is_gone(path)


# Subscription feeds and archives


def test_the_subscription_feed_holds_the_newest_by_seq_newest_first(tiny):
    # Published times run against seq: the newest recorded is the oldest dated.
    items = [make_article(tiny, n, published=make_article(tiny, 100 - n).published) for n in range(1, 11)]
    site = make_site(tiny, items)
    got = ids("/feeds/all.atom", site.render("/feeds/all.atom").body)
    newest = sorted(items, key=lambda a: a.seq)[-3:]
    assert got == [a.iri for a in sorted(newest, key=lambda a: (a.published, a.seq), reverse=True)]


@pytest.mark.parametrize("fmt", urls.ARCHIVE_FORMATS)
@pytest.mark.parametrize("count", [3, 4, 8, 19, 20])
def test_archives_chain_and_hold_every_article_once(tiny, fmt, count):
    items = [make_article(tiny, n) for n in range(1, count + 1)]
    site = make_site(tiny, items)
    subscription = site.render(urls.feed_path(None, fmt)).body
    check(urls.feed_path(None, fmt), subscription)
    assert not is_archive(subscription)
    chain = archive_chain(site, None, fmt)
    archived = items[:-3]
    expected_blocks = [archived[i : i + 4] for i in range(0, len(archived), 4)]
    assert chain == [urls.archive_path(None, n, fmt) for n in range(len(expected_blocks), 0, -1)]
    seen = ids(urls.feed_path(None, fmt), subscription)
    for number, path in enumerate(reversed(chain), 1):
        body = site.render(path).body
        check(path, body)
        assert is_archive(body)
        found = links(body)
        assert path_of(tiny, found["current"]) == urls.feed_path(None, fmt)
        assert path_of(tiny, found["self"]) == path
        assert sorted(ids(path, body)) == sorted(a.iri for a in expected_blocks[number - 1])
        seen += ids(path, body)
        if number > 1:
            assert path_of(tiny, found["prev-archive"]) == urls.archive_path(None, number - 1, fmt)
        else:
            assert "prev-archive" not in found
        if "next-archive" in found:
            following = path_of(tiny, found["next-archive"])
            assert following == urls.archive_path(None, number + 1, fmt)
            assert site.render(following) is not None
    assert sorted(seen) == sorted(a.iri for a in items)


def test_a_full_newest_archive_links_to_an_empty_next_one(tiny):
    site = make_site(tiny, [make_article(tiny, n) for n in range(1, 12)])  # 8 archived: two full blocks
    third = site.render("/feeds/all/archive/3.atom")
    root = check_atom(third.body)
    assert root.findall(ATOM + "entry") == [] and is_archive(third.body)
    assert path_of(tiny, links(site.render("/feeds/all/archive/2.atom").body)["next-archive"]) == "/feeds/all/archive/3.atom"
    assert path_of(tiny, links(site.render("/feeds/all.atom").body)["prev-archive"]) == "/feeds/all/archive/2.atom"
    assert third.last_modified == site.render("/feeds/all/archive/2.atom").last_modified


def test_a_full_archive_never_changes_when_articles_are_added(tiny):
    before = make_site(tiny, [make_article(tiny, n) for n in range(1, 13)])
    after = make_site(tiny, [make_article(tiny, n) for n in range(1, 40)])
    old = {t.path: t.fingerprint for t in before.targets()}
    new = {t.path: t.fingerprint for t in after.targets()}
    for number in (1, 2):  # full in both
        for fmt in urls.ARCHIVE_FORMATS:
            path = urls.archive_path(None, number, fmt)
            assert before.render(path).body == after.render(path).body
            assert old[path] == new[path]
    assert old["/feeds/all.atom"] != new["/feeds/all.atom"]
    # Archive 3 was partly filled and fills up.
    assert before.render("/feeds/all/archive/3.atom").body != after.render("/feeds/all/archive/3.atom").body


def test_full_archives_survive_a_new_page_through_the_pipeline(tiny, seeds, now):
    first, _ = ingested_site(tiny, now)
    full = [
        t.path
        for t in first.targets()
        if "/archive/" in t.path and len(ids(t.path, first.render(t.path).body)) == tiny.archive_size
    ]
    assert full
    bodies = {path: first.render(path).body for path in full}
    cards = [card(f"Harbour crane number {n} arrives", f"Crane {n} was delivered to the port.") for n in range(6)]
    write_page(seeds, "000_new.txt", cards)
    second, _ = ingested_site(tiny, now + HOUR)
    assert second.article_count == first.article_count + 6
    for path in full:
        assert second.render(path).body == bodies[path], path


# Edits, backdated articles and feed timestamps


def test_a_backdated_article_reaches_subscribers_and_advances_the_feed(tiny, seeds, now):
    first, _ = ingested_site(tiny, now)
    old_updated = feed_updated("/feeds/all.atom", first.render("/feeds/all.atom").body)
    later = now + 3 * DAY
    write_page(seeds, "007_late.txt", [card("Customs archive from 2001 rediscovered", "An old report surfaced.", dt.date(2001, 5, 4), "Customs")])
    second, _ = ingested_site(tiny, later)
    (article,) = [a for a in second.articles if a.published.year == 2001]
    for slug in (None, "customs"):
        for fmt in urls.FORMATS:
            path = urls.feed_path(slug, fmt)
            body = second.render(path).body
            assert article.iri in ids(path, body), path
            if fmt != "json":
                assert feed_updated(path, body) == later
    assert later > old_updated
    assert second.render("/feeds/all.atom").last_modified == later
    # Shown last: it is the oldest by date.
    assert ids("/feeds/all.atom", second.render("/feeds/all.atom").body)[-1] == article.iri


def test_an_edit_to_an_archived_article_reaches_subscribers_for_a_while(tiny, seeds, now):
    first, _ = ingested_site(tiny, now)
    oldest = min(first.articles, key=lambda a: a.seq)
    archive = urls.archive_path(None, 1, "atom")
    assert oldest.iri in ids(archive, first.render(archive).body)
    assert oldest.iri not in ids("/feeds/all.atom", first.render("/feeds/all.atom").body)

    edited_at = now + 2 * HOUR
    write_page(seeds, "009_edit.txt", [card(oldest.title, "A corrected summary of the story.", None)])
    second, _ = ingested_site(tiny, edited_at)
    for fmt in urls.FORMATS:
        path = urls.feed_path(oldest.category_slug, fmt)
        assert oldest.iri in ids(path, second.render(path).body), path
    body = second.render("/feeds/all.atom").body
    entry = [e for e in check_atom(body).iter(ATOM + "entry") if e.findtext(ATOM + "id") == oldest.iri][0]
    assert "corrected summary" in entry.findtext(ATOM + "content")
    assert entry.findtext(ATOM + "updated") == edited_at.isoformat()
    assert feed_updated("/feeds/all.atom", body) == edited_at
    # The archive shows the current version too, and keeps its place.
    assert "corrected summary" in second.render(archive).body.decode()

    # A month of new articles later the edit has left the subscription feed.
    write_page(seeds, "010_more.txt", [card("Rail freight record set in March", "Volumes rose again.", None)])
    third, _ = ingested_site(tiny, edited_at + 30 * DAY)
    assert oldest.iri not in ids("/feeds/all.atom", third.render("/feeds/all.atom").body)
    assert oldest.iri in ids(archive, third.render(archive).body)


def test_feed_updated_is_the_newest_change_in_the_document(tiny):
    items = [make_article(tiny, n) for n in range(1, 9)]
    items[6] = dataclasses.replace(items[6], first_seen=items[6].first_seen + 5 * DAY)
    site = make_site(tiny, items)
    for path in ["/feeds/all.atom", "/feeds/all.rss", "/feeds/all/archive/1.atom", "/feeds/all/archive/2.rss"]:
        resource = site.render(path)
        members = [a for a in items if a.iri in ids(path, resource.body)]
        assert feed_updated(path, resource.body) == max(recorded_change(a) for a in members) == resource.last_modified


def test_an_empty_site_still_renders_valid_feeds(tiny):
    site = Site.of(tiny, [], [], {})
    assert site.updated == dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)
    for fmt in urls.FORMATS:
        path = urls.feed_path(None, fmt)
        resource = site.render(path)
        check(path, resource.body)
        assert ids(path, resource.body) == []
    assert site.render(urls.OPML_PATH) is not None and site.render("/") is not None


# Takedowns and gone categories


def test_a_takedown_is_gone_everywhere_and_announced_in_atom(tiny, now):
    site, ledger = ingested_site(tiny, now)
    victim = site.articles[0]
    when = now + HOUR
    after = site_of_ledger(tiny, marks.takedown(ledger, victim.id, when))
    assert after.article_count == site.article_count - 1
    assert after.render(urls.article_path(victim.id)) is None
    announced = {urls.feed_path(None, "atom"), urls.feed_path(victim.category_slug, "atom")}
    for target in after.targets():
        body = after.render(target.path).body
        assert victim.id.encode() not in body or target.path in announced, target.path
        if target.path in announced:
            root = check_atom(body)
            assert [d.get("ref") for d in root.findall("at:deleted-entry", NS)] == [victim.iri]
            assert victim.iri not in ids(target.path, body)
            assert feed_updated(target.path, body) == when
        else:
            assert victim.iri.encode() not in body, target.path
            if target.path.endswith(".atom"):
                assert not etree.fromstring(body).findall("at:deleted-entry", NS)


def test_a_category_without_articles_is_gone_but_still_renders(tiny, now):
    site, ledger = ingested_site(tiny, now)
    when = now + HOUR
    for article in site.articles:
        if article.category_slug == "customs":
            ledger = marks.takedown(ledger, article.id, when)
    after = site_of_ledger(tiny, ledger)
    gone = [urls.feed_path("customs", fmt) for fmt in urls.FORMATS] + [urls.html_path("customs")]
    for path in gone:
        assert after.is_gone(path)
        assert after.render(path) is not None
    for fmt in urls.FORMATS:
        path = urls.feed_path("customs", fmt)
        body = after.render(path).body
        check(path, body)
        assert ids(path, body) == []
    assert after.render(urls.archive_path("customs", 1, "atom")) is None
    assert "customs" not in [c.slug for c in after.category_infos()]
    assert b"/feeds/category/customs.atom" not in after.render(urls.OPML_PATH).body
    assert not after.is_gone(urls.feed_path("logistics", "atom"))
    assert not after.is_gone(urls.feed_path(None, "atom"))
    assert set(gone) <= {t.path for t in after.targets()}


def test_withdrawals_older_than_the_edit_window_are_no_longer_announced(tiny):
    items = [make_article(tiny, n) for n in range(1, 5)]
    newest = max(recorded_change(a) for a in items)
    recent = Withdrawal("urn:uuid:00000000-0000-5000-8000-000000000001", "logistics", newest - DAY)
    stale = Withdrawal("urn:uuid:00000000-0000-5000-8000-000000000002", "logistics", newest - 30 * DAY)
    site = make_site(tiny, items, [recent, stale])
    refs = [d.get("ref") for d in check_atom(site.render("/feeds/all.atom").body).findall("at:deleted-entry", NS)]
    assert refs == [recent.iri]


# Fingerprints


def test_fingerprints_follow_the_bytes(tiny):
    items = [make_article(tiny, n) for n in range(1, 13)]
    before = make_site(tiny, items)
    edited = dataclasses.replace(items[0], summary="A new summary.", updated=recorded_change(items[-1]) + HOUR)
    after = make_site(tiny, [edited, *items[1:]])
    old = {t.path: t.fingerprint for t in before.targets()}
    new = {t.path: t.fingerprint for t in after.targets()}
    assert old.keys() == new.keys()
    changed = {path for path in old if old[path] != new[path]}
    for path in old:
        same_bytes = before.render(path).body == after.render(path).body
        assert same_bytes or path in changed, f"{path} changed but kept its fingerprint"
    assert urls.article_path(edited.id) in changed
    assert urls.article_path(items[1].id) not in changed
    assert "/feeds/all/archive/2.atom" not in changed
    assert {"/feeds/all.atom", "/feeds/all/archive/1.atom"} <= changed
    assert old == {t.path: t.fingerprint for t in make_site(tiny, list(reversed(items))).targets()}


def test_fingerprints_ignore_where_the_seeds_live(tiny, tmp_path):
    items = [make_article(tiny, n) for n in range(1, 6)]
    here = {t.path: t.fingerprint for t in make_site(tiny, items).targets()}
    moved = dataclasses.replace(tiny, seeds=tmp_path / "elsewhere", read_only=True, workers=7)
    assert {t.path: t.fingerprint for t in make_site(moved, items).targets()} == here
    retitled = dataclasses.replace(tiny, site_title="Another title")
    assert {t.path: t.fingerprint for t in make_site(retitled, items).targets()}["/feeds/all.atom"] != here["/feeds/all.atom"]


def test_a_bounded_entry_cache_renders_the_same_bytes(tiny):
    items = [make_article(tiny, n, category=("Rail" if n % 3 else "Ports")) for n in range(1, 30)]
    everything = make_site(tiny, items)
    bounded = Site.of(tiny, items, [], {"Rail": "rail", "Ports": "ports"}, kept_entries=2)
    for target in everything.targets():
        assert everything.render(target.path).body == bounded.render(target.path).body, target.path


# Pages


def test_pages_render_for_the_index_categories_and_articles(tiny, now):
    site, _ = ingested_site(tiny, now)
    assert site.render("/").content_type.startswith("text/html")
    for info in site.category_infos():
        page = site.render(urls.html_path(info.slug))
        assert page.content_type.startswith("text/html")
        assert info.count == len([a for a in site.articles if a.category_slug == info.slug])
    article = site.articles[-1]
    page = site.render(urls.article_path(article.id))
    assert page.content_type.startswith("text/html") and page.last_modified == recorded_change(article)
    assert site.render(urls.STYLESHEET_PATH).content_type.startswith("text/css")
    assert site.render(urls.SCRIPT_PATH).content_type.startswith("text/javascript")
