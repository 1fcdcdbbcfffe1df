"""`feedsvc articles` and `preview`: the articles, as they are and as the
next run would leave them."""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path
from typing import Iterable, Iterator

import click
import orjson

from feedsvc.core.text import article_iri, site_namespace
from feedsvc.store import ledger as ledger_file
from feedsvc.store.catalog import newest_lines
from feedsvc.store.lines import record_line
from feedsvc.config import Config
from feedsvc.store.ingest import Ingest
from feedsvc.cli import main
from feedsvc.store.preview import describe
from feedsvc.store.preview import preview as page_preview
from feedsvc.cli.common import Source, article_json, command_time, configure, each_site, run_ingest, seeds_options


@main.command("articles")
@seeds_options
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list instead of a table.")
@click.option("--all", "include_withdrawn", is_flag=True, help="Also list withdrawn articles and operator marks.")
def articles_command(source: Source, as_json: bool, include_withdrawn: bool) -> None:
    """List the articles, newest first.

    Listing is a run like any other: it records in the ledger what is new
    in the seeds folder, which settles new articles' ids, dates and
    categories. To look without recording anything, use `feedsvc preview`.

    With --sites and no --site, every site's articles, each row (or JSON
    object) naming its site; a site that cannot be read is reported on
    stderr, the others are listed, and the command exits 1 naming it."""
    if source.sites is not None and source.site is None:
        _every_site(source, as_json, include_withdrawn)
        return
    _print(_listed(configure(source), command_time(), include_withdrawn), as_json)


def _listed(config: Config, now: dt.datetime, include_withdrawn: bool) -> Iterator[dict]:
    """The site's rows, one at a time; its run is over before the first,
    so a site that cannot be read fails here, before any of them."""
    result = run_ingest(config, now)
    return _rows(result, config, include_withdrawn)


def _rows(result: Ingest, config: Config, include_withdrawn: bool) -> Iterator[dict]:
    namespace = site_namespace(config.site_key)
    categories = result.ledger.categories
    yield from (article_json(line, iri or article_iri(namespace, line["id"]), categories) for line, iri in _newest_lines(result, config))
    if include_withdrawn:
        yield from _marks(result, config)


def _newest_lines(result: Ingest, config: Config) -> Iterable[tuple[dict, str | None]]:
    """The published articles' record lines, newest first, each with its
    IRI when the store has it: read from the store's cache when the run
    left it holding what the run found (it wrote its changes, or had none),
    else made from the run's records."""
    in_store = result.written or not (result.new or result.changed)
    lines = newest_lines(config) if in_store else None
    if lines is not None:
        return lines
    return ((record_line(record), None) for record in result.ledger.records.newest_first() if record.withdrawn is None)


def _every_site(source: Source, as_json: bool, include_withdrawn: bool) -> None:
    _, sites = each_site(source)
    now = command_time()
    broken = []

    def listed() -> Iterator[dict]:
        for name, config, error in sites:
            if config is not None:
                try:
                    rows = _listed(config, now, include_withdrawn)
                except click.ClickException as failure:
                    error = failure.format_message()
                else:
                    yield from ({"site": name, **row} for row in rows)
                    continue
            click.echo(f"feedsvc: error: site {name}: {error}", err=True)
            broken.append(name)

    _print(listed(), as_json)
    if broken:
        raise click.ClickException(f"{len(broken)} of {len(sites)} sites could not be read: {', '.join(broken)}")


def _print(rows: Iterable[dict], as_json: bool) -> None:
    # Row by row, as UTF-8 bytes into one buffered stream: a listing of a
    # million articles never stands whole in memory, as rows or as text
    # (and click.echo would flush, and scan for colour codes, every time).
    sys.stdout.flush()
    out = sys.stdout.buffer
    for chunk in _json_list(rows) if as_json else (_table_row(row).encode("utf-8") + b"\n" for row in rows):
        out.write(chunk)
    out.flush()


