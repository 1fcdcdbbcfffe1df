"""Replay days of a live news site as the page files a scraper leaves in a
seeds folder, and remember what really happened on the site, so that what
feed readers end up holding can be checked against the truth.

Every day new articles appear at the top of page 000 and push the rest down;
pages past the last one fall off the site. The front page shows no trailers,
so an article's date only shows once it moves to a later page. Titles get
re-cased, summaries and categories edited. The scraper misbehaves the way
real ones do: it saves the same page twice, saves unchanged articles under new
file names, overwrites `000_latest.txt` in place, writes Windows-1252 or CRLF,
pads lines with stray blanks, prunes its old files, and on one day saves
the pages as HTML instead of text.

The generator is deterministic for a given `Settings`. `replay` (in
`replay.py`) drives the server and the readers through it; run it longer than
the test suite does with `python -m tests.readers.simulate --days 90`.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import random
import re
import sys
from dataclasses import dataclass, field, replace
from pathlib import Path

from .html_scraper import render_html

UTC = dt.timezone.utc

# The site's own categories; the last one checks slugs of names with punctuation.
CATEGORIES = ("Customs", "Logistics", "Trade", "Supply Chain & Ports")

SUBJECTS = (
    "WCO", "EU Customs Union", "Rotterdam Port Authority", "Kenya Revenue Authority",
    "Côte d’Ivoire Customs", "São Paulo Freight Hub", "ASEAN Trade Ministers",
    "Mercosur Negotiators", "Hamburg Rail Operators", "Singapore Maritime Port",
    "Indian Customs", "Canada Border Services", "Mexican Freight Forwarders",
    "Zürich Air Cargo Hub", "African Union Trade Desk", "Gulf Logistics Council",
    "Baltic Shipping Lines", "Chilean Export Board", "Vietnam Express Couriers",
    "Australian Border Force",
)
VERBS = (
    "Launches", "Expands", "Pilots", "Tightens", "Simplifies", "Reviews",
    "Digitizes", "Suspends", "Upgrades", "Extends", "Streamlines", "Audits",
)
OBJECTS = (
    "Paperless Clearance", "Rail Freight Corridor", "Tariff Classification Rules",
    "Parcel Locker Network", "Risk Management Platform", "Green Shipping Lanes",
    "Authorized Operator Programme", "Cold Chain Inspections", "Transit Guarantee Scheme",
    "Single Window Portal", "E-commerce Returns Policy", "Container Scanning",
    "Cross-border Data Exchange", "Port Community System", "Origin Certificates",
)
TAILS = (
    "", "Amid Rising Costs", "for Small Exporters", "Ahead of Peak Season",
    "After Pilot Success", "to Cut Delays", "with Regional Partners", "Despite Industry Concerns",
)
GOALS = (
    "cut clearance times at the busiest crossings", "reduce paperwork for regular shippers",
    "bring inspections in line with regional partners", "give traders one place to file declarations",
    "lower the cost of moving goods inland", "close gaps that smugglers have exploited",
)
REACTIONS = (
    "Industry groups welcomed the plan but asked for a longer transition.",
    "Freight forwarders said the region’s smaller firms need training first.",
    "Exporters called the move overdue and urged faster roll-out.",
    "Unions warned that staffing at inland depots is already stretched.",
    "Analysts expect knock-on effects for rail and road operators.",
)
# The simulated site's keyword rules for cards without a trailer, first match
# wins; written into its feedsvc.toml and used to predict every category.
RULES = (
    ("Logistics", ("freight", "rail", "shipping", "locker", "port")),
    ("Customs", ("customs", "tariff", "border", "clearance")),
    ("Trade", ("trade", "export", "exporters", "e-commerce")),
)
DEFAULT_CATEGORY = "General"
WHENS = ("next quarter", "before the end of the year", "in two phases", "once partners sign off", "at the start of the season")
UPDATES = (
    "officials moved the start date and published a revised timetable",
    "the agency added a consultation for small and medium firms",
    "partners confirmed funding for the second phase",
    "the first results show shorter waiting times at the border",
    "the scope now also covers air cargo and express parcels",
)


@dataclass(frozen=True)
class Settings:
    """How long and how big a simulated run is."""

    days: int = 30
    per_day: int = 3  # new articles on an ordinary day
    per_page: int = 4  # cards per listing page
    pages: int = 11  # pages 000 to 010 stay on the site; the rest fall off
    seed: int = 6
    start: dt.date = dt.date(2025, 3, 3)
    hour: int = 7  # the scraper runs at this hour UTC every day

    def now(self, day: int) -> dt.datetime:
        """The moment of day `day`'s scrape (day 1 is `start`)."""
        date = self.start + dt.timedelta(days=day - 1)
        return dt.datetime.combine(date, dt.time(self.hour), tzinfo=UTC)


