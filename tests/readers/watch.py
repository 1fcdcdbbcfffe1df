"""Follow what one feed reader holds from day to day, and list every way it
departs from what the simulated site really showed."""

from __future__ import annotations

import datetime as dt
import html
import re
from collections import Counter
from dataclasses import dataclass

from .simulate import Day, Truth

_TAG = re.compile(r"<[^>]+>")


@dataclass(frozen=True)
class Seen:
    """One entry as a reader stores it."""

    id: str
    title: str
    summary: str
    published: dt.datetime | None
    updated: dt.datetime | None = None
    category: str | None = None


def plain(text: str) -> str:
    """Text as a person reads it: markup dropped, entities decoded and
    whitespace folded, so HTML, XHTML and plain-text summaries compare."""
    return " ".join(html.unescape(_TAG.sub(" ", text)).split())


class Watch:
    """One reader's history. `check` is called once a day, after the update.

    A headline the site only re-spells (case, spacing) keeps its identity;
    whether the feeds then show the new spelling is the publisher's choice.
    So a reader is held to the spelling the publisher shows that day
    (`shown`, from the ingest layer), and must take it up on the same day.
    """

    def __init__(self, name: str, sees_category: bool = True) -> None:
        self.name = name
        # A reader that keeps no category and no updated time cannot notice
        # an edit of the category alone.
        self.sees_category = sees_category
        self.ids: dict[int, str] = {}  # article -> entry id, fixed once seen
        self.published: dict[str, dt.datetime | None] = {}
        self.previous: dict[str, Seen] = {}
        self.shown: dict[int, str] = {}

    def check(self, day: Day, truth: Truth, entries: list[Seen], shown: dict[int, str] | None = None) -> list[str]:
        where = f"{self.name}, day {day.number}"
        problems: list[str] = []
        titles = truth.by_title()
        counts = Counter(entry.id for entry in entries)
        problems += [f"{where}: entry {entry_id} is stored {n} times" for entry_id, n in counts.items() if n > 1]
        by_serial: dict[int, list[Seen]] = {}
        for entry in entries:
            serial = titles.get(entry.title.casefold())
            if serial is None:
                problems.append(f"{where}: entry {entry.id} has a title the site never showed: {entry.title!r}")
                continue
            by_serial.setdefault(serial, []).append(entry)
        for serial, found in sorted(by_serial.items()):
            if len(found) > 1:
                problems.append(f"{where}: article {truth.stories[serial].title!r} appears {len(found)} times: {[e.id for e in found]}")
        missing = sorted(set(truth.stories) - set(by_serial))
        problems += [f"{where}: article {truth.stories[s].title!r} (first shown on day {truth.first_day[s]}) is missing" for s in missing]
        for serial, found in sorted(by_serial.items()):
            problems += self.check_entry(where, truth, serial, found[0], shown)
        respelt = {s for s, title in (shown or {}).items() if s in self.shown and self.shown[s] != title}
        problems += self.check_changes(where, day, titles, entries, respelt)
        self.previous = {entry.id: entry for entry in entries}
        self.shown = dict(shown or {})
        return problems

    def check_entry(self, where: str, truth: Truth, serial: int, entry: Seen, shown: dict[int, str] | None) -> list[str]:
        """Same id and published date as on the first day, and the site's
        current wording."""
        problems = []
        story = truth.stories[serial]
        known = self.ids.setdefault(serial, entry.id)
        if known != entry.id:
            problems.append(f"{where}: article {story.title!r} changed its id from {known} to {entry.id}")
        published = self.published.setdefault(entry.id, entry.published)
        if published != entry.published:
            problems.append(f"{where}: {entry.id} ({story.title!r}) published moved from {published} to {entry.published}")
        if shown is not None and entry.title != shown.get(serial):
            problems.append(f"{where}: {entry.id} has title {entry.title!r}, the feeds show {shown.get(serial)!r}")
        if entry.category is not None and entry.category != truth.category[serial]:
            problems.append(f"{where}: {entry.id} ({story.title!r}) is filed under {entry.category!r}, expected {truth.category[serial]!r}")
        if plain(entry.summary) != plain(story.summary):
            problems.append(f"{where}: {entry.id} ({story.title!r}) has summary {plain(entry.summary)!r}, the site shows {plain(story.summary)!r}")
        return problems

    def check_changes(self, where: str, day: Day, titles: dict[str, int], entries: list[Seen], respelt: set[int]) -> list[str]:
        """An entry changes only when the site edited it today, and always
        when that edit was of its summary or category, or the publisher
        showed its re-spelt headline."""
        allowed = {edit.serial for edit in day.edits}
        edited = {e.serial for e in day.edits if e.kind == "summary" or (e.kind == "category" and self.sees_category)} | respelt
        changed = set()
        for entry in entries:
            before = self.previous.get(entry.id)
            if before is not None and before != entry:
                changed.add(titles.get(entry.title.casefold()))
        problems = []
        for serial in sorted(changed - allowed, key=str):
            problems.append(f"{where}: entry of article {serial} changed without an edit on the site")
        held = {titles.get(e.title.casefold()) for e in entries if e.id in self.previous}
        for edit in day.edits:
            if edit.serial in edited - changed and edit.serial in held:
                problems.append(f"{where}: the {edit.kind} edit of article {edit.serial} ({edit.before!r} -> {edit.after!r}) did not reach the reader")
        return problems


