"""Replay a simulated run day by day through the whole stack and through
real readers, and list every way any of them departs from the truth.

Each day:
1. the simulated scraper writes the day's pages into the seeds folder;
2. `feedsvc articles --json` ingests them with SOURCE_DATE_EPOCH set to the
   day's scrape time, which updates the ledger; its output is checked
   against the truth, dates included;
3. gunicorn serves the seeds read-only (FEEDSVC_READ_ONLY=1, same clock),
   restarted on the same port, so every day's server is a fresh process;
4. every subscription feed is checked: valid (feedparser, RELAX NG, JSON
   Feed), the same entries in all three formats, yesterday's bytes under
   yesterday's ETag, a later Last-Modified whenever the bytes changed, and
   a 304 for either current validator;
5. the reader library (all three formats of the overall feed) and newsboat
   update, and what they hold is checked against the truth;
6. every few days, `feedsvc build` exports the site, `feedsvc check`
   validates the tree, and its feeds must match the served bytes.

Why read-only with the CLI ingesting: the clock a server reads is fixed when
it starts, and the ingest must see each day's clock exactly once. The server
still loads the ledger and the pages itself, so it publishes what the ingest
recorded, and nothing else.

The subscription feeds are made big enough (FEEDSVC_FEED_SIZE) to hold every
article, because neither reader follows RFC 5005 archive links.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
import tempfile
import time
from email.utils import parsedate_to_datetime
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import feedparser
from lxml import etree

from . import readerlib
from feedsvc.site.routes import file_for

from .harness import Newsboat, Server, atom_grammar, fetch, free_port, have, start_server, subscription_feeds
from .html_scraper import link_problems
from .simulate import Day, Settings, Simulation, write_config
from .watch import Seen, Watch, check_dates

FEED_SIZE = 100_000
OVERALL = ("/feeds/all.atom", "/feeds/all.rss", "/feeds/all.json")


def ingest_day(seeds: Path, day: Day) -> list[dict]:
    """`feedsvc articles --json` on the day's clock: ingests and lists."""
    environ = {k: v for k, v in os.environ.items() if not k.startswith("FEEDSVC_")}
    environ["SOURCE_DATE_EPOCH"] = str(day.epoch)
    command = [sys.executable, "-m", "feedsvc.cli", "articles", "--json", "--seeds", str(seeds)]
    done = subprocess.run(command, env=environ, capture_output=True, text=True, timeout=300)
    if done.returncode != 0:
        raise AssertionError(f"day {day.number}: feedsvc articles failed ({done.returncode}): {done.stderr}")
    return json.loads(done.stdout)


def feedsvc(*arguments: str, day: Day) -> subprocess.CompletedProcess:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("FEEDSVC_")}
    environ.update(SOURCE_DATE_EPOCH=str(day.epoch), FEEDSVC_READ_ONLY="1", FEEDSVC_FEED_SIZE=str(FEED_SIZE))
    return subprocess.run([sys.executable, "-m", "feedsvc.cli", *arguments], env=environ, capture_output=True, text=True, timeout=300)


def export_problems(server: Server, day: Day, out: Path) -> list[str]:
    """The static export of the same ledger: it builds, passes `feedsvc
    check`, and its feed files hold the bytes the server sends."""
    where = f"day {day.number}: export"
    built = feedsvc("build", "--seeds", str(server.seeds), "--out", str(out), "--base-url", server.url, day=day)
    if built.returncode != 0:
        return [f"{where}: feedsvc build failed ({built.returncode}): {built.stderr.strip()}"]
    checked = feedsvc("check", str(out), day=day)
    if checked.returncode != 0:
        return [f"{where}: feedsvc check found problems: {checked.stdout.strip()} {checked.stderr.strip()}"]
    problems = []
    for url in subscription_feeds(server):
        path = url[len(server.url) - 1 :]
        if (out / file_for(path)).read_bytes() != fetch(url).body:
            problems.append(f"{where}: {path} differs from what the server sends")
    return problems


def shown_titles(articles: list[dict], simulation: Simulation) -> dict[int, str]:
    """Each article's headline exactly as the feeds show it today."""
    titles = simulation.truth.by_title()
    return {titles[a["title"].casefold()]: a["title"] for a in articles if a["title"].casefold() in titles}


def as_seen(article: dict) -> Seen:
    return Seen(article["iri"], article["title"], article["summary"], stamp(article["published"]), stamp(article["updated"]), article["category"])


def stamp(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))


