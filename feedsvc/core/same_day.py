"""Keep the page's order among new articles that share a date without a
time. Pure: no I/O, no clock."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace

from feedsvc.core.models import Record
from feedsvc.core.tables import Records

SECOND = dt.timedelta(seconds=1)


def space_same_day(created: list[tuple[Record, int]], recorded: Records, zone: dt.tzinfo) -> None:
    """New articles dated without a time keep the page's order among the
    articles of their date: top card newest, each one second apart."""
    by_date: dict[dt.date, list[int]] = {}
    for index, (record, _) in enumerate(created):
        if record.date_source == "page":
            day = record.published.astimezone(zone).date()
            if record.published == _midnight(day, zone):  # the page gave no time
                by_date.setdefault(day, []).append(index)
    if not by_date:
        return
    for day, indexes in by_date.items():
        latest = recorded.latest_published(_midnight(day, zone), _midnight(day + dt.timedelta(days=1), zone))
        start = latest + SECOND if latest is not None else _midnight(day, zone)
        # Bottom card (highest rank) first.
        for step, index in enumerate(sorted(indexes, key=lambda i: created[i][1], reverse=True)):
            record = created[index][0]
            moment = start + step * SECOND
            created[index] = (replace(record, published=moment, updated=moment), created[index][1])


def _midnight(date: dt.date, zone: dt.tzinfo) -> dt.datetime:
    return dt.datetime.combine(date, dt.time(0), tzinfo=zone).astimezone(dt.timezone.utc)
