"""What every command shares: where the site or sites are (--seeds or
--sites), loading the settings, the command's one `now`, and its one
ledger transaction."""

from __future__ import annotations

import datetime as dt
import functools
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Mapping

import click
from click.core import ParameterSource

from feedsvc.clock import current_time
from feedsvc.config import CONFIG_NAME, Config, load_config
from feedsvc.errors import FeedsvcError, SeedsError
from feedsvc.instance import InstanceConfig, load_instance, scan, site_config
from feedsvc.store.ingest import Change, Ingest, ingest
from feedsvc.store import lines

_GIVEN = (ParameterSource.COMMANDLINE, ParameterSource.ENVIRONMENT)


@dataclass(frozen=True)
class Source:
    """Where a command finds its site: a seeds folder (--seeds, --ledger),
    or a folder of several sites (--sites) and maybe one of them (--site)."""

    seeds: Path
    ledger: Path | None = None
    sites: Path | None = None
    site: str | None = None
    seeds_given: bool = False  # --seeds or FEEDSVC_SEEDS, rather than the default


def seeds_options(command: Callable) -> Callable:
    """--seeds and --ledger, or --sites and --site, shared by every command
    that reads the seeds; the command gets them as `source`."""

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
    @click.option(
        "--sites",
        type=click.Path(path_type=Path, file_okay=False),
        envvar="FEEDSVC_SITES",
        default=None,
        help="Folder of several sites, one per subfolder holding a feedsvc.toml (docs/sites.md).",
    )
    @click.option("--site", "site", metavar="NAME", default=None, help="With --sites: the one site to act on (its folder's name).")
    @functools.wraps(command)
    def wrapper(*args: object, seeds: Path, ledger: Path | None, sites: Path | None, site: str | None, **kwargs: object) -> object:
        context = click.get_current_context()
        seeds_from, sites_from = context.get_parameter_source("seeds"), context.get_parameter_source("sites")
        if sites is not None and seeds_from in _GIVEN:
            if seeds_from == sites_from:
                raise click.UsageError("--seeds names one site and --sites a folder of several: give one of them (or one of FEEDSVC_SEEDS, FEEDSVC_SITES)")
            if seeds_from == ParameterSource.COMMANDLINE:
                sites = None  # the command line wins over the environment
        if site is not None and sites is None:
            raise click.UsageError("--site NAME picks one site of a folder of several: give --sites DIR (or set FEEDSVC_SITES) too")
        if sites is not None and ledger is not None and site is None:
            raise click.UsageError("--ledger names one site's history: give --site NAME too, or leave --ledger out")
        source = Source(seeds, ledger, sites, site, seeds_from in _GIVEN and sites is None)
        return command(*args, source=source, **kwargs)

    return wrapper


class SeedsMissing(click.ClickException):
    """A usage error told in one line: exit 2, without click's usage banner,
    so that a cron mail or CI log shows only what to fix."""

    exit_code = 2


def configure(source: Source, **overrides: object) -> Config:
    """The settings of the command's one site: its seeds folder's, or with
    --sites, those of the site --site names. A missing folder is a usage
    error."""
    if source.sites is not None:
        instance = configure_instance(source, overrides.pop("base_url", None), overrides.pop("default_base_url", None))
        if source.site is None:
            names = ", ".join(scan(instance.folder).sites) or "none yet"
            raise click.UsageError(f"this command acts on one site: pass --site NAME (the sites of {instance.folder}: {names})")
        return configure_site(instance, source.site, source.ledger)
    return _configure_seeds(source.seeds, source.ledger, **overrides)


def _configure_seeds(seeds: Path, ledger: Path | None, **overrides: object) -> Config:
    if not seeds.is_dir():
        raise SeedsMissing(f"seeds folder {seeds} does not exist; pass --seeds DIR or set FEEDSVC_SEEDS")
    if not (seeds / CONFIG_NAME).is_file():
        click.echo(f"feedsvc: hint: {seeds} has no {CONFIG_NAME}, so the site runs on defaults; `feedsvc init {seeds}` writes one", err=True)
    try:
        return load_config(seeds, ledger, **overrides)
    except FeedsvcError as error:
        raise click.ClickException(str(error)) from None


