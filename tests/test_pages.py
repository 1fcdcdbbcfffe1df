"""Finding and decoding page files: which files are pages, encodings, line
endings, and the bad pages that are skipped with a reason."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from feedsvc.cli import main
from feedsvc.errors import SeedsError
from feedsvc.core.models import UNNUMBERED
from feedsvc.store.seeds import decode_line, decode_page, list_pages, page_number, read_page

UTF8_PAGE = "Zölle steigen\n\nZölle steigen\n\nHändler sagen — „teuer“.\n"


def test_only_txt_files_directly_in_the_folder_are_pages(tmp_path: Path) -> None:
    for name in ["004_b.txt", "000_a.txt", "notes.md", "page.TXT.bak", ".hidden.txt", "feedsvc.toml", "ledger.jsonl"]:
        (tmp_path / name).write_text("x")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "001_nested.txt").write_text("x")
    (tmp_path / "folder.txt").mkdir()
    assert [page.name for page in list_pages(tmp_path)] == ["000_a.txt", "004_b.txt"]


def test_pages_are_listed_by_name_whatever_the_disk_order(tmp_path: Path) -> None:
    names = ["010_c.txt", "000_a.txt", "004_b.txt", "latest.txt"]
    for name in names:
        (tmp_path / name).write_text("x")
    assert [page.name for page in list_pages(tmp_path)] == sorted(names)


def test_missing_seeds_folder_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(SeedsError, match="does not exist"):
        list_pages(tmp_path / "nope")


@pytest.mark.parametrize(("name", "number"), [("000_x.txt", 0), ("004_cd0e.txt", 4), ("17.txt", 17), ("latest.txt", UNNUMBERED), ("a004.txt", UNNUMBERED)])
def test_page_number_comes_from_the_name(name: str, number: int) -> None:
    assert page_number(name) == number


def test_utf8_with_and_without_bom_read_the_same() -> None:
    plain, _ = decode_page("000_a.txt", UTF8_PAGE.encode("utf-8"))
    bom, _ = decode_page("000_a.txt", b"\xef\xbb\xbf" + UTF8_PAGE.encode("utf-8"))
    assert plain.text == bom.text
    assert not bom.text.startswith("\ufeff")
    # The identity of the file is its bytes as stored, BOM included.
    assert bom.sha256 == hashlib.sha256(b"\xef\xbb\xbf" + UTF8_PAGE.encode("utf-8")).hexdigest()
    assert plain.sha256 != bom.sha256


@pytest.mark.parametrize("ending", [b"\r\n", b"\r", b"\n"])
def test_line_endings_read_the_same(ending: bytes) -> None:
    page, _ = decode_page("000_a.txt", UTF8_PAGE.encode("utf-8").replace(b"\n", ending))
    assert page.text.split("\n")[:5] == UTF8_PAGE.split("\n")[:5]
    assert "\r" not in page.text


def test_a_cp1252_line_changes_only_that_line() -> None:
    utf8_lines = ["Zölle steigen", "", "Café owners — “worried”", "", "Naïve forecasts"]
    raw = [line.encode("utf-8") for line in utf8_lines]
    raw.insert(2, b"Caf\xe9 \x93Tariffs\x94 \x80 5")
    page, problem = decode_page("000_a.txt", b"\n".join(raw))
    assert problem is None
    lines = page.text.split("\n")
    assert lines[2] == "Café “Tariffs” € 5"
    assert lines[:2] + lines[3:] == utf8_lines


def test_cp1252_undefined_bytes_become_controls_that_cleanup_removes() -> None:
    # 0x81, 0x8D, 0x8F, 0x90 and 0x9D have no Windows-1252 meaning.
    decoded = decode_line(b"a\x81b\x8dc\x8fd\x90e\x9df\xff")
    assert decoded == "a\x81b\x8dc\x8fd\x90e\x9dfÿ"


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", "empty"),
        (b"  \n\r\n\t \n", "empty"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "binary"),
        (b"Title\n\nTitle\n\nSummary \x00 with a NUL.\n", "binary"),
        ("Title".encode("utf-16"), "binary"),
    ],
)
def test_bad_page_is_skipped_with_a_reason(data: bytes, reason: str) -> None:
    page, problem = decode_page("007_bad.txt", data)
    assert page is None
    assert problem.source == "007_bad.txt"
    assert reason in problem.message and problem.message.startswith("skipped")


def test_page_over_the_size_limit_is_skipped_unread(tmp_path: Path) -> None:
    path = tmp_path / "000_big.txt"
    path.write_bytes(b"Title\n\nTitle\n\nSummary.\n" + b"x" * 100)
    [file] = list_pages(tmp_path)
    page, problem = read_page(file, max_bytes=50)
    assert page is None and "over the 50-byte page limit" in problem.message
    page, problem = read_page(file, max_bytes=file.size)
    assert problem is None and page.name == "000_big.txt"


def test_page_that_grew_after_listing_is_still_held_to_the_limit(tmp_path: Path) -> None:
    path = tmp_path / "000_growing.txt"
    path.write_bytes(b"Title\n\nSummary.\n")
    [file] = list_pages(tmp_path)
    path.write_bytes(b"Title\n\nSummary.\n" + b"x" * 1000)
    page, problem = read_page(file, max_bytes=100)
    assert page is None and "page limit" in problem.message


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads every file")
def test_unreadable_page_is_skipped(tmp_path: Path) -> None:
    path = tmp_path / "000_locked.txt"
    path.write_bytes(b"Title\n\nSummary.\n")
    path.chmod(0)
    try:
        [file] = list_pages(tmp_path)
        page, problem = read_page(file, max_bytes=1000)
    finally:
        path.chmod(0o644)
    assert page is None and "cannot read" in problem.message


# Decoding is defined line by line; however decode_page does it, it must
# give what this plain reading of the rule gives.


def decoded_line_by_line(data: bytes) -> str:
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    return "\n".join(decode_line(line) for line in data.splitlines())


line_bytes = st.one_of(
    st.text(max_size=30).map(lambda text: text.encode("utf-8", "surrogatepass")),
    st.binary(max_size=12),
    st.sampled_from([b"Caf\xe9", b"\x93quoted\x94", b"\xe2\x82", b"\xed\xa0\x80", b"\x81\x8d\x8f\x90\x9d", "Zölle".encode()]),
)
endings = st.sampled_from([b"\n", b"\r\n", b"\r", b"\n\n", b"\r\r\n"])
mixed_pages = st.lists(st.tuples(line_bytes, endings), max_size=20).map(lambda pairs: b"".join(a + b for a, b in pairs))


@settings(max_examples=200, deadline=None)
@given(st.booleans(), mixed_pages)
def test_decoding_is_line_by_line(bom: bool, body: bytes) -> None:
    data = (b"\xef\xbb\xbf" if bom else b"") + body
    page, problem = decode_page("000_a.txt", data)
    if page is None:
        assert problem.message.startswith("skipped")
        assert not data.strip() or b"\x00" in data
        return
    assert page.text == decoded_line_by_line(data)


# Error and block pages


BLOCKED = "403 Forbidden\n\nAccess denied\n\nYou do not have permission to access this server.\n"


def test_a_page_of_error_titles_is_skipped_and_named(seeds: Path) -> None:
    (seeds / "020_blocked.txt").write_text(BLOCKED)
    result = CliRunner().invoke(main, ["articles", "--json", "--seeds", str(seeds)], env={"SOURCE_DATE_EPOCH": "1760000000"})
    assert result.exit_code == 0, result.output
    titles = {article["title"] for article in json.loads(result.stdout)}
    assert not titles & {"403 Forbidden", "Access denied"}
    assert "020_blocked.txt" in result.stderr and "error or block page" in result.stderr


def test_a_real_story_about_access_being_denied_is_kept(seeds: Path) -> None:
    story = "Access denied: court rules on customs data\n\nAccess denied: court rules on customs data\n\nThe court ruled that traders may not see the data.\n"
    (seeds / "020_court.txt").write_text(BLOCKED + "\n" + story)
    result = CliRunner().invoke(main, ["articles", "--json", "--seeds", str(seeds)], env={"SOURCE_DATE_EPOCH": "1760000000"})
    titles = {article["title"] for article in json.loads(result.stdout)}
    assert "Access denied: court rules on customs data" in titles and "403 Forbidden" in titles


def test_the_error_titles_are_a_setting(seeds: Path) -> None:
    (seeds / "020_down.txt").write_text("Our site is down\n\nOur site is down\n\nCome back later.\n")
    environ = {"SOURCE_DATE_EPOCH": "1760000000", "FEEDSVC_ERROR_PAGE_TITLES": '["our site is down"]'}
    result = CliRunner().invoke(main, ["articles", "--json", "--seeds", str(seeds)], env=environ)
    assert "Our site is down" not in {article["title"] for article in json.loads(result.stdout)}
    bad = CliRunner().invoke(main, ["articles", "--seeds", str(seeds)], env={"FEEDSVC_ERROR_PAGE_TITLES": '["("]'})
    assert bad.exit_code == 1 and "error_page_titles" in bad.output
