"""The `feedsvc` command: a thin click group over the pipeline."""

from __future__ import annotations

import contextlib
import functools
import sys
import time
from pathlib import Path
from typing import Callable

import click
import filelock
import orjson

from feedsvc import __version__
from feedsvc import collector
from feedsvc.store import ledger as ledger_file
from feedsvc.core import marks
from feedsvc.clock import current_time
from feedsvc.config import Config, load_config
from feedsvc.errors import FeedsvcError, SeedsError
from feedsvc.store.ingest import Ingest, ingest
from feedsvc.core.models import Article
from feedsvc.preview import preview_command


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
    try:
        return load_config(seeds, ledger, **overrides)
    except FeedsvcError as error:
        raise click.ClickException(str(error)) from None


def report(config: Config, result: Ingest) -> None:
    """Every skipped page or dropped card, on stderr, with its file name."""
    for problem in result.problems:
        click.echo(f"feedsvc: warning: {config.seeds / str(problem)}", err=True)


def run_ingest(config: Config, write: bool = True, reprocess: bool = False) -> Ingest:
    try:
        result = ingest(config, current_time(), write=write and not config.read_only, reprocess=reprocess)
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


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="feedsvc")
@click.pass_context
def main(context: click.Context) -> None:
    """Publish scraped listing pages as Atom, RSS and JSON feeds."""
    if context.invoked_subcommand != "serve":
        # A one-shot command holds the whole ledger, and the cycle collector
        # would walk its 100,000 records again and again (a third of a warm
        # run); the pipeline makes no cyclic garbage worth collecting. The
        # server's long-lived workers keep the collector.
        context.with_resource(collector.paused())


@main.command("articles")
@seeds_options
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list instead of a table.")
@click.option("--all", "include_withdrawn", is_flag=True, help="Also list withdrawn articles and operator marks.")
def articles_command(seeds: Path, ledger: Path | None, as_json: bool, include_withdrawn: bool) -> None:
    """List the articles, newest first, updating the ledger."""
    config = configure(seeds, ledger)
    result = run_ingest(config)
    listed = [article_json(a) for a in result.articles(config.site_key)]
    if include_withdrawn:
        listed += _marks(result, config)
    # One write of UTF-8 bytes for the whole listing: 100,000 separate
    # echoes, the standard library's pure-Python indenting encoder, or
    # click's scan of a long text for colour codes each take seconds.
    if as_json:
        click.echo(orjson.dumps(listed, option=orjson.OPT_INDENT_2))
        return
    click.echo("\n".join(_table_row(row) for row in listed).encode("utf-8"), nl=bool(listed))


def _table_row(row: dict) -> str:
    mark = f"  [{row['mark']}]" if "mark" in row else ""
    return f"{row['id']}  {row['published'][:10]}  {row['category'][:20]:<20}  {row['title']}{mark}"


def _marks(result: Ingest, config: Config) -> list[dict]:
    """Withdrawn articles, aliases and splits, as rows beside the articles."""
    rows = []
    for record in sorted(result.ledger.records.values(), key=lambda r: r.seq):
        if record.withdrawn:
            rows.append(
                {
                    "id": record.id,
                    "title": record.title,
                    "category": record.category,
                    "published": ledger_file.stamp(record.published),
                    "mark": f"withdrawn {ledger_file.stamp(record.withdrawn)}" + (f": {record.note}" if record.note else ""),
                }
            )
    for key, target in sorted(result.ledger.aliases.items()):
        rows.append({"id": target, "title": key, "category": "", "published": "", "mark": f"alias: headline {key!r} -> {target}"})
    for split in result.ledger.splits:
        rows.append({"id": split.new_id, "title": "", "category": "", "published": ledger_file.stamp(split.since), "mark": f"split from {split.id}"})
    return rows


def _change_ledger(config: Config, change: Callable) -> None:
    if config.read_only:
        raise click.ClickException("the ledger is read-only here (FEEDSVC_READ_ONLY); run this where the ledger is written")
    try:
        ledger_file.update(config.ledger_path, lambda current: (change(current), None))
    except FeedsvcError as error:
        raise click.ClickException(str(error)) from None


@main.command("takedown")
@seeds_options
@click.argument("article_id")
@click.option("--note", help="Why the article was withdrawn, kept in the ledger.")
def takedown_command(seeds: Path, ledger: Path | None, article_id: str, note: str | None) -> None:
    """Withdraw ARTICLE_ID from every feed, archive and page, for good."""
    config = configure(seeds, ledger)
    run_ingest(config)
    _change_ledger(config, lambda current: marks.takedown(current, article_id, current_time(), note))
    click.echo(f"withdrew {article_id}")