def _recorded(article: dict) -> dt.datetime:
    return dt.datetime.fromisoformat(article["published"].replace("Z", "+00:00"))


def _same_day_times(day: Day, truth: Truth, articles: list[dict]) -> dict[int, dt.datetime]:
    """When each card first seen today with a trailer must be published."""
    titles = truth.by_title()
    order = [serial for page in day.listing for serial in page]
    fresh = {s for s in day.new if truth.first_page[s] > 0}
    earlier: dict[dt.date, dt.datetime] = {}
    for article in articles:
        serial = titles.get(article["title"].casefold())
        if serial is not None and serial not in fresh:
            published = _recorded(article)
            earlier[published.date()] = max(published, earlier.get(published.date(), published))
    expected = {}
    for date in {truth.stories[s].date for s in fresh}:
        cards = [s for s in order if s in fresh and truth.stories[s].date == date]
        start = earlier[date] + dt.timedelta(seconds=1) if date in earlier else dt.datetime.combine(date, dt.time(0), tzinfo=dt.timezone.utc)
        for step, serial in enumerate(reversed(cards)):
            expected[serial] = start + dt.timedelta(seconds=step)
    return expected


def check_dates(day: Day, truth: Truth, articles: list[dict]) -> list[str]:
    """The ingest layer's dates (`feedsvc articles --json`) against the rules:
    cards first seen together with a trailer of one date are published a
    second apart from 00:00 UTC of that date (or from a second after the
    latest time already recorded for it), the bottom card first; one first
    seen on the front page is published when first seen, a second apart in
    listing order; a trailer shown later is only recorded."""
    where = f"ingest, day {day.number}"
    problems = []
    titles = truth.by_title()
    fresh_undated = [s for s in day.new if truth.first_page[s] == 0]
    dated = _same_day_times(day, truth, articles)
    for article in articles:
        serial = titles.get(article["title"].casefold())
        if serial is None:
            continue  # Watch reports it
        story = truth.stories[serial]
        published = dt.datetime.fromisoformat(article["published"].replace("Z", "+00:00"))
        if truth.first_page[serial] > 0:
            expected = dated[serial] if serial in dated else _recorded(article)
            if (article["date_source"], published) != ("page", expected):
                problems.append(f"{where}: {story.title!r} first seen with a trailer: published {published} ({article['date_source']}), expected {expected}")
        elif truth.first_day[serial] == day.number:
            expected = day.now - dt.timedelta(seconds=fresh_undated.index(serial))
            if (article["date_source"], published) != ("first_seen", expected):
                problems.append(f"{where}: {story.title!r} first seen on the front page: published {published}, expected {expected}")
        revealed = story.date.isoformat() if truth.first_page[serial] == 0 and serial in truth.trailer else None
        if article["page_date"] != revealed:
            problems.append(f"{where}: {story.title!r} has page_date {article['page_date']}, expected {revealed}")
    return problems