@dataclass(frozen=True)
class Story:
    """One article as the live site shows it today."""

    serial: int
    title: str
    summary: str  # paragraphs joined by a blank line, as feedsvc keeps them
    category: str
    date: dt.date  # the date the site prints in the card's trailer

    @property
    def paragraphs(self) -> list[str]:
        return self.summary.split("\n\n")


@dataclass(frozen=True)
class Edit:
    """A change the site made to an article it already showed."""

    serial: int
    kind: str  # "title", "summary" or "category"
    before: str
    after: str


@dataclass(frozen=True)
class Day:
    """What happened on one simulated day."""

    number: int
    now: dt.datetime
    style: str  # how the scraper named its files: "fresh", "latest" or "renamed"
    twists: tuple[str, ...]  # "twice", "cp1252", "crlf", "noise", "prune", "quiet"
    listing: tuple[tuple[int, ...], ...]  # serials on each page, page 000 first
    new: tuple[int, ...]  # serials scraped for the first time today, in listing order
    edits: tuple[Edit, ...]  # edits that change what feedsvc publishes
    unseen: tuple[Edit, ...]  # category edits feedsvc rightly ignores (see Simulation.record)
    written: tuple[str, ...]
    removed: tuple[str, ...]

    @property
    def epoch(self) -> int:
        return int(self.now.timestamp())


@dataclass
class Truth:
    """Everything the site has shown so far, as a reader should hold it."""

    stories: dict[int, Story] = field(default_factory=dict)  # latest version of every scraped article
    first_day: dict[int, int] = field(default_factory=dict)
    first_page: dict[int, int] = field(default_factory=dict)
    category: dict[int, str] = field(default_factory=dict)  # as feedsvc must publish it
    trailer: dict[int, str] = field(default_factory=dict)  # the category last shown in a trailer

    def by_title(self) -> dict[str, int]:
        """Which article a reader's entry belongs to, by its title: titles
        are unique up to case, and only their case is ever edited."""
        return {story.title.casefold(): serial for serial, story in self.stories.items()}


