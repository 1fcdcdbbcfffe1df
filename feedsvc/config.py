"""Settings, layered: built-in defaults < `feedsvc.toml` in the seeds folder
< `FEEDSVC_*` environment variables."""

from __future__ import annotations

import dataclasses
import difflib
import json
import os
import re
import tomllib
import zoneinfo
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

from feedsvc.config_html import html_settings
from feedsvc.core import junk
from feedsvc.core.models import CategoryRule, HtmlSettings, TopicRule
from feedsvc.core.text import category_slug
from feedsvc.core.topics import FIELDS as TOPIC_FIELDS
from feedsvc.errors import ConfigError

CONFIG_NAME = "feedsvc.toml"
LEDGER_NAME = "ledger.jsonl"
CACHE_FOLDER = ".feedsvc-cache"
GENERATOR = "feedsvc"


@dataclass(frozen=True)
class Config:
    seeds: Path = Path("seeds")
    ledger: Path | None = None  # None: ledger.jsonl in the seeds folder
    cache: Path | None = None  # None: .feedsvc-cache/ beside the ledger
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
    topics: tuple[TopicRule, ...] = ()  # the [[topics]] tables: topic feeds
    feed_size: int = 50
    archive_size: int = 100
    edit_window_days: int = 7
    max_page_bytes: int = 10 * 1024 * 1024
    max_title_chars: int = 300
    max_cards_per_page: int = 10_000
    max_new_articles: int = 500
    # A page whose every card title matches one of these is skipped.
    error_page_titles: tuple[str, ...] = junk.DEFAULT_PATTERNS
    cache_max_age: int = 300
    websub_hub: str | None = None
    read_only: bool = False
    workers: int = 2
    html: HtmlSettings | None = None  # the [html] table; None: HTML pages are skipped

    @property
    def ledger_path(self) -> Path:
        return self.ledger if self.ledger is not None else self.seeds / LEDGER_NAME

    @property
    def cache_folder(self) -> Path:
        """Where the disposable SQLite copy of the history lives."""
        return self.cache if self.cache is not None else self.ledger_path.parent / CACHE_FOLDER

    @property
    def zone(self) -> zoneinfo.ZoneInfo:
        return zoneinfo.ZoneInfo(self.timezone)

    @property
    def site_url(self) -> str:
        """The base URL, always ending in exactly one slash."""
        return self.base_url.rstrip("/") + "/"


# Settings that never reach the published bytes; leaving them out keeps
# fingerprints and build digests the same between a local run and CI.
# (error_page_titles decides what is ingested, which the ledger records.)
RUNTIME_SETTINGS = frozenset({"seeds", "ledger", "cache", "read_only", "workers", "cache_max_age", "error_page_titles", "html"})


def published_settings(config: Config) -> list[tuple[str, object]]:
    """The settings that can change what is published, by name."""
    return sorted((f.name, getattr(config, f.name)) for f in dataclasses.fields(config) if f.name not in RUNTIME_SETTINGS)


_FIELDS = {f.name: f for f in dataclasses.fields(Config)}
_INTS = {name for name, f in _FIELDS.items() if f.type == "int"}
_BOOLS = {name for name, f in _FIELDS.items() if f.type == "bool"}
_PATHS = {"seeds", "ledger", "cache"}
_PATTERN_LISTS = {"error_page_titles"}
# The settings feedsvc.toml may hold ([[categories]] fills category_rules,
# [[topics]] topics, the [html] table html).
TABLES = {"category_rules", "topics", "html"}
FILE_SETTINGS = set(_FIELDS) - TABLES


def load_config(
    seeds: Path | str | None = None,
    ledger: Path | str | None = None,
    environ: Mapping[str, str] | None = None,
    default_base_url: str | None = None,
    **overrides: object,
) -> Config:
    """Build the settings for one run. Explicit arguments (from the command
    line) win over the environment, which wins over the file.
    `default_base_url` replaces the built-in base URL when none is set (the
    server passes the address it listens on)."""
    environ = os.environ if environ is None else environ
    values: dict[str, object] = {}
    seeds_dir = Path(seeds or environ.get("FEEDSVC_SEEDS") or "seeds")
    values.update(_read_file(seeds_dir / CONFIG_NAME))
    values.update(_read_environ(environ))
    values["seeds"] = seeds_dir
    if ledger:
        values["ledger"] = ledger
    values.update({k: v for k, v in overrides.items() if v is not None})
    if default_base_url is not None:
        values.setdefault("base_url", default_base_url)
    return _build(values)


def read_toml(path: Path, what: str = "the configuration") -> dict[str, object]:
    """A settings file's tables; a missing file is an empty one."""
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except FileNotFoundError:
        return {}
    except (OSError, tomllib.TOMLDecodeError) as error:
        raise ConfigError(f"{path}: cannot read {what}: {error}") from None


