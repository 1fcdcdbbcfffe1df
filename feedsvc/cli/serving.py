"""`feedsvc serve`: the site, or a folder of several sites, under gunicorn."""

from __future__ import annotations

import functools
import os

import click

from feedsvc.config import Config, load_config
from feedsvc.instance import load_instance
from feedsvc.errors import FeedsvcError, SeedsError
from feedsvc.cli import main
from feedsvc.cli.common import Source, configure, configure_instance, seeds_options


@main.command("serve")
@seeds_options
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65535), help="Port to listen on.")
@click.option("--workers", type=click.IntRange(min=1), help="Worker processes [default: the workers setting, 2].")
@click.option(
    "--threads",
    type=click.IntRange(min=1),
    help="Deprecated and ignored: each worker serves all its connections from one event loop.",
)
@click.option("--base-url", help="Public URL of the site (with --sites, of the instance), used in every link [default: base_url in feedsvc.toml].")
def serve_command(source: Source, host: str, port: int, workers: int | None, threads: int | None, base_url: str | None) -> None:
    """Serve the site under gunicorn, picking up new pages as they land.

    Each worker serves its connections from one event loop (gunicorn's
    gevent worker), so idle clients and clients that send their request
    slowly cost a socket each, not a thread; a client that has not sent its
    request within 5 seconds is disconnected. Every worker watches the seeds
    folder and rebuilds its copy of the site, in a thread of its own, when a
    page has been added, changed or removed and has stopped changing for a
    second. With FEEDSVC_READ_ONLY=1 the ledger is only read.

    With --sites DIR, every site of DIR under /<name>/, and at / the list
    of sites, /feeds.opml and /healthz. A site that cannot be built is
    reported and answers 503; the others are served.
    """
    if threads is not None:
        click.echo("feedsvc: warning: --threads is deprecated and ignored; workers no longer use a thread per connection", err=True)
    listening = serving_url(host, port)
    if source.sites is not None:
        _serve_sites(source, host, port, workers, base_url, listening)
        return
    config = configure(source, base_url=base_url, default_base_url=listening)
    from feedsvc.serve.app import create_app
    from feedsvc.serve.server import serve

    try:
        # Built here, before gunicorn starts, so a bad ledger or setting is
        # reported on one line; the workers fork with the site ready.
        load = functools.partial(load_config, source.seeds, source.ledger, base_url=base_url, default_base_url=listening)
        app = create_app(load)
    except SeedsError as error:
        raise click.UsageError(str(error)) from None
    except FeedsvcError as error:
        raise click.ClickException(str(error)) from None
    click.echo(f"feedsvc: serving {config.seeds} at {serving_url(host, port, wildcard=host)} (links use {config.site_url})", err=True)
    if config.site_url == listening and host in WILDCARD_HOSTS:
        click.echo("feedsvc: hint: set base_url (or --base-url) to the address your readers use", err=True)
    serve(app, host, port, workers or config.workers)


def _serve_sites(source: Source, host: str, port: int, workers: int | None, base_url: str | None, listening: str) -> None:
    if source.site is not None:
        raise click.UsageError("serve takes every site of --sites DIR; to serve one alone, pass --seeds DIR/NAME")
    instance = configure_instance(source, base_url, listening)
    from feedsvc.serve.app import create_app
    from feedsvc.serve.server import serve

    try:
        app = create_app(sites=functools.partial(load_instance, source.sites, base_url=base_url, default_base_url=listening))
    except SeedsError as error:
        raise click.UsageError(str(error)) from None
    except FeedsvcError as error:
        raise click.ClickException(str(error)) from None
    front = app.extensions["feedsvc"]
    for name, problem in sorted(front.problems().items()):
        click.echo(f"feedsvc: error: site {name}: {problem}; it answers 503 until its folder is fixed", err=True)
    served = sorted(name for name, slot in front.slots.items() if slot.serving)
    click.echo(
        f"feedsvc: serving {len(served)} site(s) of {instance.folder} ({', '.join(served) or 'none yet'}) "
        f"at {serving_url(host, port, wildcard=host)} (links use {instance.site_url})",
        err=True,
    )
    if instance.site_url == listening and host in WILDCARD_HOSTS:
        click.echo("feedsvc: hint: set base_url (or --base-url) to the address your readers use", err=True)
    serve(app, host, port, workers or _workers())


def _workers() -> int:
    """The workers setting without a site to read it from: FEEDSVC_WORKERS, else the default."""
    raw = os.environ.get("FEEDSVC_WORKERS")
    try:
        return max(1, int(raw)) if raw else Config.workers
    except ValueError:
        raise click.ClickException(f"workers must be a whole number, not {raw!r}") from None


WILDCARD_HOSTS = ("0.0.0.0", "::", "")


def serving_url(host: str, port: int, wildcard: str = "127.0.0.1") -> str:
    """The URL of a server listening on host:port; an address that listens
    everywhere is shown as `wildcard`."""
    shown = wildcard if host in WILDCARD_HOSTS else host
    return f"http://[{shown}]:{port}/" if ":" in shown else f"http://{shown}:{port}/"
