"""HTML listing pages: the golden pairs in tests/html_pages/, the HTML copies
of the sample pages, settings, decoding, links, dates, hostile pages and
`feedsvc preview`. Everything goes through the CLI or reads what it wrote."""

from __future__ import annotations

import datetime as dt
import json
import shutil
from pathlib import Path
from zoneinfo import ZoneInfo

import feedparser
import pytest
from click.testing import CliRunner

from feedsvc.cli import main
from feedsvc.core.dates import read_date
from feedsvc.core.links import clean_link
from regen_golden import EPOCH
from regen_golden_html import HTML_PAGES, golden_sites, render, run_site

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = sorted((ROOT / "seeds").glob("*.txt"))
ENV = {"SOURCE_DATE_EPOCH": str(EPOCH), "FEEDSVC_SEEDS": None, "FEEDSVC_TIMEZONE": None}
TEXT_MODE = '\n[html]\nmode = "text"\n'


def cli(*args: str, env: dict | None = None):
    return CliRunner().invoke(main, list(args), env={**ENV, **(env or {})})


def articles(seeds: Path, env: dict | None = None) -> tuple[list[dict], list[str]]:
    result = cli("articles", "--json", "--seeds", str(seeds), env=env)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout), result.stderr.splitlines()


def site(tmp_path: Path, pages: dict[str, bytes | str], config: str = "") -> Path:
    seeds = tmp_path / "seeds"
    seeds.mkdir(parents=True, exist_ok=True)
    (seeds / "feedsvc.toml").write_text((ROOT / "seeds" / "feedsvc.toml").read_text(encoding="utf-8") + config, encoding="utf-8")
    for name, data in pages.items():
        (seeds / name).write_bytes(data.encode("utf-8") if isinstance(data, str) else data)
    return seeds


@pytest.mark.parametrize("golden", golden_sites(), ids=lambda path: path.name)
def test_golden_html_page(golden: Path, tmp_path: Path) -> None:
    """After a meant change: python tests/regen_golden_html.py NAME"""
    expected = (golden / "expected.json").read_text(encoding="utf-8")
    assert render(run_site(golden, tmp_path)) == expected


def test_golden_sites_cover_the_kinds_of_page() -> None:
    assert {path.name for path in golden_sites()} >= {"wordpress", "cms_views", "european", "base_href", "hostile"}


@pytest.mark.parametrize("sample", SAMPLES, ids=lambda path: path.stem)
def test_html_copy_of_a_sample_page_gives_the_same_articles(sample: Path, tmp_path: Path) -> None:
    text_seeds = site(tmp_path / "text", {sample.name: sample.read_bytes()})
    html_copy = HTML_PAGES / "samples" / (sample.stem + ".html")
    html_seeds = site(tmp_path / "html", {html_copy.name: html_copy.read_bytes()}, TEXT_MODE)
    from_text, text_warnings = articles(text_seeds)
    from_html, html_warnings = articles(html_seeds)
    assert text_warnings == html_warnings == []
    keep = ("id", "title", "summary", "category", "published", "updated", "date_source")
    assert [{k: a[k] for k in keep} for a in from_html] == [{k: a[k] for k in keep} for a in from_text]
    # The HTML copy knows each article's source; menus, sidebar and footer made no article.
    assert all(a["link"].startswith("https://news.example.org/news/") and "utm_" not in a["link"] for a in from_html)
    titles = " ".join(a["title"] + " " + a["summary"] for a in from_html)
    for furniture in ("Home", "Popular story", "Copyright", "Privacy", "Injected", "Tracking pixel", "Latest news"):
        assert furniture not in titles