def _read_file(path: Path) -> dict[str, object]:
    data = dict(read_toml(path))
    site = data.pop("site", {})
    if not isinstance(site, dict):
        raise ConfigError(f"{path}: site must be a table ([site]), not {type(site).__name__}")
    check_keys(path, site, FILE_SETTINGS, "[site]")
    rules = data.pop("categories", None)
    topics = data.pop("topics", None)
    html = data.pop("html", None)
    check_keys(path, data, FILE_SETTINGS | {"site", "categories", "topics", "html"}, "the top level")
    data.update(site)
    if rules is not None:
        data["category_rules"] = _rules(path, rules)
    if topics is not None:
        data["topics"] = _topics(path, topics)
    if html is not None:
        data["html"] = html_settings(path, html)
    return data


def check_keys(path: Path, table: dict, known: set[str], where: str, guide: str = "docs/settings.md lists every setting") -> None:
    """An unknown key is an error naming the closest known one: a typo
    would otherwise be ignored without a word."""
    for key in sorted(set(table) - known):
        close = difflib.get_close_matches(key, sorted(known), n=1)
        hint = f'; did you mean "{close[0]}"?' if close else f"; known keys: {', '.join(sorted(known))}"
        raise ConfigError(f"{path}: unknown setting \"{key}\" in {where}{hint} ({guide})")


def _rules(path: Path, rules: object) -> tuple[CategoryRule, ...]:
    if not isinstance(rules, list):
        raise ConfigError(f"{path}: [[categories]] must be a list of tables with category and keywords")
    parsed = []
    for rule in rules:
        if not isinstance(rule, dict) or not isinstance(rule.get("category"), str):
            raise ConfigError(f"{path}: every [[categories]] entry needs a category name")
        check_keys(path, rule, {"category", "keywords"}, f"the [[categories]] rule for {rule['category']!r}")
        keywords = rule.get("keywords", [])
        if not isinstance(keywords, list) or not all(isinstance(k, str) for k in keywords):
            raise ConfigError(f"{path}: keywords of {rule['category']!r} must be a list of strings")
        parsed.append(CategoryRule(rule["category"], tuple(keywords)))
    return tuple(parsed)


_TOPIC_KEYS = {"name", "slug", "include", "exclude", "fields", "categories"}
_TOPIC_SLUG = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")


def _topics(path: Path, tables: object) -> tuple[TopicRule, ...]:
    """The [[topics]] tables: each needs a name and at least one include; a
    slug, made from the name when not given, names one topic only."""
    if not isinstance(tables, list) or not all(isinstance(table, dict) for table in tables):
        raise ConfigError(f"{path}: [[topics]] must be a list of tables with name and include")
    parsed: dict[str, TopicRule] = {}
    for table in tables:
        name = table.get("name")
        if not isinstance(name, str) or not name.strip():
            raise ConfigError(f"{path}: every [[topics]] entry needs a name (topics.name)")
        where = f"the [[topics]] entry {name!r}"
        check_keys(path, table, _TOPIC_KEYS, where)
        lists = {key: _strings(path, table, key, where) for key in ("include", "exclude", "fields", "categories")}
        if not any(word.strip() for word in lists["include"]):
            raise ConfigError(f"{path}: {where} needs topics.include, a list of words or phrases, such as [\"{name}\"]")
        fields = lists["fields"] if "fields" in table else ("title", "summary")
        unknown = [field for field in fields if field not in TOPIC_FIELDS]
        if unknown or not fields:
            raise ConfigError(f"{path}: topics.fields of {where} may hold {', '.join(map(repr, TOPIC_FIELDS))}, not {list(fields)!r}")
        slug = table.get("slug", category_slug(name, set()))
        if not isinstance(slug, str) or not _TOPIC_SLUG.fullmatch(slug):
            raise ConfigError(f"{path}: topics.slug of {where} must be lowercase letters, digits and hyphens, such as \"wco\", not {slug!r}")
        if slug in parsed:
            raise ConfigError(
                f"{path}: topics.slug {slug!r} names two topics ({parsed[slug].name!r} and {name!r}); give one of them another slug"
            )
        parsed[slug] = TopicRule(name, slug, lists["include"], lists["exclude"], tuple(dict.fromkeys(fields)), lists["categories"])
    return tuple(parsed.values())


def _strings(path: Path, table: dict, key: str, where: str) -> tuple[str, ...]:
    value = table.get(key, [])
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise ConfigError(f"{path}: topics.{key} of {where} must be a list of strings")
    return tuple(value)


def _read_environ(environ: Mapping[str, str]) -> dict[str, object]:
    values: dict[str, object] = {}
    for name in _FIELDS:
        if name in {"seeds"} | TABLES:
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
        elif name in _PATTERN_LISTS:
            converted[name] = _as_patterns(name, value)
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


def _as_patterns(name: str, value: object) -> tuple[str, ...]:
    """A list of regular expressions: a TOML array, or in the environment a
    JSON array of strings."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            raise ConfigError(f'FEEDSVC_{name.upper()} must be a JSON list of patterns, such as ["403 forbidden"]') from None
    if not isinstance(value, (list, tuple)) or not all(isinstance(item, str) for item in value):
        raise ConfigError(f"{name} must be a list of patterns (strings)")
    for pattern in value:
        try:
            re.compile(pattern)
        except re.error as error:
            raise ConfigError(f"{name}: {pattern!r} is not a valid regular expression ({error})") from None
    return tuple(value)


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
