"""Clean an article's link: resolve it against the page's base, keep only
http and https, and drop the fragment and tracking parameters. Pure."""

from __future__ import annotations

import re
from urllib.parse import quote, urljoin, urlsplit, urlunsplit

_TRACKING_PREFIXES = ("utm_",)
_TRACKING_NAMES = {"fbclid", "gclid"}
# Browsers drop tabs and newlines inside an href and trim the ends.
_INVISIBLE = re.compile(r"[\t\n\r]")
ABSOLUTE_URL = re.compile(r"^https?://\S+$", re.IGNORECASE)
# Characters a URL may hold as they are; everything else (spaces, controls,
# non-ASCII) is percent-encoded as UTF-8, as browsers do, so a link is
# always plain ASCII that any feed can carry.
_C0_AND_SPACE = "".join(map(chr, range(33)))  # browsers trim these from an href
_URL_SAFE = "/:?#[]@!$&'()*+,;=%~-._"


def clean_link(href: str, base: str | None = None) -> tuple[str | None, str | None]:
    """The link an article points to and, when there is none, why the href
    was dropped (None when there was nothing to drop)."""
    href = _INVISIBLE.sub("", href).strip(_C0_AND_SPACE)
    if not href or href.startswith("#"):
        return None, None
    try:
        href = quote(href, safe=_URL_SAFE)
    except UnicodeEncodeError:  # lone surrogates: not text at all
        return None, f"link {_shown(href.encode('utf-8', 'backslashreplace').decode('ascii'))} is not valid text; dropped"
    try:
        absolute = urljoin(base, href) if base else href
        parts = urlsplit(absolute)
    except ValueError:
        return None, f"link {_shown(href)} is not a valid URL; dropped"
    if parts.scheme.lower() not in ("http", "https"):
        if not parts.scheme and not base:
            return None, f"relative link {_shown(href)} and no <base href>, canonical link or page_url to resolve it; dropped"
        return None, f"link {_shown(href)} is not http or https; dropped"
    if not parts.hostname:
        return None, f"link {_shown(href)} names no host; dropped"
    query = "&".join(pair for pair in parts.query.split("&") if pair and not _tracking(pair))
    return urlunsplit((parts.scheme.lower(), parts.netloc, parts.path or "/", query, "")), None


def _tracking(pair: str) -> bool:
    name = pair.split("=", 1)[0].lower()
    return name.startswith(_TRACKING_PREFIXES) or name in _TRACKING_NAMES


def _shown(href: str) -> str:
    return repr(href if len(href) <= 80 else href[:77] + "...")
