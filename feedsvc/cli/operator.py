"""The operator's corrections: `takedown`, `alias` and `split`. Each takes
an article as its short id, its `urn:uuid:` id or its page's URL, and each
is one ledger transaction, so repeating one is harmless."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

import click

from feedsvc.cli import main
from feedsvc.cli.common import command_time, configure, run_mark, seeds_options
from feedsvc.config import Config
from feedsvc.core import marks
from feedsvc.core.models import Ledger
from feedsvc.site import routes


def article_named(ledger: Ledger, config: Config, given: str) -> str:
    """The short id of the article `given` names: a short id, an IRI, or the
    URL of its page on this site (any base URL: the path decides)."""
    path = urlsplit(given).path if given.startswith(("http://", "https://")) else ""
    start = path.find("/articles/")
    route = routes.match(path[start:]) if start >= 0 else None
    return marks.find_article(ledger, config.site_key, route.id if route and route.kind == "article" else given)


@main.command("takedown")
@seeds_options
@click.argument("article")
@click.option("--note", help="Why the article was withdrawn, kept in the ledger.")
def takedown_command(seeds: Path, ledger: Path | None, article: str, note: str | None) -> None:
    """Withdraw ARTICLE from every feed, archive and page, for good.

    ARTICLE is its short id, its urn:uuid: id, or its page's URL."""
    config = configure(seeds, ledger)
    now = command_time()
    found: dict[str, object] = {}

    def withdraw(current: Ledger) -> Ledger:
        found["id"] = article_id = article_named(current, config, article)
        found["already"] = current.records[article_id].withdrawn is not None
        return marks.takedown(current, article_id, now, note)

    run_mark(config, now, withdraw)
    click.echo(f"{found['id']} was already withdrawn" if found["already"] else f"withdrew {found['id']}")


@main.command("alias")
@seeds_options
@click.argument("new")
@click.argument("old")
def alias_command(seeds: Path, ledger: Path | None, new: str, old: str) -> None:
    """Give the article NEW (a rewritten headline) the id of OLD.

    Each is a short id, a urn:uuid: id, or an article page's URL."""
    config = configure(seeds, ledger)
    now = command_time()
    ids: dict[str, str] = {}

    def fold(current: Ledger) -> Ledger:
        ids["new"], ids["old"] = article_named(current, config, new), article_named(current, config, old)
        return marks.alias(current, ids["new"], ids["old"], now)

    run_mark(config, now, fold)
    click.echo(f"{ids['new']} is now published as {ids['old']}")


@main.command("split")
@seeds_options
@click.argument("article")
@click.option("--page", required=True, help="The page file from which on the headline is a different article.")
def split_command(seeds: Path, ledger: Path | None, article: str, page: str) -> None:
    """Split ARTICLE: cards with its headline on PAGE and newer pages become a new article.

    ARTICLE is its short id, its urn:uuid: id, or its page's URL."""
    config = configure(seeds, ledger)
    ids: dict[str, str] = {}

    def split(current: Ledger) -> Ledger:
        ids["id"] = article_named(current, config, article)
        return marks.split(current, ids["id"], page)

    result = run_mark(config, command_time(), split, reprocess=True)
    new_id = [s for s in result.ledger.splits if s.id == ids["id"]][-1].new_id
    click.echo(f"cards of {ids['id']} on {page} and later pages are now {new_id}")
