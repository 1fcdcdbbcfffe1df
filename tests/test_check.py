"""`feedsvc check`: a valid export passes, and each kind of damage a strict
validator must catch is reported as "FILE: message" with exit status 1.
Every case starts from a real export with archives and breaks one thing."""

from __future__ import annotations

import copy
import json
import shutil
from pathlib import Path
from typing import Callable

import pytest
from click.testing import CliRunner
from lxml import etree

from conftest import NOW, copy_seeds

from feedsvc.publish.check import check_tree
from feedsvc.cli import main
from feedsvc.config import load_config
from feedsvc.publish.export import build

A = "{http://www.w3.org/2005/Atom}"


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Path:
    """The sample pages exported with small feeds, so there are archives."""
    work = tmp_path_factory.mktemp("built")
    seeds = copy_seeds(work / "seeds")
    config = load_config(seeds, environ={}, feed_size=4, archive_size=3)
    build(config, work / "out", NOW)
    return work / "out"


@pytest.fixture
def tree(built, tmp_path) -> Path:
    copied = tmp_path / "tree"
    shutil.copytree(built, copied)
    return copied


def check(folder: Path, *args: str):
    return CliRunner().invoke(main, ["check", str(folder), *args])


def edit_xml(path: Path, change: Callable[[etree._Element], None]) -> None:
    document = etree.parse(str(path))
    change(document.getroot())
    path.write_bytes(etree.tostring(document, xml_declaration=True, encoding="UTF-8"))


def edit_json(path: Path, change: Callable[[dict], None]) -> None:
    feed = json.loads(path.read_bytes())
    change(feed)
    path.write_text(json.dumps(feed), encoding="utf-8")