class Site:
    """The live site: a newest-first list of articles, a few pages of it visible."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.random = random.Random(settings.seed)
        self.keys: set[str] = set()
        self.serial = 0
        self.listed: list[Story] = []  # newest first; only the visible ones
        self.backlog()

    @property
    def capacity(self) -> int:
        return self.settings.pages * self.settings.per_page

    def backlog(self) -> None:
        """The site as the first scrape finds it: full pages of older articles."""
        stories = []
        for index in range(self.capacity):
            date = self.settings.start - dt.timedelta(days=1 + index // max(1, self.settings.per_day))
            stories.append(self.invent(date))
        self.listed = stories

    def invent(self, date: dt.date) -> Story:
        while True:
            parts = [self.random.choice(SUBJECTS), self.random.choice(VERBS), self.random.choice(OBJECTS), self.random.choice(TAILS)]
            title = " ".join(part for part in parts if part)
            key = re.sub(r"\W+", "", title.casefold())
            if key not in self.keys:
                self.keys.add(key)
                break
        self.serial += 1
        return Story(self.serial, title, self.summary_for(parts[0], parts[2]), self.random.choice(CATEGORIES), date)

    def summary_for(self, subject: str, thing: str) -> str:
        sentences = [
            f"{subject} announced that its {thing.lower()} will {self.random.choice(GOALS)}.",
            self.random.choice(REACTIONS),
            f"The measure is expected to take effect {self.random.choice(WHENS)}.",
        ]
        if self.random.random() < 0.25:
            return " ".join(sentences[:2]) + "\n\n" + sentences[2]
        return " ".join(sentences)

    def publish(self, count: int, date: dt.date) -> list[Story]:
        """Post `count` articles; the last one posted sits at the very top."""
        fresh = [self.invent(date) for _ in range(count)]
        self.listed = list(reversed(fresh)) + self.listed
        del self.listed[self.capacity :]
        return fresh

    def pages(self) -> list[list[Story]]:
        size = self.settings.per_page
        return [self.listed[start : start + size] for start in range(0, len(self.listed), size)]

    def edit(self, serial: int, kind: str, date: dt.date) -> Edit | None:
        index = next(i for i, story in enumerate(self.listed) if story.serial == serial)
        story = self.listed[index]
        if kind == "title":
            changed = replace(story, title=recase(story.title, self.random))
            before, after = story.title, changed.title
        elif kind == "summary":
            update = f"Update on {date:%d %B}: {self.random.choice(UPDATES)}."
            paragraphs = story.paragraphs
            paragraphs[-1] = re.sub(r" ?Update on .*$", "", paragraphs[-1]) + " " + update
            changed = replace(story, summary="\n\n".join(paragraphs))
            before, after = story.summary, changed.summary
        else:
            changed = replace(story, category=self.random.choice([c for c in CATEGORIES if c != story.category]))
            before, after = story.category, changed.category
        if before == after:
            return None
        self.listed[index] = changed
        return Edit(serial, kind, before, after)


def recase(title: str, rng: random.Random) -> str:
    """The same headline with one word's case changed, the way sites
    re-case `China-Russia` as `China-russia`: the identity stays."""
    words = title.split(" ")
    index = rng.randrange(1, len(words))
    word = words[index]
    if word == word.lower():
        words[index] = word[:1].upper() + word[1:]
    elif word[1:] != word[1:].lower():
        words[index] = word[:1] + word[1:].lower()
    else:
        words[index] = word.lower()
    return " ".join(words)


class Scraper:
    """Writes what the site shows into the seeds folder, one file per page,
    with the quirks real scrapers have."""

    def __init__(self, seeds: Path, rng: random.Random) -> None:
        self.seeds = seeds
        self.random = rng
        self.written_on: dict[str, int] = {}

    def save(self, day: int, date: dt.date, pages: list[list[Story]], style: str, twists: tuple[str, ...]) -> tuple[list[str], list[str]]:
        removed = self.prune(day) if "prune" in twists else []
        written = []
        for number, page in enumerate(pages):
            if "html" in twists:  # the scraper saves the pages as HTML today
                data = render_html(number, page, with_trailers=number > 0).encode("utf-8")
                name = file_name(number, data, style, date)[:-4] + ".html"
                written.append(self.write(name, data, day))
                continue
            text = self.render(number, page, noisy="noise" in twists)
            data = encode(text, cp1252="cp1252" in twists, crlf="crlf" in twists)
            name = file_name(number, data, style, date)
            written.append(self.write(name, data, day))
            if "twice" in twists and number % 2 == 0:
                # The same page saved again under a second name, this time
                # with a byte-order mark and CRLF: different bytes, same text.
                again = encode(text, crlf=True, bom=True)
                written.append(self.write(name[:-4] + " (1).txt", again, day))
        return written, removed

    def write(self, name: str, data: bytes, day: int) -> str:
        # Written beside the page and renamed over it, as careful scrapers
        # do, so a server polling the folder never reads half a page.
        temporary = self.seeds / f".{name}.part"
        temporary.write_bytes(data)
        temporary.replace(self.seeds / name)
        self.written_on[name] = day
        return name

    def prune(self, day: int) -> list[str]:
        """Delete page files older than three days, as a scraper that
        rotates its disk does. The articles in them must not be lost."""
        old = [name for name, written in self.written_on.items() if written < day - 3]
        for name in old:
            (self.seeds / name).unlink(missing_ok=True)
            del self.written_on[name]
        return sorted(old)

    def render(self, number: int, page: list[Story], noisy: bool) -> str:
        lines: list[str] = []
        for story in page:
            lines += [self.blur(story.title, noisy), ""]
            chance = self.random.random()
            if chance < 0.1:
                pass  # the repeat is missing
            elif chance < 0.2:
                lines += [story.title.lower(), ""]
            else:
                lines += [self.blur(story.title, noisy), ""]
            for paragraph in story.paragraphs:
                lines += [self.blur(paragraph, noisy), ""]
            if number > 0:
                lines.append(f"{story.date:%m/%d/%Y} {story.category}")
                if self.random.random() < 0.8:
                    lines.append("Read More")
        return "\n".join(lines) + "\n"

    def blur(self, line: str, noisy: bool) -> str:
        """Stray blanks and tabs that text cleanup must fold away."""
        if not noisy:
            return line
        words = line.split(" ")
        return "  ".join(words[:2]) + " \t" + " ".join(words[2:]) + "   "


def encode(text: str, cp1252: bool = False, crlf: bool = False, bom: bool = False) -> bytes:
    if crlf:
        text = text.replace("\n", "\r\n")
    data = text.encode("cp1252" if cp1252 else "utf-8")
    return (b"\xef\xbb\xbf" + data) if bom else data


def file_name(number: int, data: bytes, style: str, date: dt.date) -> str:
    if style == "latest":
        return f"{number:03d}_latest.txt"
    if style == "renamed":
        return f"{number:03d}_{date:%Y%m%d}.txt"
    return f"{number:03d}_{hashlib.sha256(data).hexdigest()[:16]}.txt"


# The day the scraper saves HTML instead of text: nothing may move.
HTML_DAY = 12


def plan(day: int) -> tuple[str, tuple[str, ...]]:
    """The scraper's style and quirks on `day`: fixed, so that every quirk
    happens at least once in any run of two weeks or more."""
    style = "latest" if day % 7 == 3 else "renamed" if day % 5 == 4 else "fresh"
    twists = [
        name
        for name, happens in (
            ("twice", day % 6 == 2),
            ("cp1252", day % 11 == 6),
            ("crlf", day % 8 == 5),
            ("noise", day % 9 == 7),
            ("prune", day % 10 == 0),
            ("quiet", day % 9 == 0),
            ("html", day == HTML_DAY),
        )
        if happens
    ]
    return style, tuple(twists)


def edit_plan(day: int) -> tuple[str, ...]:
    """Which kinds of edit the site makes on `day` (never on day 1)."""
    if day == 1:
        return ()
    kinds = []
    if day % 4 == 1:
        kinds.append("title")
    if day % 3 == 2:
        kinds.append("summary")
    if day % 8 == 5 or day % 9 == 0:
        # Also on quiet days, when the re-filing is the only change at all.
        kinds.append("category")
    return tuple(kinds)


class Simulation:
    """The site, its scraper and the truth, advanced one day at a time."""

    def __init__(self, seeds: Path, settings: Settings = Settings()) -> None:
        self.settings = settings
        self.seeds = seeds
        self.site = Site(settings)
        self.scraper = Scraper(seeds, random.Random(settings.seed + 1))
        self.truth = Truth()
        self.days: list[Day] = []

    def advance(self) -> Day:
        number = len(self.days) + 1
        now = self.settings.now(number)
        style, twists = plan(number)
        if number > 1 and "quiet" not in twists:
            self.site.publish(self.settings.per_day + (1 if number % 4 == 0 else 0), now.date())
        edits = self.make_edits(number, now.date())
        pages = self.site.pages()
        written, removed = self.scraper.save(number, now.date(), pages, style, twists)
        listing = tuple(tuple(story.serial for story in page) for page in pages)
        new, moved = self.record(number, pages)
        shown = tuple(e for e in edits if e.kind != "category" or e.serial in moved)
        unseen = tuple(e for e in edits if e not in shown)
        day = Day(number, now, style, twists, listing, tuple(new), shown, unseen, tuple(written), tuple(removed))
        self.days.append(day)
        return day

    def make_edits(self, number: int, date: dt.date) -> list[Edit]:
        """Edit articles readers already hold; a category edit only where
        the old category was shown in a trailer and the new one shows today."""
        edits = []
        held = [story.serial for story in self.site.listed if story.serial in self.truth.stories]
        for kind in edit_plan(number):
            candidates = held
            if kind == "category":
                on_later_pages = {story.serial for page in self.site.pages()[1:] for story in page}
                candidates = [s for s in held if s in self.truth.trailer and s in on_later_pages]
            candidates = [s for s in candidates if s not in {e.serial for e in edits}]
            if not candidates:
                continue
            edit = self.site.edit(self.site.random.choice(candidates), kind, date)
            if edit:
                edits.append(edit)
        return edits

    def record(self, number: int, pages: list[list[Story]]) -> tuple[list[int], set[int]]:
        """Note today's scrape in the truth; return the articles seen for the
        first time and those whose published category moved.

        The published category is settled at first sight: the trailer's, or
        on the front page (no trailers) the first keyword rule that matches.
        Later it follows a trailer only when that differs from the trailer
        shown before, so the site's first trailer never moves a category
        guessed from keywords, and an edit back to that guess changes nothing.
        """
        new, moved = [], set()
        for page_number, page in enumerate(pages):
            for story in page:
                serial = story.serial
                if serial not in self.truth.stories:
                    new.append(serial)
                    self.truth.first_day[serial] = number
                    self.truth.first_page[serial] = page_number
                    self.truth.category[serial] = story.category if page_number > 0 else categorize(story)
                self.truth.stories[serial] = story
                if page_number > 0:
                    shown_before = self.truth.trailer.get(serial)
                    if shown_before is not None and story.category != shown_before and story.category != self.truth.category[serial]:
                        self.truth.category[serial] = story.category
                        moved.add(serial)
                    self.truth.trailer[serial] = story.category
        return new, moved


def categorize(story: Story) -> str:
    """The category feedsvc must give a card without a trailer."""
    text = f"{story.title}\n{story.summary}".casefold()
    for category, keywords in RULES:
        if any(re.search(rf"\b{re.escape(word)}\b", text) for word in keywords):
            return category
    return DEFAULT_CATEGORY


def write_config(seeds: Path, site_key: str = "feedsvc-simulated-site", title: str = "Simulated Trade Desk", more: str = "") -> None:
    """The simulated site's feedsvc.toml: keyword rules for undated cards,
    and `more` (such as [[topics]] tables) at the end."""
    seeds.mkdir(parents=True, exist_ok=True)
    rules = "\n".join(f'[[categories]]\ncategory = "{name}"\nkeywords = {list(words)!r}\n'.replace("'", '"') for name, words in RULES)
    (seeds / "feedsvc.toml").write_text(
        f"""[site]
