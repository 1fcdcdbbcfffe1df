"""`feedsvc build`: the exported tree against a stored golden tree, byte
for byte from build to build, written atomically (a build killed with
SIGKILL part-way), incremental, cleaned of stale files, guarded against
broken scrapes, and served by static servers with the app's bytes."""

from __future__ import annotations

import datetime as dt
import difflib
import http.client
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import feedparser
import lxml.html
import pytest
from click.testing import CliRunner

from processes import kill_when
from conftest import NOW, NOW_EPOCH, copy_seeds
from regen_golden_tree import BASE_URL, GOLDEN, REGENERATE, build_golden, published_files
from sitebuild import card, write_page

from feedsvc.publish.check import check_tree
from feedsvc.cli import main
from feedsvc.config import load_config
from feedsvc.config import CACHE_FOLDER
from feedsvc.publish.manifest import MANIFEST_NAME, PENDING_NAME, state_folder
from feedsvc.store.ingest import ingest
from feedsvc.site.model import Site
from feedsvc.store.files import Folder
from feedsvc.store.stamps import STAMPS_NAME

REPO = Path(__file__).resolve().parents[1]
LATER_EPOCH = NOW_EPOCH + 86_400 * 3


def clean_environment(**values: str) -> dict[str, str | None]:
    """Environment for a CLI run: a fixed clock, and none of the caller's
    FEEDSVC_* settings."""
    env: dict[str, str | None] = {name: None for name in os.environ if name.startswith("FEEDSVC_")}
    env["SOURCE_DATE_EPOCH"] = str(NOW_EPOCH)
    env.update(values)
    return env


def run(*args: str, **env: str):
    return CliRunner().invoke(main, list(args), env=clean_environment(**env), catch_exceptions=False)


def build(seeds: Path, out: Path, *args: str, **env: str):
    return run("build", "--seeds", str(seeds), "--out", str(out), *args, **env)


def state(seeds: Path, out: Path) -> Path:
    """Where builds of `seeds` into `out` keep their bookkeeping."""
    return state_folder(load_config(seeds, environ={}), out)


def snapshot(folder: Path) -> dict[str, tuple[bytes, int]]:
    """Every file under `folder`, dot-files included, but for the record of
    this machine's file stats, which a build may refresh, and the ledger's
    cache, a disposable copy of the history that any run may bring up to
    date: bytes and mtime."""
    if not folder.exists():
        return {}
    return {
        path.relative_to(folder).as_posix(): (path.read_bytes(), path.stat().st_mtime_ns)
        for path in sorted(folder.rglob("*"))
        if path.is_file() and path.name != STAMPS_NAME and CACHE_FOLDER not in path.parts
    }


def backdate(folder: Path) -> None:
    """Set every file's mtime far back, so any rewrite shows."""
    for path in folder.rglob("*"):
        if path.is_file():
            os.utime(path, ns=(1_000_000_000_000_000_000, 1_000_000_000_000_000_000))


def summary_line(result) -> str:
    lines = [line for line in result.stderr.splitlines() if line.startswith("feedsvc build:")]
    assert len(lines) == 1, result.stderr
    return lines[0]


def summary_counts(result) -> dict[str, int]:
    line = summary_line(result)
    found = {
        name: int(number)
        for number, name in re.findall(r"(\d+) (pages read|skipped|articles|new|changed|files written|files to write|unchanged|removed|to remove)", line)
    }
    assert re.search(r"; \d+\.\d\d s$", line), line
    return found


def new_cards(prefix: str, count: int, category: str = "Logistics") -> list[str]:
    return [
        card(f"{prefix} headline number {n}", f"{prefix} story {n} about freight corridors and port capacity.", dt.date(2025, 9, 1 + n % 28), category)
        for n in range(count)
    ]


# The golden tree


def test_the_sample_pages_export_to_the_golden_tree(tmp_path):
    fresh = published_files(build_golden(tmp_path))
    stored = published_files(GOLDEN)
    missing, extra = sorted(set(stored) - set(fresh)), sorted(set(fresh) - set(stored))
    differing = [name for name in sorted(set(fresh) & set(stored)) if fresh[name] != stored[name]]
    if missing or extra or differing:
        message = [f"the export differs from {GOLDEN.relative_to(REPO)}/:"]
        message += [f"  missing from the build: {name}" for name in missing]
        message += [f"  not in the golden tree: {name}" for name in extra]
        for name in differing[:3]:
            diff = difflib.unified_diff(
                stored[name].decode("utf-8", "replace").splitlines(),
                fresh[name].decode("utf-8", "replace").splitlines(),
                f"golden/{name}",
                f"built/{name}",
                lineterm="",
            )
            message += ["  " + line for line in list(diff)[:40]]
        message += [f"  ({len(differing)} file(s) differ)", f"if the change is intended, run: {REGENERATE}"]
        pytest.fail("\n".join(message), pytrace=False)