def configure_instance(source: Source, base_url: str | None = None, default_base_url: str | None = None) -> InstanceConfig:
    """The instance's own settings (--sites DIR)."""
    assert source.sites is not None
    if not source.sites.is_dir():
        raise SeedsMissing(f"sites folder {source.sites} does not exist; pass --sites DIR or set FEEDSVC_SITES")
    try:
        return load_instance(source.sites, base_url=base_url, default_base_url=default_base_url)
    except FeedsvcError as error:
        raise click.ClickException(str(error)) from None


def configure_site(instance: InstanceConfig, name: str, ledger: Path | None = None) -> Config:
    """The settings of one site of the instance, or why it has none."""
    try:
        found = scan(instance.folder)
    except SeedsError as error:
        raise SeedsMissing(str(error)) from None
    if name in instance.retired:
        raise click.ClickException(f"site {name!r} is retired (the retired setting in {instance.folder / CONFIG_NAME})")
    if name in found.broken:
        raise click.ClickException(f"site {name}: {found.broken[name]}")
    if name not in found.sites:
        names = ", ".join(found.sites) or "none"
        raise SeedsMissing(f"{instance.folder} has no site {name!r} (a subfolder holding a {CONFIG_NAME}); its sites: {names}")
    try:
        return site_config(instance, name, ledger=ledger)
    except FeedsvcError as error:
        raise click.ClickException(f"site {name}: {error}") from None


def each_site(source: Source, **overrides: object) -> tuple[InstanceConfig, list[tuple[str, Config | None, str | None]]]:
    """With --sites: the instance's settings, and every site (or the one
    --site names) with its settings, or why they cannot be loaded."""
    instance = configure_instance(source, overrides.pop("base_url", None), overrides.pop("default_base_url", None))
    try:
        found = scan(instance.folder)
    except SeedsError as error:
        raise SeedsMissing(str(error)) from None
    if source.site is not None:
        return instance, [(source.site, configure_site(instance, source.site, source.ledger), None)]
    names = sorted((set(found.sites) | set(found.broken)) - set(instance.retired))
    sites: list[tuple[str, Config | None, str | None]] = []
    for name in names:
        try:
            sites.append((name, configure_site(instance, name), None))
        except click.ClickException as error:
            sites.append((name, None, error.format_message().removeprefix(f"site {name}: ")))
    return instance, sites


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


def article_json(line: dict, iri: str, categories: Mapping[str, str]) -> dict:
    """One article's row in `feedsvc articles`, from its record's line
    (store.lines.record_line) and its IRI: every listing, from the store
    or from a run's records, goes through here."""
    return {
        "id": line["id"],
        "iri": iri,
        "title": line["title"],
        "summary": line["summary"],
        "category": line["category"],
        "category_slug": categories[line["category"]],
        "published": _stamp(line["published"]),
        "updated": _stamp(line["updated"]),
        "first_seen": _stamp(line["first_seen"]),
        "date_source": line["date_source"],
        "page_date": line["page_date"],
        "pages": line["pages"],
        "link": line.get("link"),
    }


def _stamp(text: str) -> str:
    """A line's time as the ledger writes it; a hand-edited line may say it otherwise."""
    return text if len(text) == 20 and text.endswith("Z") else lines.stamp(lines.time_of(text))


def run_mark(config: Config, now: dt.datetime, change: Change, reprocess: bool = False) -> Ingest:
    """Merge the pages and apply an operator's mark, in one transaction."""
    if config.read_only:
        raise click.ClickException("the ledger is read-only here (FEEDSVC_READ_ONLY); run this where the ledger is written")
    return run_ingest(config, now, change=change, reprocess=reprocess)
