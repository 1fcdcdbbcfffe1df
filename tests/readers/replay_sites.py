"""The daily replay (replay.py) with several simulated sites served together
from one folder (`--sites`), and a topic feed on the first one.

Each site is scraped by its own simulated scraper into `sites/<name>/`,
ingested with `feedsvc articles --sites DIR`, and served by one
gunicorn (FEEDSVC_SITES) under `/<name>/`. Everything the single-site
replay checks is checked for every site: the ingest against the truth,
every feed the root's OPML lists (valid, the same entries in every format,
ETags and Last-Modified), the reader library and newsboat subscribed to
each site's overall feed, and the export of the whole folder. The topic
feed is followed too: it lists exactly the articles whose title or summary
mentions its words (an edited summary moves articles into it), under the
ids the overall feed gives them, and newsboat, subscribed to both, stores
each entry once.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from contextlib import closing
from dataclasses import replace
from pathlib import Path
from typing import Callable

import feedparser

from feedsvc.site.routes import file_for

from . import readerlib
from .harness import Newsboat, Server, atom_grammar, fetch, free_port, have, start_server, subscription_feeds
from .html_scraper import link_problems
from .replay import FEED_SIZE, FeedChecks, Outcome, Subscribers, as_seen, feedsvc, shown_titles
from .simulate import Day, Settings, Simulation, write_config
from .watch import Watch, check_dates

NAMES = ("desk", "wire", "post", "courier")
TOPIC_SLUG = "cargo"
TOPIC_WORDS = ("rail", "freight", "air cargo")
TOPIC_TABLE = f"""
[[topics]]
name = "Rail, freight and air cargo"
slug = "{TOPIC_SLUG}"
include = {json.dumps(list(TOPIC_WORDS))}
"""
# The topic's words as feedsvc matches them: whole words, any case, in the
# title or the summary.
TOPIC_MATCH = re.compile(r"\b(?:%s)\b" % "|".join(re.escape(word) for word in TOPIC_WORDS))


def ingest_sites(folder: Path, names: tuple[str, ...], day: Day) -> dict[str, list[dict]]:
    """`feedsvc articles --json --sites DIR` on the day's clock: every
    site's articles, each naming its site."""
    environ = {k: v for k, v in os.environ.items() if not k.startswith("FEEDSVC_")}
    environ["SOURCE_DATE_EPOCH"] = str(day.epoch)
    command = [sys.executable, "-m", "feedsvc.cli", "articles", "--json", "--sites", str(folder)]
    done = subprocess.run(command, env=environ, capture_output=True, text=True, timeout=300)
    if done.returncode != 0:
        raise AssertionError(f"day {day.number}: feedsvc articles --sites failed ({done.returncode}): {done.stderr}")
    listed: dict[str, list[dict]] = {name: [] for name in names}
    for article in json.loads(done.stdout):
        listed[article.pop("site")].append(article)
    return listed


def in_topic(article: dict) -> bool:
    return bool(TOPIC_MATCH.search(f"{article['title']}\n{article['summary']}".casefold()))


class TopicReaders:
    """The reader library subscribed to the topic feed (Atom and JSON Feed)
    and newsboat to the topic feed and the overall feed beside it."""

    def __init__(self, folder: Path, site_url: str, newsboat: bool) -> None:
        self.overall = site_url + "feeds/all.atom"
        self.urls = [f"{site_url}feeds/topic/{TOPIC_SLUG}.{fmt}" for fmt in ("atom", "json")]
        folder.mkdir(parents=True, exist_ok=True)
        self.database = folder / "reader.sqlite"
        with closing(readerlib.open_reader(self.database)) as reader:
            for url in self.urls:
                reader.add_feed(url)
        self.newsboat = Newsboat(folder / "newsboat", [self.overall, self.urls[0]]) if newsboat else None
        self.held_ever: set[str] = set()

    def problems(self, day: Day, articles: list[dict]) -> list[str]:
        where = f"day {day.number}: topic feed"
        expected = {article["iri"] for article in articles if in_topic(article)}
        every = {article["iri"] for article in articles}
        problems = []
        for url in self.urls:
            served = served_ids(url)
            if served != expected:
                problems.append(f"{where} {url}: serves {len(served)} entries, {len(served - expected)} unexpected, {len(expected - served)} missing")
        with closing(readerlib.open_reader(self.database)) as reader:
            results = readerlib.update(reader)
            problems += [f"{where}: reader could not update {url}: {error}" for url, error in readerlib.errors(results).items()]
            held = {url: [entry.id for entry in readerlib.entries(reader, url)] for url in self.urls}
        for url, ids in held.items():
            if len(ids) != len(set(ids)):
                problems.append(f"{where}: the reader stores an entry of {url} twice")
            # A reader keeps what a feed once listed; it must hold today's,
            # and nothing under an id the overall feed does not use.
            if not expected <= set(ids) or not set(ids) <= every:
                problems.append(f"{where}: the reader holds {len(set(ids) - every)} unknown ids, misses {len(expected - set(ids))} for {url}")
        if self.newsboat:
            self.newsboat.reload()
            problems += [f"{where}: newsboat stores {guid} {n} times" for guid, n in self.newsboat.guid_counts().items() if n > 1]
            problems += [f"{where}: newsboat could not read {url}" for url in self.newsboat.feed_errors()]
        self.held_ever |= expected
        return problems


