"""Several sites from one folder (`--sites DIR`): each site publishes under
`/<name>/` exactly what it publishes alone, keeps its feed ids when it
moves in, fails alone, and the root lists them all. Through the app's test
client and the commands; tests/test_sites_served.py runs real servers."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import feedparser
import lxml.html
import pytest
from click.testing import CliRunner

from conftest import NOW_EPOCH, copy_seeds
from sitebuild import card, write_page
from sitesfolder import BASE_URL, BREAKAGES, NAMES, add_site, bad_settings, make_sites

from feedsvc.cli import main
from feedsvc.config import load_config
from feedsvc.errors import ConfigError
from feedsvc.instance import load_instance, scan
from feedsvc.publish.check import check_tree
from feedsvc.serve.app import create_app
from feedsvc.site.model import Site
from feedsvc.store.ingest import ingest

from conftest import NOW

NEW_TITLE = "Harbour Cranes Get Automated Remote Control"
NEW_CARDS = [card(NEW_TITLE, "Operators of the harbour cranes now work from an office.")]


@pytest.fixture(autouse=True)
def fixed_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOURCE_DATE_EPOCH", str(NOW_EPOCH))
    for name in list(os.environ):
        if name.startswith("FEEDSVC_") and name != "FEEDSVC_TEST_SEED":
            monkeypatch.delenv(name)


@pytest.fixture
def sites(tmp_path: Path) -> Path:
    return make_sites(tmp_path / "sites")


def instance_app(folder: Path, base_url: str = BASE_URL, **settle):
    """The app over a sites folder, looking at it on every request."""
    timing = {"poll_seconds": 0, "settle_seconds": 0, **settle}
    return create_app(sites=lambda: load_instance(folder, environ={}, base_url=base_url), **timing)


def run(*args: str, **env: str):
    environment = {name: None for name in os.environ if name.startswith("FEEDSVC_")}
    environment.update(SOURCE_DATE_EPOCH=str(NOW_EPOCH), **env)
    return CliRunner().invoke(main, list(args), env=environment)


def alone(seeds: Path, base_url: str) -> Site:
    config = load_config(seeds, environ={}, base_url=base_url)
    return Site.from_ingest(config, ingest(config, NOW, write=False))


def tree(folder: Path) -> dict[str, bytes]:
    return {path.relative_to(folder).as_posix(): path.read_bytes() for path in sorted(folder.rglob("*")) if path.is_file()}


def entry_ids(body: bytes) -> list[str]:
    parsed = feedparser.parse(body)
    assert not parsed.bozo, parsed.bozo_exception
    return [parsed.feed.get("id"), *(entry.id for entry in parsed.entries)]  # an RSS channel has no id


# Each site is the single site it was


def test_a_site_publishes_under_its_prefix_what_it_publishes_alone(sites):
    client = instance_app(sites).test_client()
    for name in NAMES:
        site = alone(sites / name, f"{BASE_URL}{name}/")
        for target in site.targets():
            answer = client.get(f"/{name}{target.path}")
            assert answer.status_code == 200, target.path
            assert answer.data == site.render(target.path).body, target.path


def test_a_site_built_in_a_folder_of_sites_writes_the_tree_it_writes_alone(sites, tmp_path):
    assert run("build", "--sites", str(sites), "--out", str(tmp_path / "all")).exit_code == 0
    for name in NAMES:
        copy = copy_seeds(tmp_path / "alone" / name)
        shutil.copyfile(sites / name / "feedsvc.toml", copy / "feedsvc.toml")
        built = run("build", "--seeds", str(copy), "--out", str(tmp_path / "one" / name), "--base-url", f"{BASE_URL}{name}/")
        assert built.exit_code == 0, built.output
        assert tree(tmp_path / "all" / name) == tree(tmp_path / "one" / name)


def test_feed_ids_do_not_change_when_a_site_moves_under_a_prefix(sites):
    client = instance_app(sites, "https://feeds.example.org/").test_client()
    site = alone(sites / "rail", "https://rail.example.org/")
    for path in ("/feeds/all.atom", "/feeds/category/customs.atom", "/feeds/all.rss"):
        assert entry_ids(client.get(f"/rail{path}").data) == entry_ids(site.render(path).body)


def test_the_root_site_keeps_every_url_of_the_single_site_it_was(sites):
    (sites / "feedsvc.toml").write_text('root_site = "harbour"\n')
    client = instance_app(sites).test_client()
    site = alone(sites / "harbour", BASE_URL)
    for target in site.targets():
        assert client.get(target.path).data == site.render(target.path).body, target.path
    listing = client.get("/sites/")
    assert listing.status_code == 200
    assert {link for link in lxml.html.fromstring(listing.data).xpath("//h3/a/@href")} == {"../index.html", "../rail/index.html", "../trade/index.html"}
    assert client.get("/sites.opml").status_code == 200
    assert client.get("/rail/feeds/all.atom").status_code == 200


def test_a_site_that_sets_its_own_base_url_keeps_it(sites):
    settings = sites / "trade" / "feedsvc.toml"
    settings.write_text(settings.read_text().replace("[site]\n", '[site]\nbase_url = "https://trade.example.org/"\n'))
    client = instance_app(sites).test_client()
    feed = feedparser.parse(client.get("/trade/feeds/all.atom").data)
    assert {link.href for link in feed.feed.links if link.rel == "self"} == {"https://trade.example.org/feeds/all.atom"}
    assert b"https://trade.example.org/feeds/all.atom" in client.get("/feeds.opml").data


# The root


def test_the_root_lists_every_site_with_its_feeds_and_newest_articles(sites):
    client = instance_app(sites).test_client()
    page = client.get("/")
    assert page.status_code == 200 and page.content_type == "text/html; charset=utf-8"
    html = lxml.html.fromstring(page.data)
    assert [a.text for a in html.xpath("//h3/a")] == [f"{name.title()} News" for name in NAMES]
    for name in NAMES:
        links = set(html.xpath(f'//li[@id="site-{name}"]//a/@href'))
        assert f"{BASE_URL}{name}/feeds/all.atom" in links
        articles = html.xpath(f'//li[@id="site-{name}"]//ol[@class="articles"]/li/a/@href')
        assert len(articles) == 5
        for link in articles:  # relative links, as every page of a site has
            assert client.get("/" + link.removesuffix("index.html")).status_code == 200
    assert client.get("/style.css").status_code == 200


def test_the_root_opml_holds_every_feed_of_every_site(sites):
    client = instance_app(sites).test_client()
    listed = set(lxml.etree.fromstring(client.get("/feeds.opml").data).xpath("//outline/@xmlUrl"))
    expected = set()
    for name in NAMES:
        site_opml = client.get(f"/{name}/feeds.opml").data
        expected |= set(lxml.etree.fromstring(site_opml).xpath("//outline/@xmlUrl"))
    assert listed == expected and len(listed) == 3 * 3
    for url in listed:
        assert client.get(url.removeprefix(BASE_URL.rstrip("/"))).status_code == 200


def test_a_site_without_its_trailing_slash_redirects_and_answers_its_own_health(sites):
    client = instance_app(sites).test_client()
    answer = client.get("/rail")
    assert answer.status_code == 301 and answer.headers["Location"] == "/rail/"
    assert client.get("/rail/categories/customs").headers["Location"] == "/rail/categories/customs/"
    assert client.get("/rail/healthz").get_json()["status"] == "ok"
    assert client.get("/nowhere/feeds/all.atom").status_code == 404


def test_healthz_reports_each_site(sites):
    health = instance_app(sites).test_client().get("/healthz")
    assert health.status_code == 200
    body = health.get_json()
    assert body["status"] == "ok"
    assert set(body["sites"]) == set(NAMES)
    assert all(entry["status"] == "ok" and entry["articles"] == 18 for entry in body["sites"].values())


# Sites fail alone


@pytest.mark.parametrize("breakage", sorted(BREAKAGES))
def test_a_site_broken_from_the_start_answers_503_and_the_others_serve(sites, breakage, caplog):
    BREAKAGES[breakage](sites / "rail")
    client = instance_app(sites).test_client()
    for path in ("/rail/", "/rail/feeds/all.atom"):
        answer = client.get(path)
        assert answer.status_code == 503 and "Retry-After" in answer.headers
    for name in ("harbour", "trade"):
        assert client.get(f"/{name}/feeds/all.atom").status_code == 200
    health = client.get("/healthz")
    assert health.status_code == 200
    assert health.get_json()["status"] == "degraded"
    assert health.get_json()["sites"]["rail"]["status"] == "error"
    assert str(sites) not in health.get_data(as_text=True)  # the details go to the log
    assert any("site rail:" in record.getMessage() for record in caplog.records)
    html = lxml.html.fromstring(client.get("/").data)
    assert [a.text for a in html.xpath("//h3/a")] == ["Harbour News", "Trade News"]


def test_a_site_that_breaks_while_serving_keeps_its_last_good_version(sites):
    client = instance_app(sites).test_client()
    before = client.get("/rail/feeds/all.atom").data
    bad_settings(sites / "rail")
    assert client.get("/rail/feeds/all.atom").data == before
    assert client.get("/healthz").get_json()["sites"]["rail"]["status"] == "error"
    write_page(sites / "harbour", "000_new.txt", NEW_CARDS)
    assert NEW_TITLE.encode() in client.get("/harbour/feeds/all.atom").data


def test_a_broken_site_is_served_once_its_folder_is_fixed(sites):
    settings = sites / "rail" / "feedsvc.toml"
    good = settings.read_text()
    bad_settings(sites / "rail")
    client = instance_app(sites).test_client()
    assert client.get("/rail/feeds/all.atom").status_code == 503
    settings.write_text(good)
    assert client.get("/rail/feeds/all.atom").status_code == 200
    assert client.get("/healthz").get_json()["status"] == "ok"


def test_a_site_added_while_serving_is_picked_up_once_it_settles(sites, tmp_path):
    client = instance_app(sites, settle_seconds=3600).test_client()
    assert client.get("/ports/").status_code == 404
    seeds = add_site(sites, "ports")
    assert client.get("/ports/").status_code == 404  # still being written, as far as anyone knows
    for path in seeds.iterdir():
        os.utime(path, (path.stat().st_mtime - 7200,) * 2)
    assert client.get("/ports/feeds/all.atom").status_code == 200
    assert b"Ports News" in client.get("/").data


def test_a_site_whose_folder_vanishes_answers_503_until_it_returns(sites, tmp_path):
    client = instance_app(sites).test_client()
    before = client.get("/rail/feeds/all.atom").data
    (sites / "rail").rename(tmp_path / "rail-moved")
    answer = client.get("/rail/feeds/all.atom")
    assert answer.status_code == 503
    assert client.get("/healthz").get_json()["sites"]["rail"]["status"] == "missing"
    (tmp_path / "rail-moved").rename(sites / "rail")
    assert client.get("/rail/feeds/all.atom").data == before


def test_only_a_retired_site_answers_410(sites):
    client = instance_app(sites).test_client()
    (sites / "feedsvc.toml").write_text('retired = ["rail"]\n')
    assert client.get("/rail/feeds/all.atom").status_code == 410
    assert client.get("/healthz").get_json()["sites"]["rail"] == {"status": "retired"}
    assert b"Rail News" not in client.get("/").data


# Settings


def test_the_instance_settings_refuse_unknown_keys_naming_the_closest(sites):
    (sites / "feedsvc.toml").write_text('root_sites = "rail"\n')
    with pytest.raises(ConfigError, match='did you mean "root_site"'):
        load_instance(sites, environ={})
    result = run("build", "--sites", str(sites), "--out", str(sites.parent / "out"))
    assert result.exit_code == 1 and 'did you mean "root_site"' in result.output


def test_the_base_url_is_the_instances_and_the_environment_overrides_it(sites):
    (sites / "feedsvc.toml").write_text('base_url = "https://feeds.example.org/"\n')
    assert load_instance(sites, environ={}).url_of("rail") == "https://feeds.example.org/rail/"
    moved = load_instance(sites, environ={"FEEDSVC_BASE_URL": "https://elsewhere.example/x/"})
    assert moved.url_of("rail") == "https://elsewhere.example/x/rail/"


def test_a_folder_that_cannot_be_a_url_prefix_is_reported_and_takes_no_url(sites):
    for name in ("healthz", "feeds.opml", "style.css"):
        add_site(sites, name)
    (sites / "notes").mkdir()  # no feedsvc.toml: not a site
    found = scan(sites)
    assert set(found.sites) == set(NAMES) and "notes" not in found.broken
    assert "reserved" in found.broken["healthz"]
    client = instance_app(sites).test_client()
    assert client.get("/feeds.opml").status_code == 200 and client.get("/style.css").status_code == 200
    health = client.get("/healthz")
    assert health.status_code == 200 and health.get_json()["sites"]["healthz"]["status"] == "error"


# Commands


def test_build_exports_every_healthy_site_and_exits_1_naming_the_broken(sites, tmp_path):
    bad_settings(sites / "trade")
    out = tmp_path / "out"
    result = run("build", "--sites", str(sites), "--out", str(out))
    assert result.exit_code == 1
    assert "trade" in result.output.splitlines()[-1] and "harbour" not in result.output.splitlines()[-1]
    assert {path.name for path in out.iterdir()} == {"harbour", "rail", "index.html", "feeds.opml", "style.css"}
    assert not check_tree(out).problems
    checked = run("check", str(out), "--sites", str(sites))
    assert checked.exit_code == 0, checked.output


def test_build_is_the_same_bytes_every_time(sites, tmp_path):
    for out in ("one", "two"):
        assert run("build", "--sites", str(sites), "--out", str(tmp_path / out)).exit_code == 0
    assert tree(tmp_path / "one") == tree(tmp_path / "two")
    again = run("build", "--sites", str(sites), "--out", str(tmp_path / "one"), "--check")
    assert again.exit_code == 0, again.output


def test_check_finds_a_broken_link_in_a_tree_of_sites(sites, tmp_path):
    out = tmp_path / "out"
    assert run("build", "--sites", str(sites), "--out", str(out)).exit_code == 0
    (out / "rail" / "feeds" / "category" / "customs.atom").unlink()
    result = run("check", str(out))
    assert result.exit_code == 1
    assert "feeds.opml" in result.output and "rail/feeds/category/customs.atom is missing" in result.output


def test_operator_commands_act_on_the_site_named(sites):
    listed = run("articles", "--json", "--sites", str(sites))
    assert listed.exit_code == 0, listed.output
    rows = json.loads(listed.stdout)
    assert {row["site"] for row in rows} == set(NAMES) and len(rows) == 3 * 18
    victim = next(row for row in rows if row["site"] == "rail")
    done = run("takedown", victim["id"], "--sites", str(sites), "--site", "rail")
    assert done.exit_code == 0, done.output
    client = instance_app(sites).test_client()
    assert victim["title"].encode() not in client.get("/rail/feeds/all.atom").data
    assert victim["title"].encode() in client.get("/harbour/feeds/all.atom").data


@pytest.mark.parametrize(
    ("arguments", "says"),
    [
        (["takedown", "x", "--sites", "{sites}"], "--site NAME"),
        (["takedown", "x", "--site", "rail"], "--sites DIR"),
        (["articles", "--sites", "{sites}", "--seeds", "{sites}/rail"], "give one of them"),
        (["articles", "--sites", "{sites}", "--site", "nowhere"], "has no site 'nowhere'"),
        (["serve", "--sites", "{sites}/missing"], "does not exist"),
        (["build", "--sites", "{sites}", "--ledger", "{sites}/rail/ledger.jsonl", "--out", "{sites}/../out"], "--site NAME"),
    ],
)
def test_a_site_command_without_its_site_is_a_usage_error(sites, arguments, says):
    result = run(*(argument.format(sites=sites) for argument in arguments))
    assert result.exit_code == 2 and says in result.output


def test_articles_lists_the_healthy_sites_and_exits_1_naming_the_broken(sites):
    bad_settings(sites / "harbour")
    result = run("articles", "--sites", str(sites))
    assert result.exit_code == 1
    assert {line.split()[0] for line in result.stdout.splitlines()} == {"rail", "trade"}
    assert "harbour" in result.stderr


def test_single_site_commands_are_unchanged_beside_a_sites_folder(sites, tmp_path):
    seeds = copy_seeds(tmp_path / "seeds")
    result = run("articles", "--json", "--seeds", str(seeds), FEEDSVC_SITES=str(sites))
    assert result.exit_code == 0, result.output
    assert all("site" not in row for row in json.loads(result.stdout))


@pytest.mark.parametrize("instance", ["", 'root_site = "harbour"\n'], ids=["list at the root", "root site"])
def test_every_exported_file_holds_what_the_app_answers_at_its_path(sites, tmp_path, instance):
    (sites / "feedsvc.toml").write_text(instance)
    out = tmp_path / "out"
    assert run("build", "--sites", str(sites), "--out", str(out)).exit_code == 0
    client = instance_app(sites).test_client()
    files = tree(out)
    assert ("sites/index.html" in files) == bool(instance) and "feeds.opml" in files and "index.html" in files
    for file, body in files.items():
        answer = client.get("/" + file.removesuffix("index.html"))
        assert answer.status_code == 200 and answer.data == body, file
    assert not check_tree(out).problems
    assert run("check", str(out), "--sites", str(sites)).exit_code == 0


def test_hostile_paths_under_every_prefix_get_a_4xx_and_nothing_private(sites):
    from test_app import HOSTILE_PATHS

    client = instance_app(sites).test_client()
    private = [b"site_key", b"Traceback", b"import ", b"root:", (sites / "rail" / "feedsvc.toml").read_bytes()[:60]]
    for prefix in ("", "/rail", "/nowhere"):
        for path in HOSTILE_PATHS:
            response = client.get(prefix + path)
            assert 400 <= response.status_code < 500, prefix + path
            assert not any(secret in response.data for secret in private), prefix + path
    for method in ("POST", "PUT", "DELETE"):
        assert client.open("/rail/feeds/all.atom", method=method).status_code == 405
    assert client.open("/", method="OPTIONS").headers["Allow"] == "GET, HEAD, OPTIONS"


def test_any_mix_of_broken_sites_leaves_the_others_serving_and_building(tmp_path, rng):
    names = tuple(f"site{number}" for number in range(5))
    sites = make_sites(tmp_path / "sites", names)
    broken = {name: rng.choice(sorted(BREAKAGES)) for name in rng.sample(names, rng.randint(0, len(names)))}
    for name, breakage in broken.items():
        BREAKAGES[breakage](sites / name)
    healthy = sorted(set(names) - set(broken))
    client = instance_app(sites).test_client()
    for name in names:
        assert client.get(f"/{name}/feeds/all.atom").status_code == (503 if name in broken else 200), (name, broken)
    listed = lxml.html.fromstring(client.get("/").data).xpath("//h3/a/@href")
    assert listed == [f"{name}/index.html" for name in healthy]
    out = tmp_path / "out"
    result = run("build", "--sites", str(sites), "--out", str(out))
    assert result.exit_code == (1 if broken else 0), result.output
    assert sorted(path.name for path in out.iterdir() if path.is_dir()) == healthy
    assert client.get("/").data == (out / "index.html").read_bytes()
    assert not check_tree(out).problems
