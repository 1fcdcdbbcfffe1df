"""Settings: docs/settings.md lists every setting as config.py defines it,
and feedsvc.toml refuses keys it does not know, naming the closest one."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from feedsvc.cli import main
from feedsvc.config import Config, load_config
from feedsvc.errors import ConfigError

REFERENCE = Path(__file__).resolve().parents[1] / "docs" / "settings.md"
ROW = re.compile(r"^\| `(\w+)` \| ([^|]+) \| ([^|]+) \| [^|]+ \|$", re.MULTILINE)


def documented() -> dict[str, tuple[str, str]]:
    return {name: (env.strip(), default.strip()) for name, env, default in ROW.findall(REFERENCE.read_text(encoding="utf-8"))}


def test_every_setting_is_documented_and_nothing_else() -> None:
    assert set(documented()) == {field.name for field in dataclasses.fields(Config)}


@pytest.mark.parametrize("field", dataclasses.fields(Config), ids=lambda field: field.name)
def test_the_documented_variable_and_default_are_the_real_ones(field: dataclasses.Field, tmp_path: Path) -> None:
    env, default = documented()[field.name]
    if field.name not in ("category_rules", "topics", "html"):  # tables, not single values
        assert env.startswith(f"`FEEDSVC_{field.name.upper()}`")
    value = field.default
    if value is None or value == ():
        assert default.startswith("none") or field.name in ("ledger", "cache"), default
    elif field.name == "base_url":
        assert f"`{value}`" in default
    elif isinstance(value, tuple):
        assert "error" in default  # the pattern list is described, not spelled out
    else:
        shown = str(value).lower() if isinstance(value, bool) else str(value)
        assert default == f"`{shown}`"


@pytest.mark.parametrize(
    ("toml", "named", "suggested"),
    [
        ('[[categories]]\ncategory = "Ports"\nkeyword = ["port"]\n', "keyword", "keywords"),
        ('[site]\nsite_titel = "News"\n', "site_titel", "site_title"),
        ("feed_sise = 10\n", "feed_sise", "feed_size"),
    ],
)
def test_an_unknown_key_is_an_error_naming_it_and_the_closest(tmp_path: Path, toml: str, named: str, suggested: str) -> None:
    (tmp_path / "feedsvc.toml").write_text(toml)
    with pytest.raises(ConfigError) as error:
        load_config(tmp_path, environ={})
    assert f'"{named}"' in str(error.value) and f'did you mean "{suggested}"' in str(error.value)
    assert "feedsvc.toml" in str(error.value)
    result = CliRunner().invoke(main, ["articles", "--seeds", str(tmp_path)])
    assert result.exit_code == 1 and f'did you mean "{suggested}"' in result.output
