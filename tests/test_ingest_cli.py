"""The `feedsvc` command over the ingest layer: `articles` output, bad pages,
usage errors and exit codes, and --help for every command."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import click
import pytest
from click.testing import CliRunner, Result

from feedsvc.cli import main

from conftest import NOW_EPOCH

STAMP = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ")


def feedsvc(*args: str, epoch: int = NOW_EPOCH, **env: str) -> Result:
    clean = {name: None for name in os.environ if name.startswith("FEEDSVC_")}
    return CliRunner().invoke(main, list(args), env={**clean, "SOURCE_DATE_EPOCH": str(epoch), **env})


def articles_json(seeds: Path, epoch: int = NOW_EPOCH) -> list[dict]:
    result = feedsvc("articles", "--json", "--seeds", str(seeds), epoch=epoch)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_articles_json_has_every_field(seeds: Path) -> None:
    listed = articles_json(seeds)
    assert len(listed) == 18
    for article in listed:
        assert {"id", "iri", "title", "summary", "category", "category_slug", "published", "updated", "date_source", "page_date", "pages"} <= set(article)
        assert re.fullmatch(r"[a-z2-7]{16}", article["id"])
        assert article["iri"].startswith("urn:uuid:")
        assert STAMP.fullmatch(article["published"]) and STAMP.fullmatch(article["updated"])
        assert article["date_source"] in {"page", "first_seen"}
        assert article["page_date"] is None
        assert article["pages"] and all(page.endswith(".txt") for page in article["pages"])
    assert [a["published"] for a in listed] == sorted((a["published"] for a in listed), reverse=True)
    assert len({a["id"] for a in listed}) == 18


def test_articles_prints_a_readable_table(seeds: Path) -> None:
    result = feedsvc("articles", "--seeds", str(seeds))
    assert result.exit_code == 0
    rows = result.stdout.splitlines()
    listed = articles_json(seeds)
    assert len(rows) == len(listed)
    for row, article in zip(rows, listed):
        assert row.startswith(article["id"]) and row.endswith(article["title"]) and article["published"][:10] in row


def test_seeds_folder_from_the_environment(seeds: Path) -> None:
    result = feedsvc("articles", "--json", FEEDSVC_SEEDS=str(seeds))
    assert result.exit_code == 0 and len(json.loads(result.stdout)) == 18


def test_ledger_option_moves_the_ledger(seeds: Path, tmp_path: Path) -> None:
    ledger = tmp_path / "elsewhere" / "ledger.jsonl"
    result = feedsvc("articles", "--seeds", str(seeds), "--ledger", str(ledger))
    assert result.exit_code == 0 and ledger.exists() and not (seeds / "ledger.jsonl").exists()


def test_articles_records_what_is_new(seeds: Path) -> None:
    articles_json(seeds)
    assert (seeds / "ledger.jsonl").exists()
    later = articles_json(seeds, epoch=NOW_EPOCH + 86400)
    assert all(a["first_seen"] == "2025-10-09T08:53:20Z" for a in later)


BAD_PAGES = {
    "001_binary.txt": (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00", "binary file"),
    "002_empty.txt": (b"", "the page is empty"),
    "003_no_card.txt": (b"Read More\n\n07/01/2025 Logistics\nRead More\n", "no article card found"),
    "005_too_big.txt": (b"Big Story\n\nBig Story\n\n" + b"Word " * 4000 + b"\n", "page limit"),
}


def test_bad_pages_are_skipped_with_a_warning_and_the_rest_published(seeds: Path) -> None:
    for name, (data, _) in BAD_PAGES.items():
        (seeds / name).write_bytes(data)
    result = feedsvc("articles", "--json", "--seeds", str(seeds), FEEDSVC_MAX_PAGE_BYTES="15000")
    assert result.exit_code == 0
    assert len(json.loads(result.stdout)) == 18
    warnings = result.stderr.splitlines()
    assert len(warnings) == len(BAD_PAGES)
    for name, (_, reason) in BAD_PAGES.items():
        [line] = [w for w in warnings if name in w]
        assert line.startswith("feedsvc: warning: ") and str(seeds / name) in line and reason in line


def test_a_file_name_that_is_not_utf8_is_skipped_on_every_build(seeds: Path, tmp_path: Path) -> None:
    # The second build reads back what the first remembered of each file,
    # the unreadable name included.
    (seeds / os.fsdecode(b"009_caf\xe9.txt")).write_bytes(next(seeds.glob("*.txt")).read_bytes())
    out = tmp_path / "out"
    first = feedsvc("build", "--seeds", str(seeds), "--out", str(out))
    again = feedsvc("build", "--seeds", str(seeds), "--out", str(out))
    for result in (first, again):
        assert result.exit_code == 0, result.output
        assert "009_caf\\xe9.txt" in result.stderr and "not valid UTF-8" in result.stderr
    assert "0 files written" in again.stderr + again.stdout


def test_page_limit_from_the_site_config(seeds: Path) -> None:
    text = (seeds / "feedsvc.toml").read_text(encoding="utf-8").replace("feed_size = 50", "feed_size = 50\nmax_page_bytes = 1000")
    (seeds / "feedsvc.toml").write_text(text, encoding="utf-8")
    result = feedsvc("articles", "--json", "--seeds", str(seeds))
    assert result.exit_code == 0 and json.loads(result.stdout) == []
    assert result.stderr.count("over the 1000-byte page limit") == 2


def run_real(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FEEDSVC_")}
    return subprocess.run([sys.executable, "-m", "feedsvc.cli", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=60)


def test_missing_seeds_folder_exits_2_with_one_line(tmp_path: Path) -> None:
    done = run_real("articles", "--seeds", str(tmp_path / "missing"), cwd=tmp_path)
    assert done.returncode == 2
    assert done.stdout == ""
    [line] = done.stderr.splitlines()
    assert "missing" in line and "--seeds" in line and "Traceback" not in done.stderr


def test_default_seeds_folder_missing_exits_2(tmp_path: Path) -> None:
    done = run_real("articles", cwd=tmp_path)
    assert done.returncode == 2 and len(done.stderr.splitlines()) == 1


def test_unknown_option_is_a_usage_error(seeds: Path) -> None:
    result = feedsvc("articles", "--seeds", str(seeds), "--no-such-option")
    assert result.exit_code == 2 and "Traceback" not in result.output


def test_corrupt_ledger_exits_1_naming_file_and_line(seeds: Path) -> None:
    ledger = seeds / "ledger.jsonl"
    ledger.write_bytes(b'{"feedsvc_ledger":1}\n{"kind":"page",\n')
    result = feedsvc("articles", "--seeds", str(seeds))
    assert result.exit_code == 1
    [line] = result.stderr.splitlines()
    assert str(ledger) in line and "line 2" in line
    assert ledger.read_bytes() == b'{"feedsvc_ledger":1}\n{"kind":"page",\n'


def test_bad_source_date_epoch_exits_1(seeds: Path) -> None:
    result = CliRunner().invoke(main, ["articles", "--seeds", str(seeds)], env={"SOURCE_DATE_EPOCH": "yesterday"})
    assert result.exit_code == 1 and "SOURCE_DATE_EPOCH" in result.stderr and len(result.stderr.splitlines()) == 1


def test_invalid_config_exits_1(seeds: Path) -> None:
    (seeds / "feedsvc.toml").write_text("no_such_setting = 1\n", encoding="utf-8")
    result = feedsvc("articles", "--seeds", str(seeds))
    assert result.exit_code == 1 and "no_such_setting" in result.stderr


def test_read_only_lists_without_writing(seeds: Path) -> None:
    result = feedsvc("articles", "--json", "--seeds", str(seeds), FEEDSVC_READ_ONLY="1")
    assert result.exit_code == 0 and len(json.loads(result.stdout)) == 18
    assert not (seeds / "ledger.jsonl").exists()


def test_a_read_only_listing_of_new_pages_is_what_a_run_then_records(seeds: Path, tmp_path: Path) -> None:
    held = tmp_path / "held"
    held.mkdir()
    for page in sorted(seeds.glob("*.txt"))[1:]:
        page.rename(held / page.name)
    first = articles_json(seeds)
    for page in held.iterdir():
        page.rename(seeds / page.name)
    flags = (["--json"], ["--json", "--all"], [])
    looked = [feedsvc("articles", *f, "--seeds", str(seeds), epoch=NOW_EPOCH + 60, FEEDSVC_READ_ONLY="1").stdout for f in flags]
    recorded = [feedsvc("articles", *f, "--seeds", str(seeds), epoch=NOW_EPOCH + 60).stdout for f in flags]
    assert looked == recorded
    listed = json.loads(recorded[0])
    assert 0 < len(first) < len(listed) == 18
    assert [a["published"] for a in listed] == sorted((a["published"] for a in listed), reverse=True)


def all_commands(group: click.Group, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    found = []
    for name, command in sorted(group.commands.items()):
        found.append(prefix + (name,))
        if isinstance(command, click.Group):
            found += all_commands(command, prefix + (name,))
    return found


@pytest.mark.parametrize("path", [()] + all_commands(main), ids=lambda path: " ".join(path) or "feedsvc")
def test_every_command_has_help(path: tuple[str, ...]) -> None:
    result = CliRunner().invoke(main, [*path, "--help"])
    assert result.exit_code == 0
    assert result.stdout.startswith("Usage: ")
    command = main
    for name in path:
        command = command.commands[name]
    assert command.help and command.help.strip()
    first_paragraph = command.help.strip().split("\n\n")[0]
    assert " ".join(first_paragraph.split()) in " ".join(result.stdout.split())


def test_every_command_that_reads_seeds_takes_the_shared_options() -> None:
    # preview reads one file with a seeds folder's settings and never opens the ledger.
    readers = [c for c in main.commands.values() if c.name != "preview" and any(p.name == "seeds" for p in c.params)]
    assert {"articles", "takedown", "alias", "split"} <= {command.name for command in readers}
    for command in readers:
        options = {p.name: p for p in command.params}
        assert "--seeds" in options["seeds"].opts and options["seeds"].envvar == "FEEDSVC_SEEDS"
        assert "--ledger" in options["ledger"].opts and options["ledger"].envvar == "FEEDSVC_LEDGER"


def test_the_ingest_commands_exist() -> None:
    assert {"articles", "takedown", "alias", "split"} <= set(main.commands)