def test_switching_a_site_from_text_to_html_moves_nothing(tmp_path: Path) -> None:
    """The same listing saved as HTML a day later: same ids, no `updated`
    moves, and the articles gain their links."""
    sample = SAMPLES[1]
    seeds = site(tmp_path, {sample.name: sample.read_bytes()}, TEXT_MODE)
    before, _ = articles(seeds)
    (seeds / sample.name).unlink()
    html_copy = HTML_PAGES / "samples" / (sample.stem + ".html")
    (seeds / (sample.stem + "_next.html")).write_bytes(html_copy.read_bytes())
    after, warnings = articles(seeds, {"SOURCE_DATE_EPOCH": str(EPOCH + 86400)})
    assert warnings == []
    assert [(a["id"], a["published"], a["updated"]) for a in after] == [(a["id"], a["published"], a["updated"]) for a in before]
    assert all(a["link"] is None for a in before) and all(a["link"] for a in after)


def test_an_html_page_without_html_settings_is_skipped_with_a_pointer(tmp_path: Path) -> None:
    seeds = site(tmp_path, {"000_a.txt": "Port Opens\n\nPort Opens\n\nA lane opened.\n", "001_b.html": "<p>Rail Opens</p>"})
    listed, warnings = articles(seeds)
    assert [a["title"] for a in listed] == ["Port Opens"]
    (warning,) = warnings
    assert "001_b.html" in warning and "[html]" in warning and "feedsvc preview" in warning


@pytest.mark.parametrize(
    "table, setting",
    [
        ('card = "div[" \ntitle = "h2"', "html.card"),
        ('card = "div" \ntitle = "h2::"', "html.title"),
        ('card = "div" \ntitle = "h2" \nsummery = "p"', "html.summery"),
        ('title = "h2"', "html.card"),
        ('mode = "text" \ncard = "div"', "html.card"),
        ('mode = "guess"', "html.mode"),
        ('card = "div" \ntitle = "h2" \ndayfirst = "yes"', "html.dayfirst"),
        ('card = "div" \ntitle = "h2" \npage_url = "example.com/news"', "html.page_url"),
    ],
)
def test_bad_html_settings_name_the_setting(tmp_path: Path, table: str, setting: str) -> None:
    seeds = site(tmp_path, {"000_a.html": "<p>x</p>"}, "\n[html]\n" + table + "\n")
    result = cli("articles", "--seeds", str(seeds))
    assert result.exit_code == 1 and setting in result.output, result.output


@pytest.mark.parametrize(
    "data, title",
    [
        (b"\xef\xbb\xbf<h2>Caf\xc3\xa9 Opens</h2>", "Café Opens"),
        ("\ufeff<h2>Café Opens</h2>".encode("utf-16-le"), "Café Opens"),
        (b'<meta charset="iso-8859-1"><h2>Caf\xe9 \x93Opens\x94</h2>', "Café “Opens”"),
        (b'<meta http-equiv="content-type" content="text/html; charset=koi8-r"><h2>\xf0\xcf\xd2\xd4</h2>', "Порт"),
        (b"<h2>Caf\xc3\xa9 Opens</h2>\n<p>Stra\xdfe</p>", "Café Opens"),  # one cp1252 line among UTF-8
    ],
)
def test_html_pages_are_decoded_by_bom_then_meta_charset_then_utf8(tmp_path: Path, data: bytes, title: str) -> None:
    seeds = site(tmp_path, {"000_a.html": data}, '\n[html]\ncard = "body"\ntitle = "h2"\nsummary = "p"\n')
    listed, warnings = articles(seeds)
    assert [a["title"] for a in listed] == [title], warnings
    if b"Stra" in data:
        assert listed[0]["summary"] == "Straße"


def test_text_pages_carry_links(tmp_path: Path) -> None:
    page = (
        "Port Opens\n\nPort Opens\n\nA lane opened.\n\nRead More https://port.example/a?utm_medium=x&id=1#c\n\n"
        "Rail Opens\n\nRail Opens\n\nA line opened.\n\n07/29/2025 Logistics\nhttps://port.example/b\n\n"
        "Road Opens\n\nRoad Opens\n\nA road opened.\n\nRead More\n"
    )
    listed, warnings = articles(site(tmp_path, {"000_a.txt": page}))
    assert warnings == []
    assert {a["title"]: a["link"] for a in listed} == {
        "Port Opens": "https://port.example/a?id=1",
        "Rail Opens": "https://port.example/b",
        "Road Opens": None,
    }