def test_the_golden_tree_passes_the_strict_check_and_feedparser():
    report = check_tree(GOLDEN)
    assert report.problems == []
    assert report.documents == 10
    for name in ("feeds/all.atom", "feeds/all.rss"):
        parsed = feedparser.parse((GOLDEN / name).read_bytes())
        assert not parsed.bozo, (name, parsed.get("bozo_exception"))
        assert len(parsed.entries) == 18
        assert all(entry.link.startswith(BASE_URL + "articles/") for entry in parsed.entries)


# Deterministic and incremental


def test_building_twice_gives_the_same_bytes_and_rewrites_nothing(seeds, tmp_path):
    out = tmp_path / "out"
    first = build(seeds, out)
    assert first.exit_code == 0, first.output
    assert summary_counts(first)["files written"] == 33
    backdate(out)
    before = snapshot(out)

    again = build(seeds, out)  # nothing new: stops after reading the pages
    assert again.exit_code == 0
    assert summary_counts(again)["files written"] == 0
    assert summary_counts(again)["unchanged"] == 33
    assert snapshot(out) == before

    manifest = state(seeds, out) / MANIFEST_NAME
    recorded = manifest.read_bytes()
    manifest.unlink()  # every file is rendered and compared
    third = build(seeds, out)
    assert summary_counts(third)["files written"] == 0
    assert manifest.read_bytes() == recorded  # recreated with the same bytes
    assert snapshot(out) == before


def test_the_same_seeds_and_ledger_give_the_same_tree_whatever_the_clock_and_file_order(seeds, tmp_path):
    out_a, out_b = tmp_path / "a", tmp_path / "b"
    assert build(seeds, out_a).exit_code == 0
    # A second copy: pages written in the other order, a later clock, and
    # a stale file of the first build's ledger lock lying around.
    other = tmp_path / "other-seeds"
    other.mkdir()
    for page in sorted(seeds.iterdir(), reverse=True):
        if page.is_file() and not page.name.endswith(".lock"):
            shutil.copyfile(page, other / page.name)
    result = build(other, out_b, SOURCE_DATE_EPOCH=str(LATER_EPOCH))
    assert result.exit_code == 0
    tree_a, tree_b = snapshot(out_a), snapshot(out_b)
    assert {name: data for name, (data, _) in tree_a.items()} == {name: data for name, (data, _) in tree_b.items()}


def test_a_new_page_rewrites_only_the_files_it_changes(seeds, tmp_path):
    out = tmp_path / "out"
    build(seeds, out)
    backdate(out)
    before = snapshot(out)
    write_page(seeds, "010_new.txt", new_cards("Fresh", 3))
    result = build(seeds, out)
    counts = summary_counts(result)
    assert (counts["new"], counts["articles"]) == (3, 21)
    after = snapshot(out)
    rewritten = {name for name in after if name in before and after[name] != before[name]}
    added = set(after) - set(before)
    assert len([name for name in added if name.startswith("articles/")]) == 3
    assert "feeds/all.atom" in rewritten and "index.html" in rewritten
    # Customs gained nothing: its feeds and page keep their bytes and mtime.
    for name in ("feeds/category/customs.atom", "feeds/category/customs.rss", "categories/customs/index.html", "style.css"):
        assert after[name] == before[name]
    assert counts["files written"] == len(added) + len(rewritten)
    assert check_tree(out).problems == []