site_key = "{site_key}"
site_title = "{title}"
site_subtitle = "A month of a busy listing site"
author_name = "{title}"
default_category = "{DEFAULT_CATEGORY}"

{rules}
[html]
mode = "text"
{more}""",
        encoding="utf-8",
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.readers.simulate", description=__doc__.split("\n\n")[0])
    parser.add_argument("--days", type=int, default=Settings.days)
    parser.add_argument("--per-day", type=int, default=Settings.per_day, help="new articles on an ordinary day")
    parser.add_argument("--per-page", type=int, default=Settings.per_page, help="cards per listing page")
    parser.add_argument("--pages", type=int, default=Settings.pages, help="pages the site keeps (000 to N-1)")
    parser.add_argument("--seed", type=int, default=Settings.seed)
    parser.add_argument("--workdir", type=Path, help="keep the seeds, ledger, logs and reader databases here")
    parser.add_argument("--no-newsboat", action="store_true", help="drive only the reader library")
    parser.add_argument("--build-every", type=int, default=10, help="export and check the site every N days")
    parser.add_argument("--sites", type=int, default=1, help="simulate N sites served together from one folder (--sites)")
    parser.add_argument("--topic", action="store_true", help="give the first site a topic feed, followed by readers too")
    args = parser.parse_args(argv)
    settings = Settings(days=args.days, per_day=args.per_day, per_page=args.per_page, pages=args.pages, seed=args.seed)
    from .replay import run_replay

    problems = run_replay(
        settings, args.workdir, newsboat=not args.no_newsboat, build_every=args.build_every, say=print, sites=args.sites, topic=args.topic
    ).problems
    for problem in problems:
        print("PROBLEM:", problem, file=sys.stderr)
    print(f"{settings.days} days: {'OK' if not problems else f'{len(problems)} problem(s)'}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
