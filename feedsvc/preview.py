"""What one page would yield, shown without touching the ledger: each
card's title, date, category, link and the first words of its summary."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import click

from feedsvc.clock import current_time
from feedsvc.config import Config, load_config
from feedsvc.errors import FeedsvcError
from feedsvc.core.models import Problem, RawItem
from feedsvc.core.parse import Limits
from feedsvc.store.reading import read_cards
from feedsvc.store.seeds import PageFile, read_page

SUMMARY_WORDS = 20


def preview(config: Config, path: Path, now: dt.datetime) -> tuple[list[RawItem], list[Problem]]:
    """The cards of the page at `path`, read with `config`'s settings as if
    it were first seen `now`."""
    try:
        stat = path.stat()
    except OSError as error:
        return [], [Problem(path.name, f"cannot read it: {error.strerror}")]
    page, problem = read_page(PageFile(path, stat.st_size, stat.st_mtime_ns), config.max_page_bytes)
    if page is None:
        return [], [problem] if problem else []
    items, problems = read_cards(page, config, now, Limits(config.max_title_chars, config.max_cards_per_page))
    if not items and not any(p.message.startswith("skipped") for p in problems):
        problems.append(Problem(page.name, "no article card found on the page"))
    return items, problems


def describe(item: RawItem, zone: dt.tzinfo) -> list[str]:
    """The lines `feedsvc preview` prints for one card."""
    if item.moment:
        date = item.moment.astimezone(zone).isoformat()
    else:
        date = item.date.isoformat() if item.date else "(none: published when first seen)"
    words = item.summary.split()
    summary = " ".join(words[:SUMMARY_WORDS]) + (" ..." if len(words) > SUMMARY_WORDS else "")
    return [
        f"{item.position + 1}. {item.title}",
        f"   date:     {date}",
        f"   category: {item.category or '(none: from the keyword rules)'}",
        f"   link:     {item.link or '(none)'}",
        f"   summary:  {summary or '(empty)'}",
    ]


@click.command("preview")
@click.argument("file", type=click.Path(path_type=Path, dir_okay=False))
@click.option(
    "--seeds",
    type=click.Path(path_type=Path, file_okay=False),
    envvar="FEEDSVC_SEEDS",
    default=None,
    help="Folder whose feedsvc.toml applies [default: the file's own folder].",
)
def preview_command(file: Path, seeds: Path | None) -> None:
    """Show the articles FILE (.txt or .html) would yield, with warnings,
    without touching the ledger."""
    try:
        config = load_config(seeds or file.parent)
        now = current_time()
    except FeedsvcError as error:
        raise click.ClickException(str(error)) from None
    items, problems = preview(config, file, now)
    for problem in problems:
        click.echo(f"feedsvc: warning: {file.parent / str(problem)}", err=True)
    for item in items:
        click.echo("\n".join(describe(item, config.zone)))
    click.echo(f"{len(items)} article(s), {len(problems)} warning(s)")