def truncate(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def first(root: etree._Element, tag: str) -> etree._Element:
    return next(root.iter(tag))


def set_text(tag: str, value: str) -> Callable[[etree._Element], None]:
    def change(root: etree._Element) -> None:
        first(root, tag).text = value

    return change


def duplicate_first(tag: str) -> Callable[[etree._Element], None]:
    def change(root: etree._Element) -> None:
        element = first(root, tag)
        element.addnext(copy.deepcopy(element))

    return change


def remove_all(*tags: str) -> Callable[[etree._Element], None]:
    def change(root: etree._Element) -> None:
        for element in list(root.iter(*tags)):
            element.getparent().remove(element)

    return change


def add_self_link(root: etree._Element) -> None:
    link = etree.SubElement(root, A + "link", rel="self", href="https://elsewhere.example/feed.atom")
    root.insert(1, link)


def first_item(change: Callable[[dict], None]) -> Callable[[dict], None]:
    return lambda feed: change(feed["items"][0])


def delete_first_article(tree: Path) -> None:
    shutil.rmtree(next((tree / "articles").iterdir()))


CASES = {
    # (file to break, how, the message expected for that file)
    "truncated atom": ("feeds/all.atom", truncate, "not well-formed XML"),
    "truncated rss": ("feeds/category/customs.rss", truncate, "not well-formed XML"),
    "truncated json": ("feeds/all.json", truncate, "not valid JSON"),
    "duplicated atom id": ("feeds/all.atom", lambda p: edit_xml(p, duplicate_first(A + "entry")), "appears more than once"),
    "duplicated rss guid": ("feeds/all/archive/2.rss", lambda p: edit_xml(p, duplicate_first("item")), "appears more than once"),
    "duplicated json id": ("feeds/all.json", lambda p: edit_json(p, lambda f: f["items"].append(f["items"][0])), "appears more than once"),
    "atom date without zone": ("feeds/all.atom", lambda p: edit_xml(p, set_text(A + "updated", "2025-10-09T08:53:20")), "not an RFC 3339 date-time with a zone"),
    "atom date that does not exist": ("feeds/all/archive/1.atom", lambda p: edit_xml(p, set_text(A + "published", "2025-02-30T00:00:00Z")), "not a real date"),
    "rss date in another format": ("feeds/all.rss", lambda p: edit_xml(p, set_text("pubDate", "2025-10-09 08:53")), "not an RFC 822 date"),
    "json date without time": ("feeds/all.json", lambda p: edit_json(p, first_item(lambda i: i.update(date_published="2025-10-09"))), "not an RFC 3339 date-time"),
    "atom id not an IRI": ("feeds/all.atom", lambda p: edit_xml(p, set_text(A + "id", "all articles")), "not an absolute IRI"),
    "atom without any author": ("feeds/category/logistics.atom", lambda p: edit_xml(p, remove_all(A + "author")), "no atom:author"),
    "atom with two self links": ("feeds/all.atom", lambda p: edit_xml(p, add_self_link), 'has 2 link rel="self"'),
    "atom entry without title": ("feeds/all.atom", lambda p: edit_xml(p, remove_all(A + "title")), "RFC 4287 grammar"),
    "rss guid that is not a URL": ("feeds/all.rss", lambda p: edit_xml(p, lambda r: first(r, "guid").attrib.pop("isPermaLink")), "needs isPermaLink"),
    "rss channel without description": ("feeds/all.rss", lambda p: edit_xml(p, lambda r: r.find("channel").remove(r.find("channel/description"))), "no description"),
    "json without version": ("feeds/all.json", lambda p: edit_json(p, lambda f: f.pop("version")), "version None"),
    "json item without content": ("feeds/all.json", lambda p: edit_json(p, first_item(lambda i: [i.pop(k, None) for k in ("content_html", "content_text")])), "neither content_html nor content_text"),
    "rss item missing from its atom twin": ("feeds/all.rss", lambda p: edit_xml(p, lambda r: r.find("channel").remove(r.find("channel/item"))), "ids differ from the other format"),
}


@pytest.mark.parametrize("name", CASES)
def test_check_reports_the_damage_with_the_file_name(tree, name):
    file, damage, expected = CASES[name]
    damage(tree / file)
    result = check(tree)
    assert result.exit_code == 1
    lines = [line for line in result.stdout.splitlines() if line.startswith(f"{tree / file}: ")]
    assert any(expected in line for line in lines), result.stdout


def test_a_valid_export_with_archives_passes(tree):
    result = check(tree)
    assert result.exit_code == 0, result.stdout
    assert result.stdout == ""
    assert "28 documents checked, 0 problems" in result.stderr


def test_entry_links_to_missing_article_pages_are_reported(tree):
    delete_first_article(tree)
    report = check_tree(tree)
    unresolved = [p for p in report.problems if "does not resolve to a file of the tree" in p.message]
    assert unresolved
    assert {p.source for p in unresolved} >= {"feeds/all.atom", "feeds/all.rss", "feeds/all.json"}
    assert all("articles/" in p.message for p in unresolved)


def test_archive_links_to_a_missing_archive_are_reported(tree):
    (tree / "feeds/all/archive/1.atom").unlink()
    report = check_tree(tree)
    assert any(p.source == "feeds/all/archive/2.atom" and "prev-archive" in p.message for p in report.problems)


def test_links_outside_the_site_are_reported(tree):
    path = tree / "feeds/all.atom"
    path.write_bytes(path.read_bytes().replace(b'<link href="http://127.0.0.1:8000/articles/', b'<link href="http://mirror.example/articles/', 1))
    messages = [p.message for p in check_tree(tree).problems if p.source == "feeds/all.atom"]
    assert any("is outside the site" in message for message in messages)


def test_a_base_url_the_tree_was_not_built_for_is_reported(tree):
    result = check(tree, "--base-url", "https://feeds.example.org/")
    assert result.exit_code == 1
    assert f"{tree / 'feeds/all.atom'}: feed link rel=self 'http://127.0.0.1:8000/feeds/all.atom' is not this file's own URL" in result.stdout


def test_check_finds_no_feeds_in_an_empty_folder(tmp_path):
    result = check(tmp_path)
    assert result.exit_code == 0
    assert "0 documents checked" in result.stderr
