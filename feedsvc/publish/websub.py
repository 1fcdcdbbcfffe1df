"""Tell a WebSub hub which subscription feeds changed since the last ping
(W3C WebSub, section 7: `hub.mode=publish`, `hub.url=<feed URL>`).

What was last announced is kept in a small JSON file beside the ledger: the
hub and a digest of each feed's bytes. A feed is announced again only when
its bytes differ from the last successful ping to the same hub.
"""

from __future__ import annotations

import hashlib
import http.client
import json
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from feedsvc.site import routes as urls
from feedsvc.config import Config
from feedsvc.store.files import atomic_write
from feedsvc.site.model import Site

STATE_NAME = "websub.json"
TIMEOUT_SECONDS = 15
USER_AGENT = "feedsvc (WebSub publisher)"


@dataclass(frozen=True)
class Outcome:
    """What one ping run did: the feed URLs announced, the ones that failed
    with why, and how many needed nothing."""

    announced: tuple[str, ...]
    failed: tuple[tuple[str, str], ...]
    unchanged: int


def state_path(config: Config) -> Path:
    return config.ledger_path.with_name(STATE_NAME)


def feed_digests(site: Site) -> dict[str, str]:
    """Absolute URL -> SHA-256 of the bytes, for every subscription feed."""
    digests = {}
    for target in site.targets():
        if urls.match(target.path).kind == "feed":
            resource = site.render(target.path)
            if resource is not None:
                url = urls.absolute(site.config.site_url, target.path)
                digests[url] = hashlib.sha256(resource.body).hexdigest()
    return digests


def load_state(path: Path, hub: str) -> dict[str, str]:
    """The digests last announced to `hub`; none when the file is missing,
    unreadable or about another hub (announcing again is harmless)."""
    try:
        state = json.loads(path.read_bytes())
    except (OSError, ValueError):
        return {}
    if not isinstance(state, dict) or state.get("hub") != hub or not isinstance(state.get("feeds"), dict):
        return {}
    return {str(url): str(digest) for url, digest in state["feeds"].items()}


def save_state(path: Path, hub: str, digests: dict[str, str]) -> None:
    data = json.dumps({"hub": hub, "feeds": dict(sorted(digests.items()))}, indent=1) + "\n"
    atomic_write(path, data.encode("utf-8"))


def check_hub(hub: str) -> str | None:
    """Why `hub` cannot be used, or None when it is an http(s) URL."""
    parts = urllib.parse.urlsplit(hub)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return f"the hub {hub!r} must be an absolute http:// or https:// URL"
    return None


def publish(hub: str, feed_url: str) -> None:
    """One publish notification; raises OSError when the hub does not take it."""
    body = urllib.parse.urlencode({"hub.mode": "publish", "hub.url": feed_url}).encode("ascii")
    request = urllib.request.Request(
        hub,
        data=body,
        method="POST",
        headers={"Content-Type": "application/x-www-form-urlencoded", "User-Agent": USER_AGENT},
    )
    # A 2xx is acceptance; urllib raises HTTPError (an OSError) for the rest.
    with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as response:
        response.read(65536)


def ping(config: Config, site: Site, hub: str) -> Outcome:
    """Announce every changed feed to `hub` and remember the ones the hub took."""
    path = state_path(config)
    last = load_state(path, hub)
    current = feed_digests(site)
    remembered = {url: digest for url, digest in last.items() if url in current}
    announced, failed = [], []
    for url, digest in sorted(current.items()):
        if last.get(url) == digest:
            continue
        try:
            publish(hub, url)
        except urllib.error.HTTPError as error:
            failed.append((url, f"the hub answered {error.code} {error.reason}"))
            continue
        except (OSError, http.client.HTTPException, ValueError) as error:
            reason = getattr(error, "reason", None) or error
            failed.append((url, f"cannot reach the hub: {reason}"))
            continue
        announced.append(url)
        remembered[url] = digest
    if remembered != last:
        save_state(path, hub, remembered)
    return Outcome(tuple(announced), tuple(failed), len(current) - len(announced) - len(failed))
