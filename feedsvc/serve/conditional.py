"""HTTP representations of the site's documents and the rules for answering
a request for one: ETags, gzip, caching and security headers, and
conditional requests (RFC 9110 section 13). No web framework in here: the
app hands in header values and gets back what to send.

Everything that can be worked out once per document is: the gzip body, both
ETags and every response header list are built when a document is first
asked for, so answering a request costs a dictionary lookup and a few
string comparisons.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import gzip
import hashlib
import math
from dataclasses import dataclass
from typing import Callable, Iterable

from feedsvc.site.model import Resource

HeaderList = Iterable[tuple[str, str]]

# Header values longer than this are treated as absent: no legitimate
# client sends one, and parsing them must stay cheap.
MAX_HEADER_CHARS = 8192

CONTENT_SECURITY_POLICY = (
    "default-src 'none'; style-src 'self'; script-src 'self'; img-src 'self' data:; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
REFERRER_POLICY = "no-referrer"

# Sent with every answer, whatever its status.
COMMON_HEADERS = (("X-Content-Type-Options", "nosniff"),)
HTML_HEADERS = (
    ("Content-Security-Policy", CONTENT_SECURITY_POLICY),
    ("Referrer-Policy", REFERRER_POLICY),
)
# Feeds are public and read by browser-based readers on other origins.
FEED_TYPES = ("application/atom+xml", "application/rss+xml", "application/feed+json", "text/x-opml")
CORS_HEADERS = (("Access-Control-Allow-Origin", "*"),)


@dataclass(frozen=True)
class Representation:
    """One encoding of a document: its bytes, its ETag and the headers for a
    200 (Content-Length included) and for a 304, in whatever form the
    server asked `prepare` for."""

    body: bytes
    etag: str
    headers: object
    not_modified_headers: object


@dataclass(frozen=True)
class Served:
    """A document ready to send: as is and gzipped, and its modification
    time in whole seconds since the epoch (None when it has none)."""

    identity: Representation
    gzipped: Representation
    modified: int | None


def strong_etag(body: bytes) -> str:
    """A strong ETag that depends on the bytes only, so every worker and
    every restart gives the same one for the same representation."""
    return '"' + hashlib.sha256(body).hexdigest()[:32] + '"'


def http_date(moment: dt.datetime) -> str:
    return email.utils.format_datetime(moment.astimezone(dt.timezone.utc), usegmt=True)


def gzip_body(body: bytes) -> bytes:
    """gzip with a zero timestamp, so the same bytes always compress alike."""
    return gzip.compress(body, compresslevel=6, mtime=0)


def prepare(resource: Resource, max_age: int, wrap: Callable[[HeaderList], object] = tuple) -> Served:
    """Build both representations of a rendered document and their headers;
    `wrap` turns each header list into the server's header type once."""
    modified = None
    common = [("Content-Type", resource.content_type), ("Cache-Control", f"public, max-age={max_age}")]
    if resource.last_modified is not None:
        moment = resource.last_modified.replace(microsecond=0)
        modified = int(moment.timestamp())
        common.append(("Last-Modified", http_date(moment)))
    common.append(("Vary", "Accept-Encoding"))
    common += COMMON_HEADERS
    media_type = resource.content_type.split(";", 1)[0].strip()
    if media_type == "text/html":
        common += HTML_HEADERS
    if media_type in FEED_TYPES:
        common += CORS_HEADERS
    identity = _representation(resource.body, common, [], wrap)
    gzipped = _representation(gzip_body(resource.body), common, [("Content-Encoding", "gzip")], wrap)
    return Served(identity, gzipped, modified)


# What a 304 repeats: what a cache needs to refresh its stored copy.
_NOT_MODIFIED_KEEPS = {"Cache-Control", "ETag", "Last-Modified", "Vary", "X-Content-Type-Options", "Access-Control-Allow-Origin"}


