"""The `[html]` table of feedsvc.toml, checked: unknown keys, values of the
wrong type and CSS selectors cssselect cannot read are errors that name
the setting."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from cssselect import SelectorError

from feedsvc.core.html_cards import SELECTOR_SETTINGS, selector
from feedsvc.core.models import HtmlSettings
from feedsvc.errors import ConfigError

_KEYS = {f.name for f in dataclasses.fields(HtmlSettings)}
_MODES = ("selectors", "text")


def html_settings(path: Path, table: object) -> HtmlSettings:
    if not isinstance(table, dict):
        raise ConfigError(f"{path}: [html] must be a table of settings")
    unknown = sorted(set(table) - _KEYS)
    if unknown:
        raise ConfigError(f"{path}: unknown setting(s) {', '.join('html.' + k for k in unknown)}; see docs/pages.md")
    for name, value in table.items():
        wanted = bool if name == "dayfirst" else str
        if not isinstance(value, wanted):
            raise ConfigError(f"{path}: html.{name} must be {'true or false' if wanted is bool else 'a string'}, not {value!r}")
    settings = HtmlSettings(**table)
    if settings.mode not in _MODES:
        raise ConfigError(f"{path}: html.mode must be \"selectors\" or \"text\", not {settings.mode!r}")
    given = [name for name in SELECTOR_SETTINGS if getattr(settings, name)]
    if settings.mode == "text":
        if given:
            raise ConfigError(f"{path}: html.mode = \"text\" reads the page's text; remove html.{', html.'.join(given)}")
        return settings
    for name in ("card", "title"):
        if not getattr(settings, name):
            raise ConfigError(f"{path}: html.{name} is required (a CSS selector), or set html.mode = \"text\"")
    for name in given:
        try:
            selector(getattr(settings, name))
        except SelectorError as error:
            raise ConfigError(f"{path}: html.{name} = {getattr(settings, name)!r} is not a valid CSS selector: {error}") from None
    if settings.page_url and not settings.page_url.startswith(("http://", "https://")):
        raise ConfigError(f"{path}: html.page_url must be an absolute http(s) URL, not {settings.page_url!r}")
    return settings
