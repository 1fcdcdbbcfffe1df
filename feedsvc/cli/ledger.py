"""`feedsvc ledger verify|reseal|compact|export`: looking after the history."""

from __future__ import annotations


import click

from feedsvc.cli import main
from feedsvc.cli.common import Source, configure, seeds_options
from feedsvc.errors import FeedsvcError
from feedsvc.store import ledger as ledger_file


@main.group("ledger")
def ledger_group() -> None:
    """Check, accept, shorten or print the history (docs/store.md)."""


@ledger_group.command("verify")
@seeds_options
def verify_command(source: Source) -> None:
    """Check every line of the history against its seal.

    Exits 1, saying what is wrong, when a line was cut, removed, reordered
    or changed since it was written."""
    config = configure(source)
    click.echo(_done(lambda: ledger_file.verify(config.ledger_path)))


@ledger_group.command("reseal")
@seeds_options
def reseal_command(source: Source) -> None:
    """Accept the history as its files now hold it, after a deliberate edit.

    Every line must still make sense; the seal is then written anew, and
    the cache rebuilds itself from the edited history."""
    config = configure(source)
    click.echo(_done(lambda: ledger_file.reseal(config.ledger_path)))


@ledger_group.command("compact")
@seeds_options
def compact_command(source: Source) -> None:
    """Rewrite the history as one line per thing it remembers."""
    config = configure(source)
    click.echo(_done(lambda: ledger_file.compact(config.ledger_path, config.cache_folder)))


@ledger_group.command("export")
@seeds_options
def export_command(source: Source) -> None:
    """Print the current state as sorted JSON lines, in the version-1 format.

    A version-1 ledger converted by this version exports byte for byte as
    it was: the proof that nothing was lost."""
    config = configure(source)
    click.echo(_done(lambda: ledger_file.export(config.ledger_path, config.cache_folder)), nl=False)


def _done(action):
    try:
        return action()
    except FeedsvcError as error:
        raise click.ClickException(str(error)) from None
