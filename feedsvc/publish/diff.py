"""`build --diff` and `preview`: the articles a run would add, change or
withdraw. Against the last build into the same folder when there is one
(its bookkeeping records what it published), so withdrawals and edits made
by operator commands since then show too; else against the ledger as the
run found it."""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass
from pathlib import Path

from feedsvc.config import Config
from feedsvc.core.merge import articles
from feedsvc.core.models import Article
from feedsvc.store import ledger as ledger_file
from feedsvc.publish.manifest import Books
from feedsvc.store.ingest import Ingest

@dataclass(frozen=True)
class Listed:
    """One article as a diff line shows it; `digest` covers what an edit changes."""

    id: str
    published: str
    category: str
    title: str
    digest: str

    @classmethod
    def of(cls, article: Article) -> "Listed":
        shown = "\x1f".join((article.title, article.summary, article.category, article.updated.isoformat()))
        digest = hashlib.sha256(shown.encode("utf-8")).hexdigest()[:16]
        return cls(article.id, ledger_file.stamp(article.published), article.category, article.title, digest)

    def row(self) -> tuple[str, str, str, str, str]:
        return (self.id, self.published, self.category, self.title, self.digest)


def last_published(state: Path) -> dict[str, Listed] | None:
    """What the last build into this folder published, if it said."""
    with Books(state, create=False) as books:
        rows = books.published()
    return None if rows is None else {row[0]: Listed(*row) for row in rows}


def article_changes(config: Config, result: Ingest, state: Path | None = None) -> list[tuple[str, Listed]]:
    """("+", added), ("~", changed), ("-", withdrawn), newest first within each."""
    before = last_published(state) if state is not None else None
    if before is None:
        assert result.before is not None, "changes are listed from a look (ingest with write=False)"
        before = {a.id: Listed.of(a) for a in articles(result.before, config.site_key)}
    after = {a.id: Listed.of(a) for a in result.articles(config.site_key)}
    changes: list[tuple[str, Listed]] = []
    for listed in after.values():
        old = before.get(listed.id)
        if old is None:
            changes.append(("+", listed))
        elif old.digest != listed.digest:
            changes.append(("~", listed))
    changes += [("-", listed) for article_id, listed in before.items() if article_id not in after]
    order = {"+": 0, "~": 1, "-": 2}
    return sorted(changes, key=lambda pair: (order[pair[0]], _newest_first(pair[1].published), pair[1].id))


def _newest_first(stamp: str) -> float:
    return -dt.datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()
