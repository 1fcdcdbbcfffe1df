"""`feedsvc build`, `check` and `ping`: the static tree and its readers."""

from __future__ import annotations

import contextlib
import datetime as dt
import sys
import time
from pathlib import Path

import click
import filelock

from feedsvc.config import Config
from feedsvc.errors import FeedsvcError, SeedsError
from feedsvc.cli import main
from feedsvc.cli.listing import print_changes
from feedsvc.cli.common import Source, command_time, configure, each_site, run_ingest, seeds_options


@main.command("build")
@seeds_options
@click.option("--out", type=click.Path(path_type=Path, file_okay=False), help="Folder to write the tree into (created when missing).")
@click.option("--base-url", help="Absolute URL the tree is served from [default: base_url in feedsvc.toml].")
@click.option("--check", "check_only", is_flag=True, help="Write nothing; list the files that would change and exit 1 when the tree is not up to date.")
@click.option("--diff", "show_diff", is_flag=True, help="Write nothing; list the articles a build would add, change or withdraw.")
@click.option("--force", is_flag=True, help="Publish even when the publish guard refuses the run.")
@click.option("--allow-empty", is_flag=True, help="Publish even when the site has no article at all.")
@click.option(
    "--processes",
    type=click.IntRange(min=1),
    envvar="FEEDSVC_BUILD_PROCESSES",
    help="Processes that render the article pages [default: one per CPU, on sites with thousands of pages to write].",
)
def build_command(
    source: Source,
    out: Path | None,
    base_url: str | None,
    check_only: bool,
    show_diff: bool,
    force: bool,
    allow_empty: bool,
    processes: int | None,
) -> None:
    """Write every feed, archive and page of the site as files under --out.

    Only files whose bytes change are written, each atomically; files an
    earlier build wrote that the site no longer publishes are removed. The
    build refuses to publish a run that adds more than max_new_articles new
    articles to a ledger that already has some, or whose new pages hold no
    article card (--force overrides), and a site with no article at all
    (--allow-empty overrides). Ends with one summary line on stderr.

    With --sites DIR, every site into its own subfolder of --out (the
    root_site into --out itself), then the list of sites (index.html) and
    feeds.opml of every feed; a site that cannot be built keeps its last
    build's files, and the command exits 1 naming it. With --site NAME
    too, only that site's subfolder.
    """
    if out is None and not show_diff:
        raise click.UsageError("pass --out DIR, the folder to write the tree into")
    if source.sites is not None:
        _build_sites(source, out, base_url, check_only, show_diff, force, allow_empty, processes)
        return
    config = configure(source, base_url=base_url)
    result = _build_one(config, out, command_time(), check_only, show_diff, force, allow_empty, processes)
    if check_only and result is not None and not result.outcome.up_to_date:
        sys.exit(1)


def _build_one(
    config: Config,
    out: Path | None,
    now: dt.datetime,
    check_only: bool,
    show_diff: bool,
    force: bool,
    allow_empty: bool,
    processes: int | None = None,
    label: str = "",
):
    """One site's build (or --check, or --diff) and its summary on stderr;
    the `export.Build`, or None after --diff alone."""
    from feedsvc.publish import export
    from feedsvc.publish.progress import DelayedProgress

    started = time.perf_counter()
    try:
        if show_diff:
            print_changes(config, now, f"feedsvc build --diff: {label}".rstrip(": "), out)
            if not check_only:
                return None
        assert out is not None
        with contextlib.ExitStack() as stack:
            if not check_only:
                stack.enter_context(export.output_lock(config, out))
            meter = stack.enter_context(DelayedProgress(sys.stderr.isatty()))
            result = export.build(
                config, out, now, apply=not check_only, force=force, meter=meter, allow_empty=allow_empty, processes=processes
            )
    except SeedsError as error:
        raise click.UsageError(str(error)) from None
    except FeedsvcError as error:
        raise click.ClickException(str(error)) from None
    except filelock.Timeout:
        raise click.ClickException(f"another build has held {out} for 10 minutes; is one stuck?") from None
    except OSError as error:
        raise _disk_error(out, error) from None
    for problem in result.problems:
        click.echo(f"feedsvc: warning: {config.seeds / problem}", err=True)
    outcome = result.outcome
    if check_only:
        _list_changes(out, outcome)
        if result.refusal:
            click.echo(f"feedsvc: note: {label}a build would refuse to publish: {result.refusal}", err=True)
    verb = "to write" if check_only else "written"
    click.echo(
        f"feedsvc build: {label}{result.pages_read} pages read, {result.pages_skipped} skipped; "
        f"{result.articles} articles, {result.new} new, {result.changed} changed; "
        f"{outcome.written} files {verb}, {outcome.unchanged} unchanged, {len(outcome.removed)} "
        f"{'to remove' if check_only else 'removed'}; {time.perf_counter() - started:.2f} s",
        err=True,
    )
    for name, before, value in result.setting_changes:
        hint = f" (pass --base-url {before} to build as before)" if name == "base_url" and not label else ""
        click.echo(f"feedsvc: note: {label}{name} is {value!r}, but was {before!r} in the last build into {out}{hint}", err=True)
    for warning in outcome.warnings:
        click.echo(f"feedsvc: warning: {warning}", err=True)
    return result