def test_ledgers_without_links_keep_their_bytes_and_old_ledgers_load(tmp_path: Path) -> None:
    seeds = site(tmp_path, {"000_a.txt": "Port Opens\n\nPort Opens\n\nA lane opened.\n"})
    articles(seeds)
    ledger = (seeds / "ledger.jsonl").read_bytes()
    assert b'"link"' not in ledger
    (seeds / "001_b.txt").write_text("Port Opens\n\nPort Opens\n\nA lane opened.\n\nRead More https://port.example/a\n")
    listed, _ = articles(seeds, {"SOURCE_DATE_EPOCH": str(EPOCH + 60)})
    assert listed[0]["link"] == "https://port.example/a"
    assert b'"link":"https://port.example/a"' in (seeds / "ledger.jsonl").read_bytes()


def test_feeds_open_the_source_and_link_feedsvcs_page(tmp_path: Path) -> None:
    page = "Port Opens\n\nPort Opens\n\nA lane opened.\n\nRead More https://port.example/a\n\nRail Opens\n\nRail Opens\n\nNo link here.\n"
    seeds = site(tmp_path, {"000_a.txt": page})
    out = tmp_path / "out"
    assert cli("build", "--seeds", str(seeds), "--out", str(out)).exit_code == 0
    checked = cli("check", str(out))  # links to another host are sources, not a wrong base URL
    assert checked.exit_code == 0, checked.output
    atom = feedparser.parse((out / "feeds" / "all.atom").read_bytes())
    rss = feedparser.parse((out / "feeds" / "all.rss").read_bytes())
    items = json.loads((out / "feeds" / "all.json").read_bytes())["items"]
    by_title = {entry.title: entry for entry in atom.entries}
    linked, plain = by_title["Port Opens"], by_title["Rail Opens"]
    assert linked.link == "https://port.example/a"
    (related,) = [link.href for link in linked.links if link.rel == "related"]
    assert related.startswith("http://127.0.0.1:8000/articles/")
    assert plain.link.startswith("http://127.0.0.1:8000/articles/") and len(plain.links) == 1
    assert {e.title: e.link for e in rss.entries}["Port Opens"] == "https://port.example/a"
    assert {i["title"]: i["url"] for i in items}["Port Opens"] == "https://port.example/a"
    own_page = (out / related.removeprefix("http://127.0.0.1:8000/") / "index.html").read_text(encoding="utf-8")
    assert 'href="https://port.example/a"' in own_page


def test_hostile_html_stays_bounded_and_escaped(tmp_path: Path) -> None:
    """10,000 nested divs and a page of about 9 MB are read in bounded
    time and memory (no recursion, no huge_tree), and script never becomes text."""
    nested = "<div>" * 10_000 + "<h2>Deep Headline</h2><p>Deep summary.</p>" + "</div>" * 10_000
    card = '<div class="card"><h2 class="t"><script>alert(1)</script>Card {n}</h2><p class="s">' + "Filler text. " * 60 + "</p></div>\n"
    big = "<html><body>" + "".join(card.format(n=n) for n in range(10_300)) + "</body></html>"
    assert 8_500_000 < len(big) < 10_000_000
    config = '\n[html]\ncard = ".card"\ntitle = ".t"\nsummary = ".s"\n'
    seeds = site(tmp_path, {"000_nested.html": nested, "001_big.html": big}, config)
    listed, warnings = articles(seeds, {"FEEDSVC_MAX_NEW_ARTICLES": "20000"})
    titles = {a["title"] for a in listed}
    assert "Card 0" in titles and not any("alert" in t for t in titles)
    assert all("000_nested.html" in w or "001_big.html" in w for w in warnings)
    text_seeds = site(tmp_path / "text", {"000_nested.html": nested}, TEXT_MODE)
    cli("articles", "--json", "--seeds", str(text_seeds))  # must return, whatever it finds