def _json_list(rows: Iterable[dict]) -> Iterator[bytes]:
    """The bytes of orjson.dumps(list(rows), option=OPT_INDENT_2) and a
    newline, one row at a time: each row, dumped as a list of one, comes
    indented as an item of the list, and only its brackets are cut."""
    after = b"[]\n"
    before = b"[\n"
    for row in rows:
        yield before + orjson.dumps([row], option=orjson.OPT_INDENT_2)[2:-2]
        before, after = b",\n", b"\n]\n"
    yield after


def _table_row(row: dict) -> str:
    mark = f"  [{row['mark']}]" if "mark" in row else ""
    site = f"{row['site']}  " if "site" in row else ""
    return f"{site}{row['id']}  {row['published'][:10]}  {row['category'][:20]:<20}  {row['title']}{mark}"


def _marks(result: Ingest, config: Config) -> Iterator[dict]:
    """Withdrawn and edited articles, aliases and splits, as rows beside the articles."""
    for record in result.ledger.records.in_seq_order():
        if record.withdrawn:
            yield {
                "id": record.id,
                "title": record.title,
                "category": record.category,
                "published": ledger_file.stamp(record.published),
                "mark": f"withdrawn {ledger_file.stamp(record.withdrawn)}" + (f": {record.note}" if record.note else ""),
            }
        edits = [f"{what} set by the operator" for what, source in (("category", record.category_source), ("published", record.date_source)) if source == "operator"]
        if edits and not record.withdrawn:
            yield {
                "id": record.id,
                "title": record.title,
                "category": record.category,
                "published": ledger_file.stamp(record.published),
                "mark": "edited: " + ", ".join(edits),
            }
    for key, target in sorted(result.ledger.aliases.items()):
        yield {"id": target, "title": key, "category": "", "published": "", "mark": f"alias: headline {key!r} -> {target}"}
    for split in result.ledger.splits:
        yield {"id": split.new_id, "title": "", "category": "", "published": ledger_file.stamp(split.since), "mark": f"split from {split.id}"}


@main.command("preview")
@click.argument("file", type=click.Path(path_type=Path, dir_okay=False), required=False)
@seeds_options
def preview_command(file: Path | None, source: Source) -> None:
    """Show what the seeds folder, or one page FILE, would yield, recording nothing.

    Without FILE: each article the next run would add (+), change (~) or
    withdraw (-), with the date and category it would settle, and every
    warning about the pages. The ledger is not written, so nothing is
    settled yet: fix a category rule and preview again.

    With FILE (a .txt or .html page, anywhere): each card's title, date,
    category, link and first words, and the page's warnings, read with the
    settings of --seeds/FEEDSVC_SEEDS (or --sites with --site), else of the
    file's own folder. Use
    it to try [html] selectors before a page goes live."""
    if file is None:
        config = configure(source)
        print_changes(config, command_time(), "feedsvc preview")
        return
    given = source.seeds_given or source.sites is not None
    config = configure(source if given else Source(file.parent))
    items, problems = page_preview(config, file, command_time())
    for problem in problems:
        click.echo(f"feedsvc: warning: {file.parent / str(problem)}", err=True)
    for item in items:
        click.echo("\n".join(describe(item, config.zone)))
    click.echo(f"feedsvc preview: {len(items)} article(s), {len(problems)} warning(s)", err=True)


def print_changes(config: Config, now: dt.datetime, command: str, out: Path | None = None) -> None:
    """The articles a run would add (+), change (~) or withdraw (-): since
    the last build into `out` when there is one. And whether the publish
    guard would refuse the run."""
    from feedsvc.publish.diff import article_changes
    from feedsvc.publish.guard import refusal
    from feedsvc.publish.manifest import state_folder

    result = run_ingest(config, now, write=False)
    changes = article_changes(config, result, state_folder(config, out) if out is not None else None)
    for mark, article in changes:
        click.echo(f"{mark} {article.id}  {article.published[:10]}  {article.category[:20]:<20}  {article.title}")
    counts = {mark: sum(1 for m, _ in changes if m == mark) for mark in "+~-"}
    click.echo(f"{command}: {counts['+']} to add, {counts['~']} to change, {counts['-']} to withdraw", err=True)
    reason = refusal(result, config.max_new_articles)
    if reason:
        click.echo(f"feedsvc: note: a build would refuse to publish: {reason}", err=True)
