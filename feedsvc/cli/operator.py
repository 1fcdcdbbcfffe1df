"""The operator's corrections: `takedown`, `alias`, `split`, `edit` and
`recategorize`. Each takes an article as its short id, its `urn:uuid:` id
or its page's URL, and each is one ledger transaction, so repeating one is
harmless."""

from __future__ import annotations

import datetime as dt
from urllib.parse import urlsplit

import click

from feedsvc.cli import main
from feedsvc.cli.common import Source, command_time, configure, run_ingest, run_mark, seeds_options
from feedsvc.config import Config
from feedsvc.core import marks
from feedsvc.core.merge import midnight
from feedsvc.core.models import Ledger
from feedsvc.store import ledger as ledger_file
from feedsvc.store.ingest import site_of
from feedsvc.site import routes


def article_named(ledger: Ledger, config: Config, given: str) -> str:
    """The short id of the article `given` names: a short id, an IRI, or the
    URL of its page on this site (any base URL: the path decides)."""
    path = urlsplit(given).path if given.startswith(("http://", "https://")) else ""
    path = path.removesuffix("index.html")  # the pages link to each other that way, for file://
    start = path.find("/articles/")
    route = routes.match(path[start:]) if start >= 0 else None
    return marks.find_article(ledger, config.site_key, route.id if route and route.kind == "article" else given)


@main.command("takedown")
@seeds_options
@click.argument("article")
@click.option("--note", help="Why the article was withdrawn, kept in the ledger.")
def takedown_command(source: Source, article: str, note: str | None) -> None:
    """Withdraw ARTICLE from every feed, archive and page, for good.

    ARTICLE is its short id, its urn:uuid: id, or its page's URL."""
    config = configure(source)
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
def alias_command(source: Source, new: str, old: str) -> None:
    """Give the article NEW (a rewritten headline) the id of OLD.

    Each is a short id, a urn:uuid: id, or an article page's URL."""
    config = configure(source)
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
def split_command(source: Source, article: str, page: str) -> None:
    """Split ARTICLE: cards with its headline on PAGE and newer pages become a new article.

    ARTICLE is its short id, its urn:uuid: id, or its page's URL."""
    config = configure(source)
    ids: dict[str, str] = {}

    def split(current: Ledger) -> Ledger:
        ids["id"] = article_named(current, config, article)
        return marks.split(current, ids["id"], page)

    result = run_mark(config, command_time(), split, reprocess=True)
    new_id = [s for s in result.ledger.splits if s.id == ids["id"]][-1].new_id
    click.echo(f"cards of {ids['id']} on {page} and later pages are now {new_id}")


@main.command("edit")
@seeds_options
@click.argument("article")
@click.option("--category", "category", help="File the article under this category, for good.")
@click.option("--published", "published", help="Its publication date: YYYY-MM-DD (midnight, site time zone) or RFC 3339.")
def edit_command(source: Source, article: str, category: str | None, published: str | None) -> None:
    """Correct one article's category or publication date.

    ARTICLE is its short id, its urn:uuid: id, or its page's URL. Readers
    see an update of the same entry. A category set here is never moved by
    a page or a rule again; --published is the one way a published date
    ever moves, and the article keeps its place in the archives."""
    if category is None and published is None:
        raise click.UsageError("give --category NAME, --published DATE, or both")
    if category is not None and not category.strip():
        raise click.BadParameter("a category needs a name", param_hint="--category")
    config = configure(source)
    moment = _publication_date(published, config.zone) if published is not None else None
    now = command_time()
    found: dict[str, object] = {}

    def correct(current: Ledger) -> Ledger:
        found["id"] = article_id = article_named(current, config, article)
        edited = current
        if category is not None:
            edited = marks.edit_category(edited, article_id, category, now)
        if moment is not None:
            edited = marks.edit_published(edited, article_id, moment, now)
        found["record"] = edited.records[article_id]
        found["same"] = edited is current
        return edited

    run_mark(config, now, correct)
    record = found["record"]
    what = f"{record.category}, published {ledger_file.stamp(record.published)}"
    click.echo(f"{found['id']} was already {what}" if found["same"] else f"edited {found['id']}: {what}")


def _publication_date(given: str, zone: dt.tzinfo) -> dt.datetime:
    """A date as YYYY-MM-DD (midnight in the site's time zone) or an RFC
    3339 moment with its offset."""
    try:
        if len(given) == 10:
            return midnight(dt.date.fromisoformat(given), zone)
        moment = dt.datetime.fromisoformat(given)
    except ValueError:
        moment = None
    if moment is None or moment.tzinfo is None:
        raise click.BadParameter(f"{given!r} is not YYYY-MM-DD or an RFC 3339 time with its offset, like 2024-03-01T09:30:00Z", param_hint="--published")
    return moment.astimezone(dt.timezone.utc)


@main.command("recategorize")
@seeds_options
@click.option("--apply", "apply", is_flag=True, help="Refile the articles; without it, only show what would move.")
@click.option("--force", is_flag=True, help="Refile more than max_new_articles articles at once.")
def recategorize_command(source: Source, apply: bool, force: bool) -> None:
    """Refile articles by today's category rules.

    Only articles whose category came from a keyword rule (or the default)
    move: a category the page names, or one set with `edit`, stays. A refile
    is a correction, not news: articles keep their `updated` time, and the
    feeds they leave and join advance their own timestamps."""
    config = configure(source)
    now = command_time()
    site = site_of(config)
    planned: dict[str, list] = {}

    def refile(current: Ledger) -> Ledger:
        planned["moves"] = moves = marks.refiles(current, site)
        planned["from"] = {article: current.records[article].category for article, _, _ in moves}
        planned["titles"] = {article: current.records[article].title for article, _, _ in moves}
        planned["refused"] = len(moves) > config.max_new_articles and not force
        if not apply or planned["refused"]:
            return current
        return marks.refile(current, moves, now)

    if apply:
        run_mark(config, now, refile)
    else:
        run_ingest(config, now, write=False, change=refile)
    moves = planned["moves"]
    for article, category, _ in moves:
        click.echo(f"{article}  {planned['from'][article]} -> {category}  {planned['titles'][article]}")
    if not moves:
        click.echo("every article is filed as today's rules say")
    elif not apply:
        click.echo(f"{len(moves)} article(s) would move; run `feedsvc recategorize --apply` to refile them")
    elif planned["refused"]:
        raise click.ClickException(
            f"refusing to refile {len(moves)} articles, more than max_new_articles = {config.max_new_articles}; "
            "check the rules, then rerun with --force"
        )
    else:
        click.echo(f"refiled {len(moves)} article(s)")