def test_preview_shows_a_page_without_touching_the_ledger(tmp_path: Path) -> None:
    golden = HTML_PAGES / "european"
    seeds = tmp_path / "seeds"
    seeds.mkdir()
    shutil.copyfile(golden / "feedsvc.toml", seeds / "feedsvc.toml")
    page = tmp_path / "elsewhere.html"
    shutil.copyfile(golden / "page.html", page)
    result = cli("preview", str(page), "--seeds", str(seeds))
    assert result.exit_code == 0, result.output
    assert "Neue Kaimauer für den Südhafen" in result.stdout and "2025-07-29" in result.stdout
    assert "https://www.binnenhafen.example.de/aktuelles/meldungen/kaimauer-suedhafen.php?id=88" in result.stdout
    assert not (seeds / "ledger.jsonl").exists()
    text = cli("preview", str(ROOT / "seeds" / SAMPLES[0].name))
    assert text.exit_code == 0 and "Body Found in Guangdong Locker" in text.stdout
    bare = cli("preview", str(page))  # the file's own folder has no [html] table
    assert bare.exit_code == 0 and "[html]" in bare.stderr


def test_same_day_articles_keep_the_page_order(tmp_path: Path) -> None:
    page = "".join(f"Story {n}\n\nStory {n}\n\nText {n}.\n\n07/29/2025 Logistics\n\n" for n in "ABC")
    seeds = site(tmp_path, {"000_a.txt": page})
    first, _ = articles(seeds)
    assert [a["title"] for a in first] == ["Story A", "Story B", "Story C"]
    assert [a["published"] for a in first] == ["2025-07-29T00:00:02Z", "2025-07-29T00:00:01Z", "2025-07-29T00:00:00Z"]
    (seeds / "001_b.txt").write_text("Story D\n\nStory D\n\nText D.\n\n07/29/2025 Logistics\n\n" + page)
    second, _ = articles(seeds, {"SOURCE_DATE_EPOCH": str(EPOCH + 60)})
    assert [(a["title"], a["published"]) for a in second][:2] == [("Story D", "2025-07-29T00:00:03Z"), ("Story A", "2025-07-29T00:00:02Z")]


FIRST_SEEN = dt.date(2025, 10, 9)


@pytest.mark.parametrize(
    "text, dayfirst, expected",
    [
        ("July 29, 2025", False, "2025-07-29"),
        ("29 Jul 2025", False, "2025-07-29"),
        ("2025-07-29", False, "2025-07-29"),
        ("2025-07-29T23:30:00-05:00", False, "2025-07-30T04:30:00+00:00"),
        ("29.07.2025", True, "2025-07-29"),
        ("07.08.2025", True, "2025-08-07"),
        ("07/08/2025", False, "2025-07-08"),
        ("Dec 24", False, "2024-12-24"),
        ("Oct 9", False, "2025-10-09"),
        ("Feb 29", False, "2024-02-29"),
    ],
)
def test_dates_in_any_common_way(text: str, dayfirst: bool, expected: str) -> None:
    reading = read_date(text, FIRST_SEEN, ZoneInfo("Europe/Berlin"), dayfirst)
    assert (reading.moment.isoformat() if reading.moment else reading.date.isoformat()) == expected


@pytest.mark.parametrize("text", ["", "yesterday", "July 2025", "next Tuesday maybe", "31/31/2025", "x" * 200])
def test_unreadable_dates_are_refused_not_guessed(text: str) -> None:
    with pytest.raises(ValueError):
        read_date(text, FIRST_SEEN, ZoneInfo("UTC"))


@pytest.mark.parametrize(
    "href, base, expected",
    [
        ("/a?utm_source=x&b=1&fbclid=2&gclid=3#frag", "https://ex.org/news/", "https://ex.org/a?b=1"),
        ("story.html", "https://ex.org/news/", "https://ex.org/news/story.html"),
        ("javascript:alert(1)", "https://ex.org/", None),
        ("data:text/html,x", "https://ex.org/", None),
        ("mailto:x@ex.org", "https://ex.org/", None),
        ("story.html", None, None),
        (" https://ex.org/\tx ", None, "https://ex.org/x"),
    ],
)
def test_links_are_cleaned(href: str, base: str | None, expected: str | None) -> None:
    assert clean_link(href, base)[0] == expected
