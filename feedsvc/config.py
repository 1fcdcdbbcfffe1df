"""Settings, layered: built-in defaults < `feedsvc.toml` in the seeds folder
< `FEEDSVC_*` environment variables."""

from __future__ import annotations

import dataclasses
import datetime as dt
import os
import tomllib
import zoneinfo
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping

from feedsvc.config_html import html_settings
from feedsvc.core.models import CategoryRule, HtmlSettings
from feedsvc.errors import ConfigError

CONFIG_NAME = "feedsvc.toml"
LEDGER_NAME = "ledger.jsonl"
GENERATOR = "feedsvc"


@dataclass(frozen=True)
class Config:
    seeds: Path = Path("seeds")
    ledger: Path | None = None  # None: ledger.jsonl in the seeds folder
    # Set once per site and never changed: every article and feed IRI hangs off it.
    site_key: str = "feedsvc-default-site"
    site_title: str = "feedsvc"
    site_subtitle: str = "Articles from the site's listing pages"
    base_url: str = "http://127.0.0.1:8000/"
    author_name: str = "feedsvc"
    author_email: str | None = None
    language: str = "en"
    icon: str | None = None
    logo: str | None = None
    timezone: str = "UTC"
    default_category: str = "General"
    category_rules: tuple[CategoryRule, ...] = ()
    feed_size: int = 50
    archive_size: int = 100
    edit_window_days: int = 7
    max_page_bytes: int = 10 * 1024 * 1024
    max_title_chars: int = 300
    max_cards_per_page: int = 10_000
    max_new_articles: int = 500
    cache_max_age: int = 300
    websub_hub: str | None = None
    read_only: bool = False
    workers: int = 2
    html: HtmlSettings | None = None  # the [html] table; None: HTML pages are skipped
    extra: Mapping[str, object] = field(default_factory=dict)

    @property
    def ledger_path(self) -> Path:
        return self.ledger if self.ledger is not None else self.seeds / LEDGER_NAME

    @property
    def zone(self) -> zoneinfo.ZoneInfo:
        return zoneinfo.ZoneInfo(self.timezone)

    @property
    def site_url(self) -> str:
        """The base URL, always ending in exactly one slash."""
        return self.base_url.rstrip("/") + "/"


_FIELDS = {f.name: f for f in dataclasses.fields(Config)}
_INTS = {name for name, f in _FIELDS.items() if f.type == "int"}
_BOOLS = {name for name, f in _FIELDS.items() if f.type == "bool"}
_PATHS = {"seeds", "ledger"}


def load_config(
    seeds: Path | str | None = None,
    ledger: Path | str | None = None,
    environ: Mapping[str, str] | None = None,
    **overrides: object,
) -> Config:
    """Build the settings for one run. Explicit arguments (from the command
    line) win over the environment, which wins over the file."""
    environ = os.environ if environ is None else environ
    values: dict[str, object] = {}
    seeds_dir = Path(seeds or environ.get("FEEDSVC_SEEDS") or "seeds")
    values.update(_read_file(seeds_dir / CONFIG_NAME))
    values.update(_read_environ(environ))
    values["seeds"] = seeds_dir
    if ledger:
        values["ledger"] = ledger
    values.update({k: v for k, v in overrides.items() if v is not None})
    return _build(values)


def _read_file(path: Path) -> dict[str, object]:
    try:
        with path.open("rb") as handle:
            data = tomllib.load(handle)
    except FileNotFoundError:
        return {}
    except (OSError, tomllib.TOMLDecodeError) as error:
        raise ConfigError(f"{path}: cannot read the configuration: {error}") from None
    data = dict(data)
    site = data.pop("site", {})
    if isinstance(site, dict):
        data.update(site)
    if "html" in data:
        data["html"] = html_settings(path, data["html"])
    rules = data.pop("categories", None)
    if rules is not None:
        data["category_rules"] = _rules(path, rules)
    unknown = sorted(set(data) - set(_FIELDS))
    if unknown:
        raise ConfigError(f"{path}: unknown setting(s) {', '.join(unknown)}; see README 'Configuration'")
    return data


def _rules(path: Path, rules: object) -> tuple[CategoryRule, ...]:
    if not isinstance(rules, list):
        raise ConfigError(f"{path}: [[categories]] must be a list of tables with category and keywords")
    parsed = []
    for rule in rules:
        if not isinstance(rule, dict) or not isinstance(rule.get("category"), str):
            raise ConfigError(f"{path}: every [[categories]] entry needs a category name")
        keywords = rule.get("keywords", [])
        if not isinstance(keywords, list) or not all(isinstance(k, str) for k in keywords):
            raise ConfigError(f"{path}: keywords of {rule['category']!r} must be a list of strings")
        parsed.append(CategoryRule(rule["category"], tuple(keywords)))
    return tuple(parsed)


def _read_environ(environ: Mapping[str, str]) -> dict[str, object]:
    values: dict[str, object] = {}
    for name in _FIELDS:
        if name in {"seeds", "extra", "category_rules", "html"}:
            continue
        raw = environ.get("FEEDSVC_" + name.upper())
        if raw is not None and raw != "":
            values[name] = raw
    return values


def _build(values: dict[str, object]) -> Config:
    converted: dict[str, object] = {}
    for name, value in values.items():
        if name in _INTS:
            converted[name] = _as_int(name, value)
        elif name in _BOOLS:
            converted[name] = _as_bool(name, value)
        elif name in _PATHS:
            converted[name] = Path(str(value))
        else:
            converted[name] = value
    config = Config(**converted)
    try:
        config.zone
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ConfigError(f"unknown time zone {config.timezone!r}; use an IANA name such as Europe/Berlin") from None
    if not config.base_url.startswith(("http://", "https://")):
        raise ConfigError(f"base_url {config.base_url!r} must be an absolute http(s) URL")
    return config


def _as_int(name: str, value: object) -> int:
    try:
        number = int(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise ConfigError(f"{name} must be a whole number, not {value!r}") from None
    if number < 1:
        raise ConfigError(f"{name} must be at least 1, not {number}")
    return number


def _as_bool(name: str, value: object) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in {"1", "true", "yes", "on"}:
        return True
    if text in {"0", "false", "no", "off", ""}:
        return False
    raise ConfigError(f"{name} must be true or false, not {value!r}")