@main.command("alias")
@seeds_options
@click.argument("new_id")
@click.argument("old_id")
def alias_command(seeds: Path, ledger: Path | None, new_id: str, old_id: str) -> None:
    """Give the article NEW_ID (a rewritten headline) the id OLD_ID."""
    config = configure(seeds, ledger)
    run_ingest(config)
    _change_ledger(config, lambda current: marks.alias(current, new_id, old_id, current_time()))
    click.echo(f"{new_id} is now published as {old_id}")


@main.command("split")
@seeds_options
@click.argument("article_id")
@click.option("--page", required=True, help="The page file from which on the headline is a different article.")
def split_command(seeds: Path, ledger: Path | None, article_id: str, page: str) -> None:
    """Split ARTICLE_ID: cards with its headline on PAGE and newer pages become a new article."""
    config = configure(seeds, ledger)
    run_ingest(config)
    _change_ledger(config, lambda current: marks.split(current, article_id, page))
    result = run_ingest(config, reprocess=True)
    split = [s for s in result.ledger.splits if s.id == article_id][-1]
    click.echo(f"cards of {article_id} on {page} and later pages are now {split.new_id}")


@main.command("build")
@seeds_options
@click.option("--out", type=click.Path(path_type=Path, file_okay=False), help="Folder to write the tree into (created when missing).")
@click.option("--base-url", help="Absolute URL the tree is served from [default: base_url in feedsvc.toml].")
@click.option("--check", "check_only", is_flag=True, help="Write nothing; list the files that would change and exit 1 when the tree is not up to date.")
@click.option("--diff", "show_diff", is_flag=True, help="Write nothing; list the articles a build would add, change or withdraw.")
@click.option("--force", is_flag=True, help="Publish even when the publish guard refuses the run.")
def build_command(
    seeds: Path, ledger: Path | None, out: Path | None, base_url: str | None, check_only: bool, show_diff: bool, force: bool
) -> None:
    """Write every feed, archive and page of the site as files under --out.

    Only files whose bytes change are written, each atomically; files an
    earlier build wrote that the site no longer publishes are removed. The
    build refuses to publish a run that adds more than max_new_articles new
    articles to a ledger that already has some, or whose new pages hold no
    article card (--force overrides). Ends with one summary line on stderr.
    """
    if out is None and not show_diff:
        raise click.UsageError("pass --out DIR, the folder to write the tree into")
    config = configure(seeds, ledger, base_url=base_url)
    from feedsvc.publish import export
    from feedsvc.publish.progress import DelayedProgress

    started = time.perf_counter()
    try:
        if show_diff:
            _print_diff(config, export)
            if not check_only:
                return
        with contextlib.ExitStack() as stack:
            if not check_only:
                stack.enter_context(export.output_lock(out))
            meter = stack.enter_context(DelayedProgress(sys.stderr.isatty()))
            result = export.build(config, out, current_time(), apply=not check_only, force=force, meter=meter)
    except SeedsError as error:
        raise click.UsageError(str(error)) from None
    except FeedsvcError as error:
        raise click.ClickException(str(error)) from None
    except filelock.Timeout:
        raise click.ClickException(f"another build has held {out} for 10 minutes; is one stuck?") from None
    except OSError as error:
        # A full disk or an unwritable folder. Files are only ever replaced
        # whole, so what is already published stays whole and linked up.
        raise click.ClickException(
            f"{out}: {error.strerror or error}" + (f" ({error.filename})" if error.filename else "") + "; every published file is still whole "
            "(each is replaced in one step); make room or make the folder writable, then build again"
        ) from None
    for problem in result.problems:
        click.echo(f"feedsvc: warning: {config.seeds / problem}", err=True)
    outcome = result.outcome
    if check_only:
        for kind, files in (("added", outcome.added), ("changed", outcome.changed), ("removed", outcome.removed)):
            for file in files:
                click.echo(f"{kind}: {out / file}")
        if result.refusal:
            click.echo(f"feedsvc: note: a build would refuse to publish: {result.refusal}", err=True)
    verb = "to write" if check_only else "written"
    click.echo(
        f"feedsvc build: {result.pages_read} pages read, {result.pages_skipped} skipped; "
        f"{result.articles} articles, {result.new} new, {result.changed} changed; "
        f"{outcome.written} files {verb}, {outcome.unchanged} unchanged, {len(outcome.removed)} "
        f"{'to remove' if check_only else 'removed'}; {time.perf_counter() - started:.2f} s",
        err=True,
    )
    for warning in outcome.warnings:
        click.echo(f"feedsvc: warning: {warning}", err=True)
    if check_only and not outcome.up_to_date:
        sys.exit(1)


