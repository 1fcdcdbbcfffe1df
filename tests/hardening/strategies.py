"""Hypothesis strategies that write listing pages from the card grammar and
then damage them: random bytes, characters from every Unicode plane,
control characters, very long lines, broken trailers and dates.

Shared by the test suite and by the long fuzz runner in fuzz/."""

from __future__ import annotations

from hypothesis import strategies as st

# Characters a scraper really meets, and the ones that break naive code.
HOSTILE_CHARS = (
    "\x00\x01\x08\x0b\x0c\x1b\x7f\x80\x85\x9f\xa0\xad"  # C0, DEL, C1, NBSP, soft hyphen
    "\u200b\u200d\u2028\u2029\u202e\u2066\ufeff"  # zero-width, separators, bidi, BOM
    "\ud800\udfff\ufffe\uffff\U0001fffe\U0010ffff"  # surrogates and non-characters
    "<>&\"'`]]>"  # markup
)
MARKUP = ("<script>alert(1)</script>", "<b>bold</b>", "&amp;", "&#0;", "]]>", "<![CDATA[x]]>", "<!--", "\"'><img src=x>")


@st.composite
def any_plane_char(draw: st.DrawFn) -> str:
    """One code point from a plane drawn uniformly, so the astral planes and
    the surrogate range are met as often as ASCII."""
    plane = draw(st.integers(0, 16))
    return chr(draw(st.integers(plane * 0x10000, plane * 0x10000 + 0xFFFF)))


def wild_text(max_size: int = 40) -> st.SearchStrategy[str]:
    """Text mixing words, hostile characters and code points of every plane."""
    pieces = st.one_of(
        st.sampled_from(["Port", "Customs", "Tariff", "rail", "1.5", "15", "-", " ", "  ", "\t", "."]),
        st.sampled_from(HOSTILE_CHARS),
        st.sampled_from(MARKUP),
        any_plane_char(),
        st.characters(),
    )
    return st.lists(pieces, max_size=max_size).map("".join)


def headline() -> st.SearchStrategy[str]:
    plain = st.lists(st.sampled_from(["Port", "Customs", "Rail", "Freight", "Opens", "New", "Corridor", "2025", "Asia-Pacific"]), min_size=1, max_size=8).map(" ".join)
    return st.one_of(plain, wild_text(20), st.builds(lambda a, b: a + " " + b, plain, wild_text(6)))


def summary_paragraph() -> st.SearchStrategy[str]:
    sentence = st.lists(st.sampled_from(["The", "port", "opened", "a", "new", "customs", "lane", "for", "freight"]), min_size=3, max_size=20).map(
        lambda words: " ".join(words).capitalize() + "."
    )
    return st.one_of(sentence, wild_text(60), st.builds(lambda a, b: a + b, sentence, wild_text(10)))


def date_text() -> st.SearchStrategy[str]:
    """Real dates, impossible ones and ones that only look like dates."""
    good = st.dates().map(lambda d: f"{d.month:02d}/{d.day:02d}/{d.year:04d}")
    bad = st.sampled_from(["13/45/2025", "00/00/0000", "02/30/2024", "02/29/2023", "99/99/9999", "1/1/0001", "12/31/9999", "1//2025", "01/02/25"])
    return st.one_of(good, bad, st.builds(lambda a, b, c: f"{a}/{b}/{c}", st.integers(0, 99), st.integers(0, 99), st.integers(0, 99999)))


def trailer() -> st.SearchStrategy[list[str]]:
    category = st.one_of(
        st.sampled_from(["Logistics", "Supply Chain & Ports", "Zölle/Handel ../x", "../../etc/passwd", "CON", "a" * 81, ""]),
        wild_text(12),
    )
    line = st.builds(lambda date, name: f"{date} {name}".rstrip(), date_text(), category)
    read_more = st.sampled_from([[], ["Read More"], ["READ MORE >>"], ["Read More", "Read More"]])
    return st.builds(lambda first, rest: [first, *rest], line, read_more)


@st.composite
def card(draw: st.DrawFn) -> list[str]:
    """The lines of one card: title, maybe its repeat, summary paragraphs,
    maybe a trailer, with the blank lines the grammar puts between them."""
    title = draw(headline())
    lines = [title, ""]
    repeat = draw(st.sampled_from(["same", "case", "spacing", "none"]))
    if repeat != "none":
        lines += [{"same": title, "case": title.swapcase(), "spacing": "  ".join(title.split())}[repeat], ""]
    for paragraph in draw(st.lists(summary_paragraph(), min_size=0, max_size=3)):
        lines += [paragraph, ""]
    if draw(st.booleans()):
        lines += draw(trailer())
        if draw(st.booleans()):
            lines.append("")
    return lines


def encode_line(line: str, encoding: str) -> bytes:
    if encoding == "cp1252":
        return line.encode("cp1252", errors="replace")
    return line.encode("utf-8", errors="surrogatepass")


@st.composite
def page_bytes(draw: st.DrawFn, max_cards: int = 12) -> bytes:
    """A page built from the card grammar, encoded line by line, then
    damaged by a few byte-level mutations."""
    lines = [line for one in draw(st.lists(card(), min_size=0, max_size=max_cards)) for line in one]
    encodings = st.sampled_from(["utf-8", "utf-8", "utf-8", "cp1252"])
    ending = draw(st.sampled_from([b"\n", b"\r\n", b"\r", b"\n\n"]))
    data = ending.join(encode_line(line, draw(encodings)) for line in lines)
    if draw(st.booleans()):
        data = b"\xef\xbb\xbf" + data
    for _ in range(draw(st.integers(0, 4))):
        data = draw(mutation(data))
    return data


@st.composite
def mutation(draw: st.DrawFn, data: bytes) -> bytes:
    """One byte-level accident: inserted or overwritten bytes, a cut, a
    duplicated stretch, or a long run of one byte."""
    at = draw(st.integers(0, len(data)))
    kind = draw(st.sampled_from(["insert", "overwrite", "truncate", "duplicate", "run"]))
    if kind == "insert":
        return data[:at] + draw(st.binary(min_size=1, max_size=16)) + data[at:]
    if kind == "overwrite":
        junk = draw(st.binary(min_size=1, max_size=8))
        return data[:at] + junk + data[at + len(junk) :]
    if kind == "truncate":
        return data[:at]
    if kind == "duplicate":
        end = draw(st.integers(at, len(data)))
        return data[:end] + data[at:end] + data[end:]
    byte = draw(st.sampled_from([b"\n", b" ", b"\t", b"x", b"\xff", b"\x85", b"/"]))
    return data[:at] + byte * draw(st.integers(1, 5000)) + data[at:]


def raw_pages() -> st.SearchStrategy[bytes]:
    """Anything at all: arbitrary bytes, arbitrary text, or a grammar page."""
    return st.one_of(
        st.binary(max_size=2000),
        st.text(st.characters(), max_size=500).map(lambda t: t.encode("utf-8", errors="surrogatepass")),
        page_bytes(),
    )
