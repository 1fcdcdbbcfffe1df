"""The `feedsvc` command: a thin click group over the pipeline. Each
command lives in the module of its kind, registered on `main` here."""

from __future__ import annotations

import click

from feedsvc import __version__, collector


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="feedsvc")
@click.pass_context
def main(context: click.Context) -> None:
    """Publish scraped listing pages as Atom, RSS and JSON feeds."""
    if context.invoked_subcommand != "serve":
        # A one-shot command holds the whole ledger, and the cycle collector
        # would walk every record again and again; the pipeline makes no
        # cyclic garbage worth collecting. The
        # server's long-lived workers keep the collector.
        context.with_resource(collector.paused())


# Imported for their commands, which register themselves on `main`.
from feedsvc.cli import ledger, listing, operator, publishing, serving, setup  # noqa: E402,F401
