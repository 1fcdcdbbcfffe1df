"""Pure text helpers: cleaning scraped text, the canonical form of a title,
and the stable ids and slugs derived from it. Contains no I/O."""

from __future__ import annotations

import base64
import functools
import hashlib
import re
import unicodedata
import uuid

from slugify import slugify

# C0 and C1 controls, DEL, the UTF-16 surrogates and the two non-characters
# that XML 1.0 forbids. Newline is kept; tabs were folded into spaces first.
_FORBIDDEN = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff]+")
# Only the runs that change: matching every single space as well would make
# re.sub hold a piece per word, many times the size of a line of megabytes.
_BLANKS = re.compile(r"[ \t]{2,}|\t")

# Punctuation between two digits becomes a space rather than vanishing, so
# "1.5 million" and "15 million" stay different articles.
_PUNCT_BETWEEN_DIGITS = re.compile(r"(?<=\d)(?:[^\w\s]|_)+(?=\d)")

# A fixed namespace for every site's ids; the site key picks one below it.
_PROJECT_NAMESPACE = uuid.UUID("5b0f2d7e-8a6c-5b8e-9d43-2f7c1e0a9b61")


def clean_line(line: str) -> str:
    """Remove characters no feed may carry and fold runs of blanks."""
    if line.isprintable() and "  " not in line:
        # Nothing to remove or fold (every character _FORBIDDEN matches, and
        # the tab, is unprintable): a tenth of the cost of the two passes.
        return line.strip()
    return _BLANKS.sub(" ", _FORBIDDEN.sub("", line.replace("\t", " "))).strip()


def clean_text(text: str) -> str:
    """Like clean_line, but keep newlines (used for operator-supplied text)."""
    return "\n".join(clean_line(line) for line in text.split("\n"))


class _DroppedChars(dict):
    """A str.translate table that drops punctuation and invisible format
    characters (soft hyphens, zero-width spaces), filled in as characters
    are met so that no import-time scan of Unicode is needed."""

    def __missing__(self, codepoint: int) -> int | None:
        category = unicodedata.category(chr(codepoint))
        value = None if category[0] == "P" or category == "Cf" else codepoint
        self[codepoint] = value
        return value


_DROP = _DroppedChars()
_FORMAT_ONLY = {0xAD: None, 0x200B: None, 0x200C: None, 0x200D: None, 0x2060: None, 0xFEFF: None}


# Parsing compares each paragraph's key with the next one's, and normalize
# keys every title again: a small cache computes each of them once.
@functools.lru_cache(maxsize=1024)
def title_key(title: str) -> str:
    """The canonical form of a headline: its identity.

    NFKC, casefolded, format characters and punctuation removed (punctuation
    between digits becomes a space), whitespace collapsed. A headline made of
    punctuation or invisible characters alone keeps them, so it still has an
    identity of its own.
    """
    folded = unicodedata.normalize("NFKC", title).casefold()
    text = _PUNCT_BETWEEN_DIGITS.sub(" ", folded.translate(_FORMAT_ONLY))
    key = " ".join(text.translate(_DROP).split())
    return key or " ".join(text.split()) or " ".join(folded.split())


def short_hash(name: str) -> str:
    """80 bits of SHA-256 as 16 lowercase base32 characters: URL-safe."""
    digest = hashlib.sha256(name.encode("utf-8")).digest()[:10]
    return base64.b32encode(digest).decode("ascii").lower()


def article_id(key: str) -> str:
    """The short, path-safe id of the article with this title key."""
    return short_hash(key)


def split_id(article: str, since: str) -> str:
    """The id of an article an operator split off `article`."""
    return short_hash(f"split\n{article}\n{since}")


def site_namespace(site_key: str) -> uuid.UUID:
    return uuid.uuid5(_PROJECT_NAMESPACE, site_key)


def article_iri(namespace: uuid.UUID, article: str) -> str:
    """The permanent IRI of an article: UUIDv5 under the site's namespace."""
    return f"urn:uuid:{_uuid5_text(namespace, 'article/' + article)}"


@functools.lru_cache(maxsize=16)
def _namespace_bytes(namespace: uuid.UUID) -> bytes:
    return namespace.bytes  # computed from the UUID's integer on every access


def _uuid5_text(namespace: uuid.UUID, name: str) -> str:
    """str(uuid.uuid5(namespace, name)), computed on the bytes directly:
    building a UUID object per article is the slow part of listing a
    large site."""
    digest = bytearray(hashlib.sha1(_namespace_bytes(namespace) + name.encode("utf-8")).digest()[:16])
    digest[6] = digest[6] & 0x0F | 0x50  # version 5
    digest[8] = digest[8] & 0x3F | 0x80  # RFC 4122 variant
    hexa = digest.hex()
    return f"{hexa[:8]}-{hexa[8:12]}-{hexa[12:16]}-{hexa[16:20]}-{hexa[20:]}"


def feed_iri(namespace: uuid.UUID, path: str) -> str:
    """The permanent IRI of a feed, from its path and never its base URL."""
    return f"urn:uuid:{uuid.uuid5(namespace, 'feed' + path)}"


@functools.lru_cache(maxsize=256)
def keyword_pattern(words: tuple[str, ...]) -> re.Pattern | None:
    """One pattern for a list of words and phrases, matched on word
    boundaries in casefolded text (None when every word is blank): the one
    matcher of category rules and topic feeds, so both read keywords alike."""
    folded = [re.escape(word.casefold()) for word in words if word.strip()]
    return re.compile(r"\b(?:%s)\b" % "|".join(folded)) if folded else None


def content_hash(*parts: str) -> str:
    return hashlib.sha256("\x1f".join(parts).encode("utf-8")).hexdigest()[:32]


# Names that share a slug get -2, -3 and so on; past this many, a suffix from
# the name's hash, so a page of thousands of names that all slugify alike does
# not count up through every number for every name.
_NUMBERED_SLUGS = 20


def category_slug(name: str, taken: set[str]) -> str:
    """A lowercase ASCII slug that cannot climb out of a folder, is never
    empty, and is not in `taken`."""
    base = slugify(name, max_length=60, word_boundary=True) or "category-" + short_hash(name)[:8]
    slug, n = base, 2
    while slug in taken and n <= _NUMBERED_SLUGS:
        slug, n = f"{base}-{n}", n + 1
    if slug in taken:
        base = slug = f"{base}-{short_hash(name)[:8]}"
        n = 2
        while slug in taken:
            slug, n = f"{base}-{n}", n + 1
    return slug
