"""A folder of several sites for tests: each a copy of the sample pages
under a title and site_key of its own, and the ways a site's folder breaks."""

from __future__ import annotations

import shutil
from pathlib import Path

from conftest import copy_seeds

NAMES = ("harbour", "rail", "trade")
BASE_URL = "http://127.0.0.1:8000/"


def add_site(folder: Path, name: str, extra: str = "") -> Path:
    """Site `name`: the sample pages, titled and keyed after its name."""
    seeds = copy_seeds(folder / name)
    settings = seeds / "feedsvc.toml"
    text = settings.read_text(encoding="utf-8")
    text = text.replace('site_key = "customs-logistics-news-2025"', f'site_key = "{name}-site-key"')
    text = text.replace('site_title = "Customs & Logistics News"', f'site_title = "{name.title()} News"')
    settings.write_text(text + extra, encoding="utf-8")
    return seeds


def make_sites(folder: Path, names: tuple[str, ...] = NAMES, instance: str | None = None) -> Path:
    """A sites folder holding `names`, and the instance's settings when given."""
    folder.mkdir(parents=True, exist_ok=True)
    for name in names:
        add_site(folder, name)
    if instance is not None:
        (folder / "feedsvc.toml").write_text(instance, encoding="utf-8")
    return folder


# Each way a site's folder breaks, applied to its folder.


def bad_settings(seeds: Path) -> None:
    settings = seeds / "feedsvc.toml"
    settings.write_text(settings.read_text(encoding="utf-8") + "\nfeed_sise = 10\n", encoding="utf-8")


def invalid_topic(seeds: Path) -> None:
    settings = seeds / "feedsvc.toml"
    settings.write_text(settings.read_text(encoding="utf-8") + '\n[[topics]]\nname = "Ports"\n', encoding="utf-8")


def damaged_history(seeds: Path) -> None:
    (seeds / "ledger.jsonl").write_text("this is not a history\n", encoding="utf-8")


def unreadable_settings(seeds: Path) -> None:
    """feedsvc.toml that cannot be read as a file (file modes do not stop
    root, who runs some test machines)."""
    settings = seeds / "feedsvc.toml"
    settings.unlink()
    settings.mkdir()


BREAKAGES = {
    "bad settings": bad_settings,
    "invalid topic": invalid_topic,
    "damaged history": damaged_history,
    "unreadable settings": unreadable_settings,
}


def move_away(seeds: Path, to: Path) -> None:
    shutil.move(str(seeds), str(to))
