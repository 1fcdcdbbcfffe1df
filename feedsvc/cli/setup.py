"""`feedsvc init`: a seeds folder ready for a site of one's own."""

from __future__ import annotations

import os
import re
import secrets
from pathlib import Path

import click

from feedsvc.cli import main
from feedsvc.config import CACHE_FOLDER, CONFIG_NAME, LEDGER_NAME, Config
from feedsvc.errors import FeedsvcError
from feedsvc.store import ledger as ledger_file

# The key every site ran on before it had a feedsvc.toml of its own.
DEFAULT_SITE_KEY = Config.site_key

SETTINGS = """\
# Settings for this site; docs/settings.md lists every one. Environment
# variables FEEDSVC_<SETTING> override any of them.

[site]
# Set once and never changed: every article's and feed's id is derived from
# it. Changing it later makes readers show every article again.
site_key = "{site_key}"
site_title = "{title}"
site_subtitle = "Articles from {title}"
# The public URL the site is served from, used in every link. Unset,
# `feedsvc serve` uses the address it listens on, and `feedsvc build`
# uses http://127.0.0.1:8000/.
# base_url = "https://example.org/news/"
# The site's time zone, for the dates its pages show.
timezone = "UTC"

# Cards whose page names no category are filed by the first rule with a
# keyword in their title or summary (whole words, any case), else under
# default_category.
default_category = "General"

# [[categories]]
# category = "Customs"
# keywords = ["customs", "tariff", "border"]

# A topic feed: the articles that mention one of these words or phrases
# (whole words, any case), at /feeds/topic/wco.atom; docs/sites.md.
# [[topics]]
# name = "World Customs Organization"
# slug = "wco"
# include = ["WCO", "World Customs Organization"]
"""

GITIGNORE = """\
# feedsvc: local state, never history. Commit the pages, feedsvc.toml,
# every ledger* file (the history of every article's id and dates, and its
# seal) and, with topic feeds, topics.json. The cache is a disposable copy
# of the history.
*.lock
websub.json
.feedsvc-build/
.feedsvc-cache/
"""


@main.command("init")
@click.argument("folder", type=click.Path(path_type=Path, file_okay=False), default="seeds", required=False)
def init_command(folder: Path) -> None:
    """Set up FOLDER (default: seeds) as the seeds folder of a new site.

    Writes a commented feedsvc.toml with a new site_key, and a .gitignore
    for the files that must not be committed. An existing file is never
    overwritten. In a folder that already has a ledger, the site_key
    written is the one that minted its ids."""
    folder.mkdir(parents=True, exist_ok=True)
    history = folder / LEDGER_NAME
    has_history = history.is_file()
    key = os.environ.get("FEEDSVC_SITE_KEY") or (_minted_by(history) if has_history else _new_site_key(folder))
    named = folder.resolve()
    title = (named.parent if named.name == "seeds" else named).name.replace('"', "").replace("\\", "") or "My site"
    written = [
        _write_new(folder / CONFIG_NAME, SETTINGS.format(site_key=key, title=title)),
        _write_new(folder / ".gitignore", GITIGNORE),
    ]
    if has_history and written[0]:
        click.echo(f"feedsvc: {LEDGER_NAME} already holds articles: site_key is set to {key!r}, the key that minted their ids", err=True)
    click.echo(
        "Next:\n"
        f"  1. put your listing pages (*.txt; *.html with an [html] table) into {folder}/\n"
        f"  2. feedsvc serve --seeds {folder}          # look at the site on http://127.0.0.1:8000/\n"
        f"  3. feedsvc build --seeds {folder} --out site --base-url https://example.org/news/"
    )


def _minted_by(history: Path) -> str:
    """The site_key that minted a ledger's ids: the one it records, else the
    default every site ran on before it had settings."""
    try:
        recorded = ledger_file.read(history, history.parent / CACHE_FOLDER).ledger.site_key
    except FeedsvcError as error:
        raise click.ClickException(str(error)) from None
    return recorded or DEFAULT_SITE_KEY


def _new_site_key(folder: Path) -> str:
    named = folder.resolve()
    name = re.sub(r"[^a-z0-9]+", "-", (named.parent if named.name == "seeds" else named).name.lower()).strip("-") or "site"
    return f"{name}-{secrets.token_hex(6)}"


def _write_new(path: Path, text: str) -> bool:
    """Write `path` unless it exists; say which."""
    try:
        with path.open("x", encoding="utf-8") as handle:
            handle.write(text)
    except FileExistsError:
        click.echo(f"feedsvc: {path} already exists; left as it is", err=True)
        return False
    click.echo(f"wrote {path}")
    return True
