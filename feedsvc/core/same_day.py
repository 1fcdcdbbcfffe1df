"""Keep the page's order among new articles that share a date without a
time. Pure: no I/O, no clock."""

from __future__ import annotations

import datetime as dt

from feedsvc.core.models import Record
from feedsvc.core.scratch import Scratch
from feedsvc.core.tables import Records

SECOND = dt.timedelta(seconds=1)


def untimed_day(record: Record, zone: dt.tzinfo) -> dt.date | None:
    """The date of a new record that its page dated without a time."""
    if record.date_source != "page":
        return None
    day = record.published.astimezone(zone).date()
    return day if record.published == _midnight(day, zone) else None


def space_same_day(created: Scratch, recorded: Records, zone: dt.tzinfo) -> None:
    """New articles dated without a time keep the page's order among the
    articles of their date: top card newest, each one second apart."""
    for day in created.untimed_days():
        latest = recorded.latest_published(_midnight(day, zone), _midnight(day + dt.timedelta(days=1), zone))
        start = latest + SECOND if latest is not None else _midnight(day, zone)
        # Bottom card (highest rank) first.
        created.publish_at((article, start + step * SECOND) for step, article in enumerate(created.untimed_on(day)))


def _midnight(date: dt.date, zone: dt.tzinfo) -> dt.datetime:
    return dt.datetime.combine(date, dt.time(0), tzinfo=zone).astimezone(dt.timezone.utc)