class FeedChecks:
    """The daily look at every subscription feed, remembering yesterday's."""

    def __init__(self, grammar) -> None:
        self.grammar = grammar
        self.last: dict[str, tuple[bytes, str, dt.datetime]] = {}  # path -> (body, ETag, Last-Modified)

    def problems(self, server: Server, day: Day, articles: int | dict[str, int]) -> list[str]:
        """Every feed is valid, lists the same entries in all three formats
        (the overall feeds: every article; with several sites, `articles`
        holds the count of each overall feed, by path without its
        extension), and its Last-Modified advances
        whenever its bytes change: clients built on libcurl's time condition,
        newsboat among them, drop a 200 whose Last-Modified is no newer than
        the one they sent."""
        problems: list[str] = []
        overall = {"/feeds/all": articles} if isinstance(articles, int) else articles
        ids_by_feed: dict[str, dict[str, set]] = {}
        for url in subscription_feeds(server):
            path = url[len(server.url) - 1 :]
            where = f"day {day.number}: {path}"
            reply = fetch(url)
            if reply.status != 200:
                problems.append(f"{where} answered {reply.status}")
                continue
            ids = self.entry_ids(reply, where, problems)
            if len(set(ids)) != len(ids):
                problems.append(f"{where}: an entry id appears twice")
            base, fmt = path.rsplit(".", 1)
            if base in overall and len(ids) != overall[base]:
                problems.append(f"{where}: {len(ids)} entries for {overall[base]} articles")
            ids_by_feed.setdefault(base, {})[fmt] = set(ids)
            problems += self.freshness(where, path, url, reply)
        for base, formats in ids_by_feed.items():
            if len({frozenset(ids) for ids in formats.values()}) != 1:
                problems.append(f"day {day.number}: {base} lists different entries in {sorted(formats)}")
        return problems

    def entry_ids(self, reply, where: str, problems: list[str]) -> list[str]:
        if reply.headers.get("Content-Type", "").startswith("application/feed+json"):
            return json_feed_ids(reply.body, where, problems)
        parsed = feedparser.parse(reply.body, response_headers={"content-type": reply.headers.get("Content-Type", "")})
        if parsed.bozo:
            problems.append(f"{where}: feedparser bozo: {parsed.get('bozo_exception')!r}")
        if parsed.version == "atom10" and self.grammar is not None and not self.grammar.validate(etree.fromstring(reply.body)):
            problems.append(f"{where}: not valid against the Atom grammar: {self.grammar.error_log.last_error}")
        return [entry.get("id") for entry in parsed.entries]

    def freshness(self, where: str, path: str, url: str, reply) -> list[str]:
        """Yesterday's bytes keep yesterday's ETag (today's server is a new
        process), changed bytes come with a later Last-Modified, and either
        validator gets a 304 now."""
        problems = []
        etag, stamp = reply.headers["ETag"], reply.headers["Last-Modified"]
        modified = parsedate_to_datetime(stamp)
        before = self.last.get(path)
        self.last[path] = (reply.body, etag, modified)
        if before and before[0] == reply.body and before[1] != etag:
            problems.append(f"{where}: the same bytes as yesterday under a new ETag {etag} (was {before[1]})")
        if before and before[0] != reply.body and modified <= before[2]:
            problems.append(f"{where}: the bytes changed but Last-Modified stayed at {stamp}")
        for header, value in (("If-None-Match", etag), ("If-Modified-Since", stamp)):
            status = fetch(url, {header: value}).status
            if status != 304:
                problems.append(f"{where}: {header} with the current value answered {status}")
        return problems


def json_feed_ids(body: bytes, where: str, problems: list[str]) -> list[str]:
    try:
        document = json.loads(body)
    except ValueError as error:
        problems.append(f"{where}: not JSON: {error}")
        return []
    if document.get("version") != "https://jsonfeed.org/version/1.1" or not document.get("title"):
        problems.append(f"{where}: lacks the JSON Feed 1.1 version or title")
    items = document.get("items", [])
    if not all(isinstance(item.get("id"), str) and (item.get("content_html") or item.get("content_text")) for item in items):
        problems.append(f"{where}: an item lacks its id or content")
    return [item.get("id") for item in items]