def _print_diff(config: Config, export) -> None:
    """The articles a build would add (+), change (~) or withdraw (-)."""
    result = run_ingest(config, write=False)
    changes = export.article_changes(config, result)
    for mark, article in changes:
        click.echo(f"{mark} {article.id}  {ledger_file.stamp(article.published)[:10]}  {article.category[:20]:<20}  {article.title}")
    counts = {mark: sum(1 for m, _ in changes if m == mark) for mark in "+~-"}
    click.echo(f"feedsvc build --diff: {counts['+']} to add, {counts['~']} to change, {counts['-']} to withdraw", err=True)
    reason = export.refusal(result, config.max_new_articles)
    if reason:
        click.echo(f"feedsvc: note: a build would refuse to publish: {reason}", err=True)


@main.command("check")
@click.argument("folder", type=click.Path(path_type=Path, exists=True, file_okay=False))
@click.option("--base-url", help="URL the tree is served from [default: read from the feeds' self links].")
def check_command(folder: Path, base_url: str | None) -> None:
    """Validate the feeds of an exported tree as a strict validator would.

    Atom against RFC 4287 (its RELAX NG grammar and the rules the grammar
    leaves out), RSS 2.0, JSON Feed 1.1, ids unique in each feed and the
    same in every format of it, and every entry link resolving to a file
    of the tree. Prints each problem as FILE: message; exits 1 if any.
    """
    from feedsvc.publish.check import check_tree

    report = check_tree(folder, base_url)
    for problem in report.problems:
        click.echo(f"{folder / problem.source}: " + (f"line {problem.line}: " if problem.line else "") + problem.message)
    click.echo(f"feedsvc check: {report.documents} documents checked, {len(report.problems)} problems", err=True)
    if report.problems:
        sys.exit(1)


@main.command("serve")
@seeds_options
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65535), help="Port to listen on.")
@click.option("--workers", type=click.IntRange(min=1), help="Worker processes [default: the workers setting, 2].")
@click.option("--threads", type=click.IntRange(min=1), default=4, show_default=True, help="Threads per worker.")
@click.option("--base-url", help="Public URL of the site, used in every link [default: base_url in feedsvc.toml].")
def serve_command(
    seeds: Path, ledger: Path | None, host: str, port: int, workers: int | None, threads: int, base_url: str | None
) -> None:
    """Serve the site under gunicorn, picking up new pages as they land.

    Every worker watches the seeds folder and rebuilds its copy of the site
    when a page has been added, changed or removed and has stopped changing
    for a second. With FEEDSVC_READ_ONLY=1 the ledger is only read.
    """
    config = configure(seeds, ledger, base_url=base_url)
    from feedsvc.serve.app import create_app
    from feedsvc.serve.server import serve

    try:
        # Built here, before gunicorn starts, so a bad ledger or setting is
        # reported on one line; the workers fork with the site ready.
        app = create_app(functools.partial(load_config, seeds, ledger, base_url=base_url))
    except SeedsError as error:
        raise click.UsageError(str(error)) from None
    except FeedsvcError as error:
        raise click.ClickException(str(error)) from None
    click.echo(f"feedsvc: serving {config.seeds} at http://{host}:{port}/ (links use {config.site_url})", err=True)
    serve(app, host, port, workers or config.workers, threads)


@main.command("ping")
@seeds_options
@click.option("--hub", help="WebSub hub URL [default: the websub_hub setting, FEEDSVC_WEBSUB_HUB].")
def ping_command(seeds: Path, ledger: Path | None, hub: str | None) -> None:
    """Tell the WebSub hub about every feed that changed since the last ping.

    Sends one hub.mode=publish notification per changed feed and records
    what the hub accepted in websub.json beside the ledger. Exits 1 when
    the hub refused or could not be reached for any feed.
    """
    config = configure(seeds, ledger)
    hub = hub or config.websub_hub
    if not hub:
        raise click.UsageError("no hub to notify: pass --hub URL or set websub_hub (FEEDSVC_WEBSUB_HUB)")
    from feedsvc.publish import websub
    from feedsvc.site.model import Site

    problem = websub.check_hub(hub)
    if problem:
        raise click.UsageError(problem)
    site = Site.from_ingest(config, run_ingest(config))
    try:
        outcome = websub.ping(config, site, hub)
    except OSError as error:
        raise click.ClickException(f"{websub.state_path(config)}: cannot record the pings: {error.strerror or error}") from None
    for url in outcome.announced:
        click.echo(f"pinged {url}")
    for url, reason in outcome.failed:
        click.echo(f"feedsvc: error: {url}: {reason}", err=True)
    click.echo(f"feedsvc ping: {len(outcome.announced)} announced, {outcome.unchanged} unchanged, {len(outcome.failed)} failed", err=True)
    if outcome.failed:
        sys.exit(1)


main.add_command(preview_command)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