def _representation(body: bytes, common: list, extra: list, wrap: Callable) -> Representation:
    etag = strong_etag(body)
    headers = common + extra + [("ETag", etag)]
    not_modified = [(name, value) for name, value in headers if name in _NOT_MODIFIED_KEEPS]
    headers.append(("Content-Length", str(len(body))))
    return Representation(body, etag, wrap(headers), wrap(not_modified))


def choose(served: Served, accept_encoding: str | None) -> Representation:
    return served.gzipped if accepts_gzip(accept_encoding) else served.identity


def is_not_modified(
    representation: Representation,
    modified: int | None,
    if_none_match: str | None,
    if_modified_since: str | None,
) -> bool:
    """Whether a GET or HEAD may be answered 304 (RFC 9110 13.2.2): If-None-Match
    decides when present; If-Modified-Since only when it is absent."""
    if if_none_match is not None and len(if_none_match) <= MAX_HEADER_CHARS:
        return etag_matches(if_none_match, representation.etag)
    if if_modified_since is None or modified is None:
        return False
    since = parse_http_date(if_modified_since)
    return since is not None and modified <= since


def etag_matches(header: str, etag: str) -> bool:
    """Weak comparison of `etag` against an If-None-Match list (or `*`)."""
    if header == etag:
        return True
    opaque = etag[1:-1]
    for candidate in header.split(","):
        candidate = candidate.strip()
        if candidate == "*":
            return True
        if candidate.startswith("W/"):
            candidate = candidate[2:]
        # Some clients drop the quotes; the opaque part still identifies it.
        if candidate == etag or candidate == opaque:
            return True
    return False


_DATES: dict[str, int | None] = {}


def parse_http_date(value: str) -> int | None:
    """Seconds since the epoch for an HTTP-date, or None for anything else
    (a recipient ignores an invalid If-Modified-Since)."""
    cached = _DATES.get(value, False)
    if cached is not False:
        return cached  # type: ignore[return-value]
    parsed = None
    # One date only (IMF-fixdate, RFC 850 or asctime form), never a list.
    if len(value) <= 64 and value.count(",") <= 1:
        try:
            moment = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError, OverflowError):
            moment = None
        if moment is not None:
            if moment.tzinfo is None:
                moment = moment.replace(tzinfo=dt.timezone.utc)
            try:
                parsed = int(moment.timestamp())
            except (OverflowError, OSError, ValueError):
                parsed = None
    if len(_DATES) < 512:
        _DATES[value] = parsed
    return parsed


_GZIP: dict[str, bool] = {}


def accepts_gzip(header: str | None) -> bool:
    """Whether Accept-Encoding allows gzip: listed (or `x-gzip`) with a
    non-zero q, or covered by `*` with a non-zero q when not listed."""
    if not header:
        return False
    known = _GZIP.get(header)
    if known is not None:
        return known
    answer = _parse_accept_encoding(header) if len(header) <= MAX_HEADER_CHARS else False
    if len(_GZIP) < 512:
        _GZIP[header] = answer
    return answer


def _parse_accept_encoding(header: str) -> bool:
    gzip_q = star_q = None
    for part in header.split(","):
        coding, _, parameters = part.partition(";")
        coding = coding.strip().lower()
        quality = _quality(parameters)
        if coding in ("gzip", "x-gzip"):
            gzip_q = quality if gzip_q is None else max(gzip_q, quality)
        elif coding == "*":
            star_q = quality
    if gzip_q is not None:
        return gzip_q > 0
    return star_q is not None and star_q > 0


def _quality(parameters: str) -> float:
    """The q value of one Accept-Encoding member; a malformed one counts as
    0, so a garbled header never turns compression on."""
    for parameter in parameters.split(";"):
        name, _, value = parameter.partition("=")
        if name.strip().lower() == "q":
            try:
                quality = float(value.strip())
            except ValueError:
                return 0.0
            return quality if math.isfinite(quality) and 0.0 <= quality <= 1.0 else 0.0
    return 1.0
