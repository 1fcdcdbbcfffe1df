"""`feedsvc init` and running without a feedsvc.toml: a new user's first
commands, through the command line."""

from __future__ import annotations

import json
import os
from pathlib import Path

from click.testing import CliRunner, Result

from feedsvc.cli import main
from feedsvc.config import load_config

from conftest import NOW_EPOCH, copy_seeds


def feedsvc(*args: str) -> Result:
    clean = {name: None for name in os.environ if name.startswith("FEEDSVC_")}
    return CliRunner().invoke(main, list(args), env={**clean, "SOURCE_DATE_EPOCH": str(NOW_EPOCH)})


def test_init_writes_settings_with_a_fresh_site_key_and_a_gitignore(tmp_path: Path) -> None:
    first, second = tmp_path / "news" / "seeds", tmp_path / "other" / "seeds"
    result = feedsvc("init", str(first))
    assert result.exit_code == 0, result.output
    assert "feedsvc serve --seeds" in result.stdout and "feedsvc build --seeds" in result.stdout
    assert feedsvc("init", str(second)).exit_code == 0
    keys = {load_config(folder, environ={}).site_key for folder in (first, second)}
    assert len(keys) == 2 and "feedsvc-default-site" not in keys
    assert load_config(first, environ={}).site_title == "news"
    assert "*.lock" in (first / ".gitignore").read_text()


def test_init_never_overwrites_a_file(tmp_path: Path) -> None:
    folder = tmp_path / "seeds"
    assert feedsvc("init", str(folder)).exit_code == 0
    (folder / "feedsvc.toml").write_text('site_key = "mine"\n')
    again = feedsvc("init", str(folder))
    assert again.exit_code == 0
    assert "already exists" in again.stderr
    assert (folder / "feedsvc.toml").read_text() == 'site_key = "mine"\n'


def test_init_in_a_folder_with_a_history_keeps_every_id(tmp_path: Path) -> None:
    seeds = copy_seeds(tmp_path / "seeds")
    (seeds / "feedsvc.toml").unlink()  # a site that ran on the defaults
    before = feedsvc("articles", "--json", "--seeds", str(seeds))
    assert before.exit_code == 0
    assert feedsvc("init", str(seeds)).exit_code == 0
    after = feedsvc("articles", "--json", "--seeds", str(seeds))
    assert [a["iri"] for a in json.loads(after.stdout)] == [a["iri"] for a in json.loads(before.stdout)]


def test_without_settings_every_command_hints_at_init(tmp_path: Path) -> None:
    seeds = copy_seeds(tmp_path / "seeds")
    (seeds / "feedsvc.toml").unlink()
    result = feedsvc("articles", "--seeds", str(seeds))
    assert result.exit_code == 0
    assert "feedsvc init" in result.stderr and "no feedsvc.toml" in result.stderr
    with_settings = feedsvc("articles", "--seeds", str(copy_seeds(tmp_path / "configured")))
    assert "feedsvc init" not in with_settings.stderr


def test_a_changed_site_key_is_refused_and_nothing_is_written(tmp_path: Path) -> None:
    seeds = copy_seeds(tmp_path / "seeds")
    assert feedsvc("articles", "--seeds", str(seeds)).exit_code == 0
    ledger = (seeds / "ledger.jsonl").read_bytes()
    settings = (seeds / "feedsvc.toml").read_text()
    (seeds / "feedsvc.toml").write_text(settings.replace('site_key = "customs-logistics-news-2025"', 'site_key = "my-new-key"'))
    for command in (["articles"], ["build", "--out", str(tmp_path / "out")]):
        result = feedsvc(*command, "--seeds", str(seeds))
        assert result.exit_code == 1, result.output
        assert "customs-logistics-news-2025" in result.output and "every article" in result.output
    assert (seeds / "ledger.jsonl").read_bytes() == ledger
    assert not (tmp_path / "out" / "index.html").exists()


def test_init_in_a_folder_with_a_recorded_key_writes_that_key(tmp_path: Path) -> None:
    seeds = copy_seeds(tmp_path / "seeds")
    assert feedsvc("articles", "--seeds", str(seeds)).exit_code == 0
    (seeds / "feedsvc.toml").unlink()
    assert feedsvc("init", str(seeds)).exit_code == 0
    assert load_config(seeds, environ={}).site_key == "customs-logistics-news-2025"


def test_preview_shows_the_settled_categories_and_records_nothing(tmp_path: Path) -> None:
    seeds = copy_seeds(tmp_path / "seeds")
    shown = feedsvc("preview", "--seeds", str(seeds))
    assert shown.exit_code == 0, shown.output
    assert not (seeds / "ledger.jsonl").exists()
    listed = json.loads(feedsvc("articles", "--json", "--seeds", str(seeds)).stdout)
    rows = [line for line in shown.stdout.splitlines() if line.startswith("+ ")]
    assert len(rows) == len(listed)
    assert {row.split()[1] for row in rows} == {article["id"] for article in listed}
    assert all(article["category"] in shown.stdout for article in listed)
    assert "to add" in shown.stderr
    again = feedsvc("preview", "--seeds", str(seeds))
    assert [line for line in again.stdout.splitlines() if line.startswith("+ ")] == []


def test_articles_help_says_listing_records_and_points_to_preview() -> None:
    text = feedsvc("articles", "--help").stdout
    assert "records" in text and "feedsvc preview" in text