def _disk_error(out: Path, error: OSError) -> click.ClickException:
    # A full disk or an unwritable folder. Files are only ever replaced
    # whole, so what is already published stays whole and linked up.
    return click.ClickException(
        f"{out}: {error.strerror or error}" + (f" ({error.filename})" if error.filename else "") + "; every published file is still whole "
        "(each is replaced in one step); make room or make the folder writable, then build again"
    )


def _list_changes(out: Path, outcome) -> None:
    for kind, files in (*(outcome.names or {}).items(), ("removed", outcome.removed)):
        for file in files:
            click.echo(f"{kind}: {out / file}")


def _build_sites(
    source: Source, out: Path | None, base_url: str | None, check_only: bool, show_diff: bool, force: bool, allow_empty: bool, processes: int | None
) -> None:
    """Every site of --sites DIR into its subfolder of --out, then the
    root's list of sites and OPML. A site that cannot be built is reported
    and skipped; the command then exits 1 naming it. With --site, that one
    site's subfolder only."""
    from feedsvc.publish.sites import out_folder, write_root

    instance, sites = each_site(source, base_url=base_url)
    now = command_time()
    cards: dict[str, dict] = {}
    broken: list[str] = []
    stale = False
    for name, config, error in sites:
        if config is not None:
            try:
                folder = out_folder(out, instance, name) if out else None
                result = _build_one(config, folder, now, check_only, show_diff, force, allow_empty, processes, f"site {name}: ")
            except click.ClickException as failure:
                error = failure.format_message()
            else:
                if result is not None:
                    cards[name] = result.card
                    stale = stale or (check_only and not result.outcome.up_to_date)
                continue
        click.echo(f"feedsvc: error: site {name}: {error}", err=True)
        broken.append(name)
    if out is not None and source.site is None and (check_only or not show_diff):
        try:
            outcome = write_root(out, instance, cards, apply=not check_only)
        except OSError as error:
            raise _disk_error(out, error) from None
        if check_only:
            _list_changes(out, outcome)
            stale = stale or not outcome.up_to_date
        verb = "to write" if check_only else "written"
        click.echo(f"feedsvc build: the list of {len(cards)} site(s): {outcome.written} files {verb}, {outcome.unchanged} unchanged", err=True)
    if broken:
        raise click.ClickException(f"{len(broken)} of {len(sites)} sites not built: {', '.join(broken)}; the others were")
    if stale:
        sys.exit(1)


@main.command("check")
@click.argument("folder", type=click.Path(path_type=Path, exists=True, file_okay=False))
@click.option("--base-url", help="URL the tree is served from [default: read from the feeds' self links].")
@click.option(
    "--sites",
    type=click.Path(path_type=Path, file_okay=False),
    envvar="FEEDSVC_SITES",
    help="The folder of several sites the tree was built from: each site's links are checked under its own base URL, and every site must be there.",
)
def check_command(folder: Path, base_url: str | None, sites: Path | None) -> None:
    """Validate the feeds of an exported tree as a strict validator would.

    Atom against RFC 4287 (its RELAX NG grammar and the rules the grammar
    leaves out), RSS 2.0, JSON Feed 1.1, ids unique in each feed and the
    same in every format of it, and every entry link resolving to a file
    of the tree. A tree of several sites is checked site by site, and its
    OPML against them all. Prints each problem as FILE: message; exits 1
    if any.
    """
    from feedsvc.publish.check import check_tree

    bases = _site_bases(Source(Path("seeds"), sites=sites), base_url) if sites is not None else None
    report = check_tree(folder, base_url, bases)
    for problem in report.problems:
        click.echo(f"{folder / problem.source}: " + (f"line {problem.line}: " if problem.line else "") + problem.message)
    click.echo(f"feedsvc check: {report.documents} documents checked, {len(report.problems)} problems", err=True)
    if report.problems:
        sys.exit(1)


def _site_bases(source: Source, base_url: str | None) -> dict[str, str]:
    """Each site's folder in the tree ("" for the root site) and its base
    URL, from the settings; a site that cannot be loaded is reported."""
    instance, sites = each_site(source, base_url=base_url)
    bases = {}
    for name, config, error in sites:
        if config is None:
            click.echo(f"feedsvc: warning: site {name} is not checked: {error}", err=True)
            continue
        bases["" if name == instance.root_site else name] = config.site_url
    return bases


@main.command("ping")
@seeds_options
@click.option("--hub", help="WebSub hub URL [default: the websub_hub setting, FEEDSVC_WEBSUB_HUB].")
def ping_command(source: Source, hub: str | None) -> None:
    """Tell the WebSub hub about every feed that changed since the last ping.

    Sends one hub.mode=publish notification per changed feed and records
    what the hub accepted in websub.json beside the ledger. Exits 1 when
    the hub refused or could not be reached for any feed.
    """
    config = configure(source)
    hub = hub or config.websub_hub
    if not hub:
        raise click.UsageError("no hub to notify: pass --hub URL or set websub_hub (FEEDSVC_WEBSUB_HUB)")
    from feedsvc.publish import websub
    from feedsvc.site.model import Site
    from feedsvc.store import topics as topic_record

    problem = websub.check_hub(hub)
    if problem:
        raise click.UsageError(problem)
    now = command_time()
    result = run_ingest(config, now)
    try:
        marks = topic_record.settle(config, result.ledger, now, write=not config.read_only)
    except FeedsvcError as error:
        raise click.ClickException(str(error)) from None
    site = Site.from_ingest(config, result, topic_marks=marks)
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
