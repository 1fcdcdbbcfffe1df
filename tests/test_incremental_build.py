"""A build into a folder it built before renders only the article pages
written since, and every document: whatever happened in between (new
pages, edits, takedowns, refiles, folds, a deleted cache, a compacted
history, files deleted by hand), the tree it leaves must be byte for byte
the one a build from nothing gives."""

from __future__ import annotations

import json
import random
import re
import shutil
from pathlib import Path

from regen_golden_tree import published_files
from test_export import build, run, state, summary_counts
from test_served_from_store import SETTINGS, card

from feedsvc.config import CACHE_FOLDER
from feedsvc.publish.manifest import MANIFEST_NAME

from conftest import NOW_EPOCH

DAY = 86400


class Site:
    """A seeds folder, one output folder built again and again, and a
    fresh output folder for every comparison."""

    def __init__(self, root: Path, rng: random.Random) -> None:
        self.root, self.rng = root, rng
        self.seeds = root / "seeds"
        self.seeds.mkdir()
        (self.seeds / "feedsvc.toml").write_text(SETTINGS, encoding="utf-8")
        self.kept = root / "kept"
        self.at = NOW_EPOCH
        self.cards = self.fresh_builds = 0

    def page(self, name: str) -> None:
        cards = []
        for _ in range(self.rng.randint(3, 9)):
            self.cards += 1
            cards.append(card(self.rng, self.cards))
        (self.seeds / name).write_text("".join(cards), encoding="utf-8")

    def feedsvc(self, *args: str) -> str:
        self.at += 60
        result = run(*args, "--seeds", str(self.seeds), SOURCE_DATE_EPOCH=str(self.at))
        assert result.exit_code == 0, result.output
        return result.stdout

    def ids(self) -> list[str]:
        return sorted(article["id"] for article in json.loads(self.feedsvc("articles", "--json")))

    def build_kept(self) -> dict[str, int]:
        self.at += DAY
        result = build(self.seeds, self.kept, SOURCE_DATE_EPOCH=str(self.at))
        assert result.exit_code == 0, result.output
        return summary_counts(result)

    def assert_as_from_nothing(self, step: str) -> None:
        """The kept folder, built again, equals a build from nothing (a new
        folder, without bookkeeping) of the same store at the same moment."""
        counts = self.build_kept()
        self.fresh_builds += 1
        fresh = self.root / f"fresh-{self.fresh_builds}"
        result = build(self.seeds, fresh, SOURCE_DATE_EPOCH=str(self.at))
        assert result.exit_code == 0, result.output
        kept, expected = published_files(self.kept), published_files(fresh)
        differing = sorted(name for name in set(kept) | set(expected) if kept.get(name) != expected.get(name))
        assert not differing, f"after {step}: {differing[:10]}"
        assert counts["files written"] < len(expected), f"after {step}: the build wrote every file"
        assert counts["files written"] + counts["unchanged"] == len(expected), f"after {step}: the build lost count of its files"
        # What the build recorded as published is what it published: a
        # look at the next build has nothing to list.
        diff = build(self.seeds, self.kept, "--diff", SOURCE_DATE_EPOCH=str(self.at))
        assert "0 to add, 0 to change, 0 to withdraw" in diff.stderr, f"after {step}: {diff.output}"
        shutil.rmtree(fresh)


def test_builds_that_render_only_what_changed_leave_the_tree_a_build_from_nothing_gives(tmp_path, rng):
    site = Site(tmp_path, rng)
    for number in range(1, 9):
        site.page(f"{number:03d}-page.txt")
    site.build_kept()

    site.page("009-page.txt")
    site.assert_as_from_nothing("a new page")

    edited = site.seeds / "002-page.txt"
    edited.write_text(edited.read_text(encoding="utf-8").replace(" port", " port and rail", 1), encoding="utf-8")
    site.assert_as_from_nothing("a page edited in place")

    # A link that appears changes the entry's bytes, not its `updated`.
    linked = site.seeds / "009-page.txt"
    text = linked.read_text(encoding="utf-8")
    trailer = re.search(r"\n10/\d\d/2025 \w+", text).end()
    linked.write_text(text[:trailer] + "\nhttps://news.example/linked" + text[trailer:], encoding="utf-8")
    site.assert_as_from_nothing("a link that appeared")

    ids = site.ids()
    chosen = rng.sample(ids, 5)
    site.feedsvc("takedown", chosen[0])
    site.assert_as_from_nothing("a takedown")
    site.feedsvc("edit", chosen[1], "--category", "Customs")
    site.feedsvc("edit", chosen[2], "--published", "2025-09-01")
    site.assert_as_from_nothing("a refile and a new date")
    site.feedsvc("alias", chosen[3], chosen[4])
    assert chosen[3] not in site.ids()
    site.assert_as_from_nothing("one article folded into another")

    # A file that goes missing makes the build look at every file: the
    # archives it would have left alone stay in its account too.
    (site.kept / "feeds" / "all.atom").unlink()
    site.page("010-page.txt")
    site.assert_as_from_nothing("a feed deleted by hand")
    site.page("011-page.txt")
    site.assert_as_from_nothing("a new page after a feed deleted by hand")

    shutil.rmtree(site.seeds / CACHE_FOLDER)
    site.page("012-page.txt")
    site.assert_as_from_nothing("a deleted cache")

    site.feedsvc("ledger", "compact")
    site.page("013-page.txt")
    site.assert_as_from_nothing("a compacted history")

    (site.seeds / "feedsvc.toml").write_text(SETTINGS.replace('include = ["port"]', 'include = ["crane"]'), encoding="utf-8")
    site.assert_as_from_nothing("a topic's settings changed")


def test_an_output_folder_emptied_behind_the_builds_back_is_written_whole_again(seeds, tmp_path):
    out = tmp_path / "out"
    assert build(seeds, out).exit_code == 0
    expected = published_files(out)
    shutil.rmtree(out)
    (seeds / "010_new.txt").write_text("A new story\n\nA new story\n\nAbout ports.\n", encoding="utf-8")
    again = build(seeds, out)
    assert again.exit_code == 0, again.output
    found = published_files(out)
    assert set(expected) <= set(found)


def test_a_damaged_manifest_is_reported_and_replaced(seeds, tmp_path):
    out = tmp_path / "out"
    assert build(seeds, out).exit_code == 0
    expected = published_files(out)
    (state(seeds, out) / MANIFEST_NAME).write_bytes(b"not a database at all" * 100)
    again = build(seeds, out, "--force")
    assert again.exit_code == 0, again.output
    assert "is unreadable; every file was compared instead" in again.stderr
    assert published_files(out) == expected
    third = build(seeds, out)
    assert "unreadable" not in third.stderr
