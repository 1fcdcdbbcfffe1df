"""What every command shares: the seeds options, loading the settings, the
command's one `now`, and its one ledger transaction."""

from __future__ import annotations

import datetime as dt
import functools
from pathlib import Path
from typing import Callable

import click

from feedsvc.store import ledger as ledger_file
from feedsvc.clock import current_time
from feedsvc.config import CONFIG_NAME, Config, load_config
from feedsvc.errors import FeedsvcError, SeedsError
from feedsvc.store.ingest import Change, Ingest, ingest
from feedsvc.core.models import Article


def seeds_options(command: Callable) -> Callable:
    """--seeds and --ledger, shared by every command that reads the seeds."""

    @click.option(
        "--seeds",
        type=click.Path(path_type=Path, file_okay=False),
        envvar="FEEDSVC_SEEDS",
        default="seeds",
        show_default=True,
        help="Folder holding the page files and feedsvc.toml.",
    )
    @click.option(
        "--ledger",
        type=click.Path(path_type=Path, dir_okay=False),
        envvar="FEEDSVC_LEDGER",
        default=None,
        help="The ledger file [default: SEEDS/ledger.jsonl].",
    )
    @functools.wraps(command)
    def wrapper(*args: object, **kwargs: object) -> object:
        return command(*args, **kwargs)

    return wrapper


class SeedsMissing(click.ClickException):
    """A usage error told in one line: exit 2, without click's usage banner,
    so that a cron mail or CI log shows only what to fix."""

    exit_code = 2


def configure(seeds: Path, ledger: Path | None, **overrides: object) -> Config:
    """Load the settings, turning a missing seeds folder into a usage error."""
    if not seeds.is_dir():
        raise SeedsMissing(f"seeds folder {seeds} does not exist; pass --seeds DIR or set FEEDSVC_SEEDS")
    if not (seeds / CONFIG_NAME).is_file():
        click.echo(f"feedsvc: hint: {seeds} has no {CONFIG_NAME}, so the site runs on defaults; `feedsvc init {seeds}` writes one", err=True)
    try:
        return load_config(seeds, ledger, **overrides)
    except FeedsvcError as error:
        raise click.ClickException(str(error)) from None


def command_time() -> dt.datetime:
    """The command's one "now", read once and passed down."""
    try:
        return current_time()
    except FeedsvcError as error:
        raise click.ClickException(str(error)) from None


def report(config: Config, result: Ingest) -> None:
    """Every skipped page or dropped card, on stderr, with its file name."""
    for problem in result.problems:
        click.echo(f"feedsvc: warning: {config.seeds / str(problem)}", err=True)
    for note in result.notes:
        click.echo(f"feedsvc: note: {note}", err=True)


def run_ingest(config: Config, now: dt.datetime, write: bool = True, change: Change | None = None, reprocess: bool = False) -> Ingest:
    """The command's one ledger transaction, with its errors told on one line."""
    try:
        result = ingest(config, now, write=write and not config.read_only, change=change, reprocess=reprocess)
    except SeedsError as error:
        raise SeedsMissing(str(error)) from None
    except FeedsvcError as error:
        raise click.ClickException(str(error)) from None
    report(config, result)
    return result


def article_json(article: Article) -> dict:
    return {
        "id": article.id,
        "iri": article.iri,
        "title": article.title,
        "summary": article.summary,
        "category": article.category,
        "category_slug": article.category_slug,
        "published": ledger_file.stamp(article.published),
        "updated": ledger_file.stamp(article.updated),
        "first_seen": ledger_file.stamp(article.first_seen),
        "date_source": article.date_source,
        "page_date": article.page_date.isoformat() if article.page_date else None,
        "pages": list(article.pages),
        "link": article.link,
    }


def run_mark(config: Config, now: dt.datetime, change: Change, reprocess: bool = False) -> Ingest:
    """Merge the pages and apply an operator's mark, in one transaction."""
    if config.read_only:
        raise click.ClickException("the ledger is read-only here (FEEDSVC_READ_ONLY); run this where the ledger is written")
    return run_ingest(config, now, change=change, reprocess=reprocess)
