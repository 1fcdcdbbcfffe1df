"""`build --diff`: the articles a run would add, change or withdraw."""

from __future__ import annotations

from feedsvc.config import Config
from feedsvc.core.merge import articles
from feedsvc.core.models import Article
from feedsvc.store import ledger as ledger_file
from feedsvc.store.ingest import Ingest


def article_changes(config: Config, result: Ingest) -> list[tuple[str, Article]]:
    """What a run would do to the published articles, against the ledger
    as the run found it: ("+", added), ("~", changed), ("-", withdrawn)."""
    current = ledger_file.parse(result.ledger_bytes, str(config.ledger_path))
    before = {a.id: a for a in articles(current, config.site_key)}
    after = {a.id: a for a in result.articles(config.site_key)}
    changes: list[tuple[str, Article]] = []
    for article in after.values():
        old = before.get(article.id)
        if old is None:
            changes.append(("+", article))
        elif (old.title, old.summary, old.category, old.updated) != (article.title, article.summary, article.category, article.updated):
            changes.append(("~", article))
    changes += [("-", article) for article_id, article in before.items() if article_id not in after]
    order = {"+": 0, "~": 1, "-": 2}
    return sorted(changes, key=lambda pair: (order[pair[0]], -pair[1].published.timestamp(), pair[1].id))
