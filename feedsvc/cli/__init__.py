"""The `feedsvc` command: a thin click group over the pipeline. Each
command lives in the module of its kind, registered on `main` here."""

from __future__ import annotations

import click

from feedsvc import __version__


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="feedsvc")
def main() -> None:
    """Publish scraped listing pages as Atom, RSS and JSON feeds."""


# Imported for their commands, which register themselves on `main`.
from feedsvc.cli import ledger, listing, operator, publishing, serving, setup  # noqa: E402,F401
