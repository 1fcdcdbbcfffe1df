"""Several sites from one folder (`--sites DIR`): every subfolder of DIR
that holds a feedsvc.toml is one site, named by its folder and published
under `/<name>/`. The instance's own settings (`base_url`, `root_site`,
`retired`) sit in an optional DIR/feedsvc.toml; FEEDSVC_BASE_URL and
--base-url override its base URL as usual. Each site's settings are
today's single-site settings, loaded from its own folder, with links built
under the instance's base URL unless the site sets its own."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

from feedsvc.config import CONFIG_NAME, Config, check_keys, load_config, read_toml
from feedsvc.errors import ConfigError, SeedsError

INSTANCE_SETTINGS = ("base_url", "root_site", "retired")
DEFAULT_BASE_URL = Config.base_url
# First path segments the instance or a site mounted at `/` answers itself.
RESERVED = frozenset(
    {"feeds", "categories", "topics", "articles", "sites", "healthz", "feeds.opml", "sites.opml", "style.css", "copy.js", "index.html"}
)
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")
# Settings that say where one site keeps its files or who it is: never
# taken from the environment for a site of an instance, where every site
# would get the same one. Its base URL comes from the instance's.
_PER_SITE = ("SEEDS", "SITES", "LEDGER", "CACHE", "SITE_KEY", "BASE_URL")


@dataclass(frozen=True)
class InstanceConfig:
    """The instance's settings: its folder, public URL, the site mounted
    at `/` (None: the instance's own index is there) and the names of
    sites taken down for good."""

    folder: Path
    base_url: str = DEFAULT_BASE_URL
    root_site: str | None = None
    retired: tuple[str, ...] = ()
    cache_max_age: int = Config.cache_max_age  # of the root's own documents: FEEDSVC_CACHE_MAX_AGE

    @property
    def site_url(self) -> str:
        return self.base_url.rstrip("/") + "/"

    def prefix(self, name: str) -> str:
        """The path a site's URLs are published under: `/<name>/`, or `/`
        for the root site."""
        return "/" if name == self.root_site else f"/{name}/"

    def url_of(self, name: str) -> str:
        """The base URL a site's links are built under, unless it sets its own."""
        return self.site_url + self.prefix(name).lstrip("/")


@dataclass(frozen=True)
class Scan:
    """What the sites folder holds: the sites by name (sorted), and the
    folders that hold a feedsvc.toml but cannot be read or named as a site,
    with the reason."""

    sites: dict[str, Path]
    broken: dict[str, str]


def load_instance(
    folder: Path | str,
    environ: Mapping[str, str] | None = None,
    base_url: str | None = None,
    default_base_url: str | None = None,
) -> InstanceConfig:
    """The instance's settings: DIR/feedsvc.toml < FEEDSVC_BASE_URL <
    `base_url` (--base-url). `default_base_url` replaces the built-in
    default when none is set (the server passes the address it listens on)."""
    environ = os.environ if environ is None else environ
    folder = Path(folder)
    path = folder / CONFIG_NAME
    values = _read(path)
    given = base_url or environ.get("FEEDSVC_BASE_URL") or values.get("base_url") or default_base_url or DEFAULT_BASE_URL
    if not isinstance(given, str) or not given.startswith(("http://", "https://")):
        raise ConfigError(f"{path}: base_url {given!r} must be an absolute http(s) URL")
    root = values.get("root_site")
    if root is not None and (not isinstance(root, str) or not valid_name(root)):
        raise ConfigError(f"{path}: root_site {root!r} must name a site folder of {folder}")
    retired = values.get("retired", [])
    if not isinstance(retired, list) or not all(isinstance(name, str) and valid_name(name) for name in retired):
        raise ConfigError(f'{path}: retired must be a list of site names, such as ["old-news"]')
    if root is not None and root in retired:
        raise ConfigError(f"{path}: the root site {root!r} is also retired; remove it from one of the two")
    max_age = environ.get("FEEDSVC_CACHE_MAX_AGE") or Config.cache_max_age
    try:
        cache_max_age = int(max_age)
    except ValueError:
        raise ConfigError(f"cache_max_age must be a whole number, not {max_age!r}") from None
    return InstanceConfig(folder, given, root, tuple(sorted(set(retired))), max(cache_max_age, 1))


def _read(path: Path) -> dict[str, object]:
    data = read_toml(path, "the instance's settings")
    guide = f"it takes {', '.join(INSTANCE_SETTINGS)}; a site's own settings go in {path.parent}/<name>/{CONFIG_NAME}; docs/sites.md"
    check_keys(path, data, set(INSTANCE_SETTINGS), "the instance's settings", guide)
    return data


def valid_name(name: str) -> bool:
    """Whether a folder name can be a site's URL prefix."""
    return bool(_NAME.fullmatch(name)) and name.lower() not in RESERVED


def scan(folder: Path) -> Scan:
    """The sites of the folder: a cheap look at its subfolders. Raises
    SeedsError when the folder itself cannot be read."""
    try:
        entries = sorted(os.scandir(folder), key=lambda entry: entry.name)
    except OSError as error:
        raise SeedsError(f"cannot read the sites folder {folder}: {error.strerror or error}; pass --sites DIR or set FEEDSVC_SITES") from None
    sites: dict[str, Path] = {}
    broken: dict[str, str] = {}
    for entry in entries:
        name = entry.name
        if name.startswith(".") or not _is_folder(entry):
            continue
        try:
            os.stat(os.path.join(entry.path, CONFIG_NAME))
        except (FileNotFoundError, NotADirectoryError):
            continue  # not a site: a folder of something else
        except OSError as error:
            broken[name] = f"cannot read the site's folder {entry.path}: {error.strerror or error}"
            continue
        if not valid_name(name):
            why = "is reserved for the instance's own pages" if _NAME.fullmatch(name) else "cannot be a URL prefix"
            broken[name] = f"{entry.path}: the folder name {name!r} {why}; rename it to letters, digits, '-', '_' or '.'"
            continue
        sites[name] = Path(entry.path)
    return Scan(sites, broken)


def _is_folder(entry: os.DirEntry) -> bool:
    try:
        return entry.is_dir()
    except OSError:
        return False


def site_environ(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment a site of the instance reads its settings from:
    without the settings that would make every site share a folder, a
    history, an identity or a base URL."""
    environ = os.environ if environ is None else environ
    dropped = {f"FEEDSVC_{name}" for name in _PER_SITE}
    return {key: value for key, value in environ.items() if key not in dropped}


def site_config(instance: InstanceConfig, name: str, environ: Mapping[str, str] | None = None, ledger: Path | None = None) -> Config:
    """The settings of site `name`: its own feedsvc.toml and the shared
    FEEDSVC_* settings, with links under the instance's base URL + `name/`
    unless the site sets a base_url of its own."""
    return load_config(instance.folder / name, ledger, environ=site_environ(environ), default_base_url=instance.url_of(name))