def test_a_page_edited_in_place_with_its_mtime_put_back_is_still_seen(seeds, tmp_path):
    out = tmp_path / "out"
    build(seeds, out)
    page = sorted(seeds.glob("*.txt"))[0]
    stat = page.stat()
    text = page.read_text(encoding="utf-8")
    assert " the " in text
    page.write_text(text.replace(" the ", " THE ", 1), encoding="utf-8")  # same size
    os.utime(page, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    # Make every recorded stat old enough to be trusted.
    future = time.time_ns() + 3600 * 10**9
    os.utime(state(seeds, out) / STAMPS_NAME, ns=(future, future))
    result = build(seeds, out, SOURCE_DATE_EPOCH=str(LATER_EPOCH))
    assert result.exit_code == 0
    assert summary_counts(result)["changed"] == 1


# Stale files


def test_files_the_site_stops_publishing_are_removed_and_foreign_files_kept(seeds, tmp_path):
    out = tmp_path / "out"
    env = {"FEEDSVC_FEED_SIZE": "4", "FEEDSVC_ARCHIVE_SIZE": "3"}
    assert build(seeds, out, **env).exit_code == 0
    foreign = {"CNAME": b"feeds.example.org\n", ".nojekyll": b"", "feeds/README.txt": b"mine\n", "articles/.keep": b""}
    for name, data in foreign.items():
        (out / name).write_bytes(data)
    config = load_config(seeds, environ={})
    customs = [a for a in ingest(config, NOW, write=False).articles(config.site_key) if a.category == "Customs"]
    assert customs
    for article in customs:
        assert run("takedown", "--seeds", str(seeds), article.id).exit_code == 0

    result = build(seeds, out, **env)
    assert result.exit_code == 0, result.output
    for article in customs:
        assert not (out / "articles" / article.id).exists()  # the file and its folder
    assert summary_counts(result)["removed"] >= len(customs)
    for name, data in foreign.items():
        assert (out / name).read_bytes() == data
    # The emptied category keeps a valid feed with no entries.
    emptied = feedparser.parse((out / "feeds/category/customs.atom").read_bytes())
    assert not emptied.bozo and emptied.entries == []
    assert json.loads((out / "feeds/category/customs.json").read_bytes())["items"] == []
    assert check_tree(out).problems == []


def test_a_killed_builds_temporary_files_are_removed_by_the_next_build(seeds, tmp_path):
    out = tmp_path / "out"
    build(seeds, out)
    article = next((out / "articles").iterdir())
    books = state(seeds, out)
    leftovers = [article / ".index.html.a1b2c3d4.tmp", books / f".{MANIFEST_NAME}.0f9e8d7c.tmp"]
    for path in leftovers:
        path.write_bytes(b"half a fi")
    users = article / ".notes.tmp"
    users.write_bytes(b"not feedsvc's")
    (books / PENDING_NAME).write_text(json.dumps([f"articles/{article.name}/index.html"]))
    (article / "index.html").write_bytes(b"<p>half")  # a file the killed build was replacing

    result = build(seeds, out)
    assert result.exit_code == 0
    assert not any(path.exists() for path in leftovers)
    assert users.exists() and not (books / PENDING_NAME).exists()
    assert summary_counts(result)["files written"] == 1
    assert (out / "articles" / article.name / "index.html").read_bytes().startswith(b"<!DOCTYPE html>")


def test_a_journal_cut_short_by_a_kill_still_names_the_files_listed_before_the_cut(seeds, tmp_path):
    out = tmp_path / "out"
    build(seeds, out)
    first, second = sorted((out / "articles").iterdir())[:2]
    listed, torn = (json.dumps(f"articles/{page.name}/index.html") for page in (first, second))
    (state(seeds, out) / PENDING_NAME).write_text(listed + "\n" + torn[:12])  # killed while listing the second
    (first / "index.html").write_bytes(b"<p>half")

    result = build(seeds, out)
    assert result.exit_code == 0, result.stderr
    assert summary_counts(result)["files written"] == 1
    assert (first / "index.html").read_bytes().startswith(b"<!DOCTYPE html>")
    assert not (state(seeds, out) / PENDING_NAME).exists()
    assert check_tree(out).problems == []


# --check and --diff


def test_check_mode_exits_0_when_up_to_date_and_1_listing_files_when_not_writing_nothing(seeds, tmp_path):
    out = tmp_path / "out"
    missing = build(seeds, out, "--check")
    assert missing.exit_code == 1
    assert f"added: {out / 'feeds/all.atom'}" in missing.stdout
    assert not out.exists()
    assert not (seeds / "ledger.jsonl").exists()

    build(seeds, out)
    assert build(seeds, out, "--check").exit_code == 0
    (state(seeds, out) / MANIFEST_NAME).unlink()
    assert build(seeds, out, "--check").exit_code == 0  # compared file by file
    build(seeds, out)

    write_page(seeds, "010_new.txt", new_cards("Checked", 2, "Customs"))
    (out / "CNAME").write_text("feeds.example.org\n")
    seeds_before, tree_before = snapshot(seeds), snapshot(out)
    result = build(seeds, out, "--check", SOURCE_DATE_EPOCH=str(LATER_EPOCH))
    assert result.exit_code == 1
    listed = result.stdout.splitlines()
    assert f"changed: {out / 'feeds/all.atom'}" in listed
    assert f"changed: {out / 'feeds/category/customs.json'}" in listed
    assert sum(line.startswith("added: ") and "/articles/" in line for line in listed) == 2
    assert not any("CNAME" in line for line in listed)
    assert summary_counts(result)["files to write"] == len(listed)
    assert snapshot(seeds) == seeds_before  # no ledger, no lock file
    assert snapshot(out) == tree_before


def test_diff_lists_the_articles_a_build_would_add_and_change(seeds, tmp_path):
    out = tmp_path / "out"
    build(seeds, out)
    config = load_config(seeds, environ={})
    edited = ingest(config, NOW, write=False).articles(config.site_key)[0]
    write_page(seeds, "010_new.txt", [card(edited.title, "A rewritten summary of the story."), *new_cards("Diffed", 2)])
    ledger_before = (seeds / "ledger.jsonl").read_bytes()

    result = run("build", "--seeds", str(seeds), "--diff", SOURCE_DATE_EPOCH=str(LATER_EPOCH))
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert [line[:2] for line in lines] == ["+ ", "+ ", "~ "]
    assert lines[0].endswith("  Diffed headline number 1") and lines[1].endswith("  Diffed headline number 0")
    assert lines[2].startswith(f"~ {edited.id}  ")
    assert "2 to add, 1 to change, 0 to withdraw" in result.stderr
    assert (seeds / "ledger.jsonl").read_bytes() == ledger_before


# The publish guard


def test_the_guard_refuses_a_flood_of_new_articles_but_not_a_first_build(seeds, tmp_path):
    out = tmp_path / "out"
    guard = {"FEEDSVC_MAX_NEW_ARTICLES": "5"}
    first = build(seeds, out, **guard)
    assert first.exit_code == 0  # 18 new articles, but the ledger was empty
    write_page(seeds, "010_flood.txt", new_cards("Flood", 6))
    ledger_before, tree_before = (seeds / "ledger.jsonl").read_bytes(), snapshot(out)

    refused = build(seeds, out, **guard)
    assert refused.exit_code == 1
    assert "6 new articles, more than max_new_articles = 5" in refused.stderr
    assert "--force" in refused.stderr
    assert (seeds / "ledger.jsonl").read_bytes() == ledger_before
    assert snapshot(out) == tree_before

    read_only = build(seeds, out, FEEDSVC_READ_ONLY="true", **guard)
    assert read_only.exit_code == 1 and "max_new_articles" in read_only.stderr
    assert snapshot(out) == tree_before

    forced = build(seeds, out, "--force", **guard)
    assert forced.exit_code == 0
    assert summary_counts(forced)["new"] == 6


def test_the_guard_refuses_new_pages_without_a_single_card(seeds, tmp_path):
    out = tmp_path / "out"
    build(seeds, out)
    (seeds / "010_redesign.txt").write_text("Read More\n\n07/01/2025 Logistics\nRead More\n", encoding="utf-8")
    ledger_before = (seeds / "ledger.jsonl").read_bytes()
    refused = build(seeds, out)
    assert refused.exit_code == 1
    assert "010_redesign.txt" in refused.stderr and "no article card" in refused.stderr
    assert (seeds / "ledger.jsonl").read_bytes() == ledger_before
    forced = build(seeds, out, "--force")
    assert forced.exit_code == 0
    assert summary_counts(forced)["skipped"] == 1
    # Published once: the next build has nothing new to judge, and still warns.
    again = build(seeds, out)
    assert again.exit_code == 0
    assert "warning:" in again.stderr and "010_redesign.txt" in again.stderr
    assert summary_counts(again)["skipped"] == 1


def test_commands_have_help_text():
    for command in ("build", "check"):
        result = run(command, "--help")
        assert result.exit_code == 0
        assert len(result.stdout.split("Options:")[0].split("\n")) > 4


# A build killed part-way


def corpus_page(number: int, cards: int = 50) -> str:
    categories = ("Logistics", "Customs", "Trade", "Ports", "Rail")
    return "\n".join(
        card(
            f"Corridor {number} bulletin {n}: {categories[n % 5]} update",
            f"Page {number}, story {n}. Operators reported steady volumes on the corridor.\n\nA second paragraph for story {n}.",
            dt.date(2024, 1 + (number + n) % 12, 1 + n % 28),
            categories[n % 5],
        )
        for n in range(cards)
    )


def write_corpus(seeds: Path, pages: range) -> None:
    for number in pages:
        (seeds / f"{number:04d}_corpus.txt").write_text(corpus_page(number), encoding="utf-8")


def start_build(seeds: Path, out: Path, **settings: str) -> subprocess.Popen:
    env = {name: value for name, value in os.environ.items() if not name.startswith("FEEDSVC_")}
    env.update(SOURCE_DATE_EPOCH=str(NOW_EPOCH), FEEDSVC_MAX_NEW_ARTICLES="100000", **settings)
    command = [sys.executable, "-m", "feedsvc.cli", "build", "--seeds", str(seeds), "--out", str(out)]
    return subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def count_articles(out: Path) -> int:
    try:
        return sum(1 for _ in os.scandir(out / "articles"))
    except FileNotFoundError:
        return 0


def changed_files(out: Path, old: dict[str, bytes]) -> int:
    """How many published files differ from the old tree's."""
    return sum(1 for name, data in published_files(out).items() if old.get(name) != data)


def assert_every_file_whole(out: Path, old: dict[str, bytes], new: dict[str, bytes]) -> None:
    """Each published file holds the old tree's bytes or the new tree's;
    nothing of the old tree is missing."""
    now = published_files(out)
    assert set(old) <= set(now)
    for name, data in now.items():
        assert data in (old.get(name), new.get(name)), f"{name} is neither the old nor the new file"


@pytest.mark.slow
@pytest.mark.parametrize("processes", ["1", "2"])
def test_a_build_killed_at_random_moments_leaves_a_whole_tree_and_the_next_one_finishes(tmp_path, rng, processes):
    seeds = copy_seeds(tmp_path / "seeds")
    write_corpus(seeds, range(1, 11))
    out = tmp_path / "out"
    assert start_build(seeds, out).wait() == 0
    old = published_files(out)
    write_corpus(seeds, range(11, 41))  # 1,500 new articles

    # The bytes the interrupted builds are heading for.
    reference_seeds = tmp_path / "reference-seeds"
    shutil.copytree(seeds, reference_seeds)
    reference = tmp_path / "reference"
    assert start_build(reference_seeds, reference).wait() == 0
    new = published_files(reference)
    assert check_tree(reference).problems == []

    # At a random point of the writing: any file may be mid-swap, so only
    # wholeness holds.
    writes = rng.randint(1, len(new))
    process = start_build(seeds, out, FEEDSVC_BUILD_PROCESSES=processes)
    pending = state(seeds, out) / PENDING_NAME
    kill_when(process, lambda: pending.exists() and changed_files(out, old) >= writes)
    assert_every_file_whole(out, old, new)
    # While article pages are being written: the tree also passes the check,
    # since no feed links to a page before the page is in place.
    for _ in range(2):
        present = count_articles(out)
        remaining = len([name for name in new if name.startswith("articles/")]) - present
        target = present + rng.randint(1, max(1, remaining * 2 // 3))
        process = start_build(seeds, out, FEEDSVC_BUILD_PROCESSES=processes)
        killed = kill_when(process, lambda: count_articles(out) >= target)
        assert_every_file_whole(out, old, new)
        if killed:
            problems = check_tree(out).problems
            assert problems == [], problems[:5]

    process = start_build(seeds, out, FEEDSVC_BUILD_PROCESSES=processes)
    assert process.wait() == 0, process.stderr.read().decode()
    assert published_files(out) == new
    assert not list(out.rglob("*.tmp")) and not pending.exists()
    assert check_tree(out).problems == []


# Progress


@pytest.mark.slow
def test_a_long_build_on_a_terminal_shows_a_progress_bar_and_ends_with_one_summary(tmp_path):
    pty = pytest.importorskip("pty")
    seeds = copy_seeds(tmp_path / "seeds")
    # Large enough to run past the bar's one-second delay on a fast machine.
    write_corpus(seeds, range(1, 121))
    env = {name: value for name, value in os.environ.items() if not name.startswith("FEEDSVC_")}
    env.update(SOURCE_DATE_EPOCH=str(NOW_EPOCH), COLUMNS="100", TERM="xterm")
    leader, follower = pty.openpty()
    command = [sys.executable, "-m", "feedsvc.cli", "build", "--seeds", str(seeds), "--out", str(tmp_path / "out")]
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=follower)
    os.close(follower)
    seen = b""
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:
            break
        if not chunk:
            break
        seen += chunk
    assert process.wait() == 0
    text = seen.decode("utf-8", "replace")
    assert "building" in text or "writing files" in text
    assert text.count("feedsvc build:") == 1
    assert re.search(r"feedsvc build: 122 pages read, 0 skipped; 6018 articles, 6018 new, 0 changed; \d+ files written", text)


# Static servers answer with the app's bytes


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_for_port(port: int, process: subprocess.Popen) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        assert process.poll() is None, "the server exited"
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise AssertionError(f"nothing listens on 127.0.0.1:{port}")


def fetch(port: int, path: str) -> tuple[int, str, bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        return response.status, response.getheader("Content-Type", ""), response.read()
    finally:
        connection.close()


@pytest.fixture
def exported(seeds, tmp_path, monkeypatch):
    """The sample site exported, and the app serving the same seeds."""
    monkeypatch.setenv("SOURCE_DATE_EPOCH", str(NOW_EPOCH))
    out = tmp_path / "out"
    assert build(seeds, out, "--base-url", "http://127.0.0.1:8000/").exit_code == 0
    config = load_config(seeds, environ={}, base_url="http://127.0.0.1:8000/")
    from feedsvc.serve.app import create_app

    client = create_app(config, poll_seconds=0, settle_seconds=0).test_client()
    site = Site.from_ingest(config, ingest(config, NOW, write=False))
    return out, client, [target.path for target in site.targets()]


def test_python_http_server_answers_every_url_with_the_apps_bytes(exported):
    out, client, paths = exported
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1", "--directory", str(out)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for_port(port, server)
        for path in paths:
            status, _, body = fetch(port, path)
            assert status == 200, path
            assert body == client.get(path).data, path
    finally:
        server.kill()
        server.wait()


def nginx_server_block() -> str:
    """The server block published in docs/publishing.md."""
    text = (REPO / "docs" / "publishing.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```nginx\n(.*?)```", text, re.S)
    assert len(blocks) == 1, "docs/publishing.md should hold exactly one nginx block"
    return blocks[0]


@pytest.mark.skipif(shutil.which("nginx") is None and not Path("/usr/sbin/nginx").exists(), reason="nginx is not installed")
def test_nginx_with_the_documented_config_serves_the_apps_bytes_and_content_types(exported, tmp_path):
    out, client, paths = exported
    port = free_port()
    block = nginx_server_block()
    block = re.sub(r"listen [^;]+;", f"listen 127.0.0.1:{port};", block)
    block = re.sub(r"root [^;]+;", f"root {out};", block)
    prefix = tmp_path / "nginx"
    (prefix / "logs").mkdir(parents=True)
    config = prefix / "nginx.conf"
    config.write_text(
        f"worker_processes 1;\ndaemon off;\npid {prefix}/nginx.pid;\nerror_log {prefix}/logs/error.log;\n"
        "events { worker_connections 64; }\n"
        f"http {{\n access_log off;\n client_body_temp_path {prefix}/body;\n proxy_temp_path {prefix}/proxy;\n"
        f" fastcgi_temp_path {prefix}/fastcgi;\n uwsgi_temp_path {prefix}/uwsgi;\n scgi_temp_path {prefix}/scgi;\n"
        f"{block}\n}}\n"
    )
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    if os.geteuid() == 0:  # workers would run as nobody, who cannot read pytest's folders
        config.write_text("user root;\n" + config.read_text())
    server = subprocess.Popen([nginx, "-p", str(prefix), "-c", str(config)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        wait_for_port(port, server)
        for path in paths:
            status, content_type, body = fetch(port, path)
            answer = client.get(path)
            assert status == 200, path
            assert body == answer.data, path
            assert content_type.replace(" ", "").lower() == answer.content_type.replace(" ", "").lower(), path
        status, _, _ = fetch(port, "/" + MANIFEST_NAME)
        assert status == 404  # bookkeeping is not published
    finally:
        server.kill()
        server.wait()


# An empty site


def test_a_build_with_no_article_at_all_is_refused_unless_allowed(tmp_path):
    seeds, out = tmp_path / "seeds", tmp_path / "out"
    seeds.mkdir()
    (seeds / "saved-as.pdf").write_text("%PDF-1.4 A page saved in the wrong format")
    refused = CliRunner().invoke(main, ["build", "--seeds", str(seeds), "--out", str(out)], env={"SOURCE_DATE_EPOCH": str(NOW_EPOCH)})
    assert refused.exit_code == 1
    assert str(seeds) in refused.output and "*.txt" in refused.output and "--allow-empty" in refused.output
    assert not (out / "index.html").exists()
    allowed = CliRunner().invoke(main, ["build", "--seeds", str(seeds), "--out", str(out), "--allow-empty"], env={"SOURCE_DATE_EPOCH": str(NOW_EPOCH)})
    assert allowed.exit_code == 0, allowed.output
    assert (out / "index.html").is_file()


def test_a_folder_cleared_of_its_pages_still_publishes_its_history(seeds, tmp_path):
    out = tmp_path / "out"
    environ = {"SOURCE_DATE_EPOCH": str(NOW_EPOCH)}
    assert CliRunner().invoke(main, ["build", "--seeds", str(seeds), "--out", str(out)], env=environ).exit_code == 0
    before = published_files(out)
    for page in seeds.glob("*.txt"):
        page.unlink()
    again = CliRunner().invoke(main, ["build", "--seeds", str(seeds), "--out", str(out)], env=environ)
    assert again.exit_code == 0, again.output
    assert published_files(out) == before


def test_a_build_says_which_setting_differs_from_the_last_build(seeds, tmp_path):
    out = tmp_path / "out"
    environ = {"SOURCE_DATE_EPOCH": str(NOW_EPOCH)}
    first = CliRunner().invoke(main, ["build", "--seeds", str(seeds), "--out", str(out), "--base-url", "https://example.org/news/"], env=environ)
    assert first.exit_code == 0, first.output
    checked = CliRunner().invoke(main, ["build", "--seeds", str(seeds), "--out", str(out), "--check"], env=environ)
    assert checked.exit_code == 1
    assert "base_url" in checked.stderr and "https://example.org/news/" in checked.stderr and "--base-url" in checked.stderr
    rebuilt = CliRunner().invoke(main, ["build", "--seeds", str(seeds), "--out", str(out)], env=environ)
    assert rebuilt.exit_code == 0 and "but was 'https://example.org/news/'" in rebuilt.stderr
    again = CliRunner().invoke(main, ["build", "--seeds", str(seeds), "--out", str(out)], env=environ)
    assert "note: base_url" not in again.stderr


def test_an_exported_tree_works_from_the_file_system(tmp_path):
    # Opened as file:///.../index.html, every page finds its stylesheet,
    # its script and every page it links to, whatever base URL it was built for.
    out = build_golden(tmp_path)
    pages = sorted(out.rglob("*.html"))
    assert pages
    for page in pages:
        tree = lxml.html.document_fromstring(page.read_text(encoding="utf-8"))
        for link in tree.xpath("//a/@href | //link[@rel='stylesheet']/@href | //script/@src"):
            if "://" in link:
                continue
            target = (page.parent / link).resolve()
            assert target.is_file() and target.is_relative_to(out.resolve()), f"{page.relative_to(out)}: {link}"


@pytest.mark.parametrize("read_only", ["false", "true"])  # the site read from the store, or held in memory
def test_each_feed_s_archives_are_written_newest_first_after_every_article_page(seeds, tmp_path, monkeypatch, read_only):
    # A reader who finds an archive can follow its next-archive link: the
    # newer archive is in place already, as are the article pages.
    write_page(seeds, "010_rail.txt", new_cards("Rail", 30, "Rail Freight"))
    write_page(seeds, "011_ports.txt", new_cards("Ports", 30, "Maritime"))
    renamed: list[str] = []
    commit = Folder.commit
    monkeypatch.setattr(Folder, "commit", lambda folder, temporary, name: (renamed.append(name), commit(folder, temporary, name))[1])
    out = tmp_path / "out"
    assert build(seeds, out, FEEDSVC_FEED_SIZE="5", FEEDSVC_ARCHIVE_SIZE="4", FEEDSVC_READ_ONLY=read_only).exit_code == 0
    archive = re.compile(r"(feeds/.+/archive/)(\d+)(\.\w+)$")
    archives = [(position, archive.match(name)) for position, name in enumerate(renamed) if archive.match(name)]
    assert len({match.group(1) for _, match in archives}) >= 3  # the whole site's and two categories' at least
    place = {name: position for position, name in enumerate(renamed)}
    last_page = max(position for position, name in enumerate(renamed) if name.startswith("articles/"))
    for position, match in archives:
        assert position > last_page, match.group(0)
        newer = f"{match.group(1)}{int(match.group(2)) + 1}{match.group(3)}"
        if (out / newer).exists():
            assert place[newer] < position, f"{match.group(0)} was written before {newer}"


def test_a_site_that_never_had_an_article_is_dated_by_its_first_run_not_1970(tmp_path):
    seeds, out = tmp_path / "seeds", tmp_path / "out"
    seeds.mkdir()
    first = CliRunner().invoke(main, ["build", "--seeds", str(seeds), "--out", str(out), "--allow-empty"], env={"SOURCE_DATE_EPOCH": str(NOW_EPOCH)})
    assert first.exit_code == 0, first.output
    feed = feedparser.parse((out / "feeds" / "all.atom").read_bytes())
    assert feed.feed.updated == "2025-10-09T08:53:20+00:00"
    later = CliRunner().invoke(main, ["build", "--seeds", str(seeds), "--out", str(out), "--allow-empty"], env={"SOURCE_DATE_EPOCH": str(NOW_EPOCH + 86400)})
    assert later.exit_code == 0
    assert feedparser.parse((out / "feeds" / "all.atom").read_bytes()).feed.updated == "2025-10-09T08:53:20+00:00"


def test_the_output_folder_holds_only_the_site_and_repeats_byte_for_byte(seeds, tmp_path):
    first, second = tmp_path / "first", tmp_path / "second"
    (first / ".feedsvc-manifest.json").parent.mkdir()
    (first / ".feedsvc-manifest.json").write_text("left by an earlier release")
    assert build(seeds, first).exit_code == 0
    assert build(seeds, second).exit_code == 0
    everything = {path.relative_to(first).as_posix(): path.read_bytes() for path in first.rglob("*") if path.is_file()}
    assert not [name for name in everything if name.rsplit("/", 1)[-1].startswith(".")], "bookkeeping in the published folder"
    assert everything == {path.relative_to(second).as_posix(): path.read_bytes() for path in second.rglob("*") if path.is_file()}
    published = b"".join(everything.values())
    assert str(tmp_path).encode() not in published  # no path of the build machine
    assert (state(seeds, first) / MANIFEST_NAME).is_file()


def test_a_build_without_its_bookkeeping_still_writes_the_right_tree(seeds, tmp_path):
    out = tmp_path / "out"
    assert build(seeds, out).exit_code == 0
    before = snapshot(out)
    shutil.rmtree(seeds / ".feedsvc-build")  # CI that caches only the output folder
    again = build(seeds, out)
    assert again.exit_code == 0, again.output
    assert summary_counts(again)["files written"] == 0
    assert snapshot(out) == before


def test_diff_lists_what_operator_commands_changed_since_the_last_build(seeds, tmp_path):
    out = tmp_path / "out"
    environ = {"SOURCE_DATE_EPOCH": str(NOW_EPOCH)}
    assert build(seeds, out).exit_code == 0
    listed = json.loads(CliRunner().invoke(main, ["articles", "--json", "--seeds", str(seeds)], env=environ).stdout)
    victim = listed[1]
    taken = CliRunner().invoke(main, ["takedown", victim["id"], "--seeds", str(seeds)], env=environ)
    assert taken.exit_code == 0, taken.output
    write_page(seeds, "010_new.txt", new_cards("Diffed", 1, "Customs"))
    diff = CliRunner().invoke(main, ["build", "--diff", "--seeds", str(seeds), "--out", str(out)], env=environ)
    assert diff.exit_code == 0, diff.output
    lines = diff.stdout.splitlines()
    assert f"- {victim['id']}" in "\n".join(lines), lines
    assert [line for line in lines if line.startswith("+ ")] and "1 to add, 0 to change, 1 to withdraw" in diff.stderr
    assert build(seeds, out).exit_code == 0
    again = CliRunner().invoke(main, ["build", "--diff", "--seeds", str(seeds), "--out", str(out)], env=environ)
    assert "0 to add, 0 to change, 0 to withdraw" in again.stderr