class Subscribers:
    """The reader library subscribed to the overall feed in all three
    formats, and newsboat to its Atom and RSS, each watched day by day."""

    def __init__(self, folder: Path, base_url: str, newsboat: bool) -> None:
        self.urls = [base_url.rstrip("/") + path for path in OVERALL]
        self.database = folder / "reader.sqlite"
        with closing(readerlib.open_reader(self.database)) as reader:
            for url in self.urls:
                reader.add_feed(url)
        # RSS has no updated date and the reader library keeps no
        # categories, so a category edit alone is invisible in RSS.
        self.watches = {url: Watch(f"reader {url.rsplit('/', 1)[1]}", sees_category=not url.endswith(".rss")) for url in self.urls}
        self.newsboat = Newsboat(folder / "newsboat", self.urls[:2]) if newsboat else None
        # newsboat keeps neither categories nor updated dates.
        self.newsboat_watch = Watch("newsboat", sees_category=False)

    def update(self, day: Day, simulation: Simulation, shown: dict[int, str]) -> list[str]:
        problems = []
        with closing(readerlib.open_reader(self.database)) as reader:
            results = readerlib.update(reader)
            problems += [f"day {day.number}: reader could not update {url}: {error}" for url, error in readerlib.errors(results).items()]
            held = {url: readerlib.entries(reader, url) for url in self.urls}
            # The reader library keeps a new ETag only when it stored a change,
            # so after a change it does not show (an RSS category) it refetches
            # with the old one; FeedChecks proves the server's 304s instead.
            again = readerlib.update(reader)
            problems += [f"day {day.number}: a second update of {url} found changes" for url, result in again.items() if not result.not_modified]
        for url in self.urls:
            problems += self.watches[url].check(day, simulation.truth, held[url], shown)
        ids = {url: sorted(entry.id for entry in held[url]) for url in self.urls}
        if len({tuple(v) for v in ids.values()}) != 1:
            problems.append(f"day {day.number}: the three formats hold different entries in the reader library")
        if self.newsboat:
            self.newsboat.reload()
            counts = self.newsboat.guid_counts()
            problems += [f"day {day.number}: newsboat stores {guid} {n} times" for guid, n in counts.items() if n > 1]
            problems += self.newsboat_watch.check(day, simulation.truth, self.newsboat.entries(), shown)
        return problems


    def links(self) -> dict[str, dict[str, str]]:
        """The link the reader library opens for each entry, by feed and title."""
        with closing(readerlib.open_reader(self.database)) as reader:
            return {url: {e.title or "": e.link or "" for e in reader.get_entries(feed=url)} for url in self.urls}


@dataclass(frozen=True)
class Outcome:
    problems: list[str]  # none: all well
    simulation: Simulation


def run_replay(
    settings: Settings,
    workdir: Path | None = None,
    newsboat: bool = True,
    build_every: int = 10,
    say: Callable[[str], None] = lambda _: None,
    sites: int = 1,
    topic: bool = False,
) -> Outcome:
    """Replay `settings.days` days and say how it went. The export is built
    and checked on day 1, every `build_every` days and on the last day.
    With `sites` above 1 or a `topic`, the sites are served together from
    one folder (`--sites`; see replay_sites)."""
    if workdir is None:
        with tempfile.TemporaryDirectory(prefix="feedsvc-replay-") as folder:
            return run_replay(settings, Path(folder), newsboat, build_every, say, sites, topic)
    if sites > 1 or topic:
        from .replay_sites import run_sites

        return run_sites(settings, workdir, newsboat, build_every, say, sites, topic)
    workdir.mkdir(parents=True, exist_ok=True)
    seeds = workdir / "seeds"
    write_config(seeds)
    simulation = Simulation(seeds, settings)
    feeds = FeedChecks(atom_grammar())
    port = free_port()
    subscribers = Subscribers(workdir, f"http://127.0.0.1:{port}/", newsboat and have("newsboat"))
    environ = {"FEEDSVC_READ_ONLY": "1", "FEEDSVC_FEED_SIZE": str(FEED_SIZE)}
    problems: list[str] = []
    ingest_watch = Watch("feedsvc articles")
    for _ in range(settings.days):
        started = time.monotonic()
        day = simulation.advance()
        articles = ingest_day(seeds, day)
        found = ingest_watch.check(day, simulation.truth, [as_seen(a) for a in articles])
        found += check_dates(day, simulation.truth, articles)
        # One worker: the replay is about what readers see over time; the
        # other reader tests serve with two.
        server = start_server(seeds, workdir / "logs", {**environ, "SOURCE_DATE_EPOCH": str(day.epoch)}, workers=1, port=port)
        try:
            found += feeds.problems(server, day, len(articles))
            found += subscribers.update(day, simulation, shown_titles(articles, simulation))
            if "html" in day.twists:
                found += link_problems(day, simulation.truth, articles, subscribers.links())
            if day.number in (1, settings.days) or day.number % build_every == 0:
                found += export_problems(server, day, workdir / "site")
        finally:
            server.stop()
        problems += found
        say(
            f"day {day.number:3d} {day.now:%Y-%m-%d} {day.style:<7} {','.join(day.twists) or '-':<14} "
            f"articles {len(articles):4d} new {len(day.new):2d} edits {len(day.edits)} "
            f"problems {len(found)} ({time.monotonic() - started:.1f} s)"
        )
    return Outcome(problems, simulation)
