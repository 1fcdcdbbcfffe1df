"""Checks applied to everything feedsvc publishes from hostile input: text
fit for XML, well-formed documents, and HTML that carries page text only
as text."""

from __future__ import annotations

import json
import re

import lxml.html
from lxml import etree

from feedsvc.core.models import Article

ATOM = "http://www.w3.org/2005/Atom"
# The complement of the XML 1.0 `Char` production.
XML_FORBIDDEN = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
# Every C0 and C1 control except newline: none may come out of ingest.
CONTROLS = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f]")
SLUG = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")

# The only elements and attributes the page templates write. Page text that
# escaped as markup would show up as something outside these sets.
HTML_TAGS = {
    "html", "head", "meta", "title", "link", "script", "body", "header", "h1", "h2", "h3", "p", "a", "main",
    "section", "div", "ul", "ol", "li", "span", "input", "button", "time", "nav", "footer", "article",
}
HTML_ATTRIBUTES = {
    "lang", "charset", "name", "content", "rel", "href", "type", "title", "src", "defer", "class", "id",
    "aria-labelledby", "aria-label", "readonly", "value", "spellcheck", "data-copy", "dir", "datetime",
}


def assert_clean_text(text: str, what: str) -> None:
    """Text that came out of ingest: nothing XML forbids, no control character."""
    assert not XML_FORBIDDEN.search(text), f"{what} holds an XML-forbidden character: {text!r}"
    assert not CONTROLS.search(text), f"{what} holds a control character: {text!r}"


def assert_clean_article(article: Article, max_title_chars: int) -> None:
    assert article.title.strip(), f"article {article.id} has an empty title"
    assert len(article.title) <= max_title_chars
    for name in ("title", "summary", "category"):
        assert_clean_text(getattr(article, name), f"{name} of {article.id}")
    assert SLUG.fullmatch(article.category_slug), article.category_slug
    assert re.fullmatch(r"[a-z2-7]{16}", article.id), article.id


def assert_document(path: str, body: bytes) -> None:
    """Any published document: UTF-8 with no XML-forbidden character, and
    well-formed for its kind."""
    text = body.decode("utf-8")
    assert not XML_FORBIDDEN.search(text), f"{path} holds an XML-forbidden character"
    if path.endswith((".atom", ".rss", ".opml")):
        root = etree.fromstring(body, etree.XMLParser(resolve_entities=False, no_network=True))
        contents = root.findall(f"{{{ATOM}}}entry/{{{ATOM}}}content") + root.findall("channel/item/description")
        for content in contents:
            if content.get("type", "html") == "html" and content.text:
                assert_paragraphs_only(path, content.text)
    elif path.endswith(".json"):
        for item in json.loads(text).get("items", []):
            assert_paragraphs_only(path, item.get("content_html", ""))
    elif path.endswith("/"):
        assert_html_escapes(path, body)


def assert_paragraphs_only(path: str, markup: str) -> None:
    """An entry's HTML content is its paragraphs, each a bare <p> of text:
    markup in page text must arrive escaped, never as elements."""
    if not markup.strip():
        return
    for fragment in lxml.html.fragments_fromstring(markup):
        assert not isinstance(fragment, str) or not fragment.strip(), f"{path}: text outside a paragraph: {fragment!r}"
        if isinstance(fragment, str):
            continue
        assert fragment.tag == "p" and not fragment.attrib, f"{path}: <{fragment.tag}> in an entry's content"
        assert len(fragment) == 0, f"{path}: markup inside a paragraph: {lxml.html.tostring(fragment)[:200]!r}"


def assert_html_escapes(path: str, body: bytes) -> None:
    """No markup in a page but the template's own."""
    root = lxml.html.document_fromstring(body)
    for element in root.iter():
        if not isinstance(element.tag, str):
            continue  # comments and processing instructions are checked below
        assert element.tag in HTML_TAGS, f"{path}: unexpected <{element.tag}>"
        unknown = set(element.attrib) - HTML_ATTRIBUTES
        assert not unknown, f"{path}: unexpected attribute(s) {unknown} on <{element.tag}>"
        if element.tag == "script":
            assert element.get("src") and not (element.text or "").strip(), f"{path}: inline script"
    assert b"<!--" not in body, f"{path}: a comment the templates never write"


def assert_article_page(body: bytes, article: Article) -> None:
    """The article page shows the title and each paragraph as plain text."""
    root = lxml.html.document_fromstring(body)
    (heading,) = root.xpath("//article/h1")
    assert heading.text_content() == article.title
    shown = [p.text_content() for p in root.xpath("//article/div[@class='summary']/p")]
    assert shown == article.paragraphs