def served_ids(url: str) -> set[str]:
    reply = fetch(url)
    if url.endswith(".json"):
        return {item["id"] for item in json.loads(reply.body)["items"]}
    return {entry.id for entry in feedparser.parse(reply.body).entries}


def export_problems(server: Server, day: Day, folder: Path, out: Path) -> list[str]:
    """The export of the whole folder builds, passes `feedsvc check`
    (with --sites), and holds the bytes the server sends for every feed
    the root's OPML lists, and for the root's own documents."""
    where = f"day {day.number}: export"
    built = feedsvc("build", "--sites", str(folder), "--out", str(out), "--base-url", server.url, day=day)
    if built.returncode != 0:
        return [f"{where}: feedsvc build --sites failed ({built.returncode}): {built.stderr.strip()}"]
    checked = feedsvc("check", str(out), "--sites", str(folder), "--base-url", server.url, day=day)
    if checked.returncode != 0:
        return [f"{where}: feedsvc check found problems: {checked.stdout.strip()} {checked.stderr.strip()}"]
    problems = []
    for url in [*subscription_feeds(server), server.absolute("/"), server.absolute("/feeds.opml")]:
        path = url[len(server.url) - 1 :]
        if (out / file_for(path)).read_bytes() != fetch(url).body:
            problems.append(f"{where}: {path} differs from what the server sends")
    return problems


def run_sites(
    settings: Settings, workdir: Path, newsboat: bool, build_every: int, say: Callable[[str], None], count: int, topic: bool
) -> Outcome:
    """`count` simulated sites (each scraped on its own seed), and the topic
    feed on the first one when `topic`; see replay.run_replay."""
    folder = workdir / "sites"
    names = NAMES[:count]
    simulations = {}
    for index, name in enumerate(names):
        seeds = folder / name
        write_config(seeds, f"feedsvc-simulated-{name}", f"Simulated {name.title()}", TOPIC_TABLE if topic and index == 0 else "")
        simulations[name] = Simulation(seeds, replace(settings, seed=settings.seed + 101 * index))
    port = free_port()
    base = f"http://127.0.0.1:{port}/"
    readers = newsboat and have("newsboat")
    for name in names:
        (workdir / "readers" / name).mkdir(parents=True, exist_ok=True)
    subscribers = {name: Subscribers(workdir / "readers" / name, f"{base}{name}/", readers) for name in names}
    topic_readers = TopicReaders(workdir / "readers" / "topic", f"{base}{names[0]}/", readers) if topic else None
    ingest_watches = {name: Watch(f"feedsvc articles, site {name}") for name in names}
    feeds = FeedChecks(atom_grammar())
    environ = {"FEEDSVC_SITES": str(folder), "FEEDSVC_READ_ONLY": "1", "FEEDSVC_FEED_SIZE": str(FEED_SIZE)}
    problems: list[str] = []
    for _ in range(settings.days):
        started = time.monotonic()
        days = {name: simulation.advance() for name, simulation in simulations.items()}
        day = days[names[0]]
        articles = ingest_sites(folder, names, day)
        found: list[str] = []
        for name in names:
            truth = simulations[name].truth
            found += [f"{name}: {p}" for p in ingest_watches[name].check(days[name], truth, [as_seen(a) for a in articles[name]])]
            found += [f"{name}: {p}" for p in check_dates(days[name], truth, articles[name])]
        server = start_server(folder / names[0], workdir / "logs", {**environ, "SOURCE_DATE_EPOCH": str(day.epoch)}, workers=1, port=port)
        try:
            found += feeds.problems(server, day, {f"/{name}/feeds/all": len(articles[name]) for name in names})
            for name in names:
                simulation = simulations[name]
                found += [f"{name}: {p}" for p in subscribers[name].update(days[name], simulation, shown_titles(articles[name], simulation))]
                if "html" in day.twists:
                    found += [f"{name}: {p}" for p in link_problems(days[name], simulation.truth, articles[name], subscribers[name].links())]
            if topic_readers is not None:
                found += topic_readers.problems(day, articles[names[0]])
            if day.number in (1, settings.days) or day.number % build_every == 0:
                found += export_problems(server, day, folder, workdir / "site")
        finally:
            server.stop()
        problems += found
        say(
            f"day {day.number:3d} {day.now:%Y-%m-%d} {day.style:<7} {','.join(day.twists) or '-':<14} "
            + " ".join(f"{name} {len(articles[name]):4d}" for name in names)
            + (f" topic {len([a for a in articles[names[0]] if in_topic(a)]):3d}" if topic else "")
            + f" problems {len(found)} ({time.monotonic() - started:.1f} s)"
        )
    return Outcome(problems, simulations[names[0]])
