"""Read the date a listing page gives an article, written in any common way.
Pure: no clock. A date without a year takes the year that puts it on or
before the day the article was first seen, which the caller hands in."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from dateutil import parser as dateutil_parser

UTC = dt.timezone.utc
MAX_DATE_CHARS = 100
# Two defaults that differ in every field: a field that comes out the same
# under both was written on the page, one that differs was not.
_DEFAULT_A = dt.datetime(2000, 1, 1, 0, 0, 0)
_DEFAULT_B = dt.datetime(2004, 2, 2, 13, 17, 19)
_TIME_DIRECTIVES = ("%H", "%I", "%M", "%X", "%c")
_YEAR_DIRECTIVES = ("%Y", "%y", "%G", "%c", "%x")


@dataclass(frozen=True)
class Reading:
    """A page's date: the day in the site's time zone and, when the page
    gives a time, the instant (UTC)."""

    date: dt.date
    moment: dt.datetime | None = None


def read_date(
    text: str, first_seen: dt.date, zone: dt.tzinfo, dayfirst: bool = False, date_format: str | None = None
) -> Reading:
    """The date `text` gives, or ValueError saying why it cannot be read."""
    text = " ".join(text.split())
    if not text:
        raise ValueError("the date is empty")
    if len(text) > MAX_DATE_CHARS:
        raise ValueError(f"a {len(text)}-character date is too long to be one")
    if date_format:
        try:
            return _from_format(text, date_format, first_seen, zone)
        except ValueError:
            pass  # the general parser may still read it
    try:
        a = dateutil_parser.parse(text, default=_DEFAULT_A, dayfirst=dayfirst, fuzzy=False)
        b = dateutil_parser.parse(text, default=_DEFAULT_B, dayfirst=dayfirst, fuzzy=False)
    except (ValueError, OverflowError):
        raise ValueError(f"cannot read {text!r} as a date") from None
    if a.month != b.month or a.day != b.day:
        raise ValueError(f"{text!r} names no day")
    year = a.year if a.year == b.year else None
    has_time = a.hour == b.hour
    return _reading(year, a.month, a.day, a.time() if has_time else None, a.tzinfo, first_seen, zone)


def _from_format(text: str, date_format: str, first_seen: dt.date, zone: dt.tzinfo) -> Reading:
    parsed = dt.datetime.strptime(text, date_format)
    year = parsed.year if any(d in date_format for d in _YEAR_DIRECTIVES) else None
    has_time = any(d in date_format for d in _TIME_DIRECTIVES)
    return _reading(year, parsed.month, parsed.day, parsed.time() if has_time else None, parsed.tzinfo, first_seen, zone)


def _reading(
    year: int | None, month: int, day: int, time: dt.time | None, tzinfo: dt.tzinfo | None, first_seen: dt.date, zone: dt.tzinfo
) -> Reading:
    date = _date(year, month, day, first_seen)
    if time is None:
        return Reading(date)
    local = dt.datetime.combine(date, time, tzinfo=tzinfo or zone)
    moment = local.astimezone(UTC)
    return Reading(moment.astimezone(zone).date(), moment)


def _date(year: int | None, month: int, day: int, first_seen: dt.date) -> dt.date:
    if year is not None:
        return dt.date(year, month, day)
    # The latest year that puts the date on or before the first-seen day
    # (29 February looks back to the last leap year).
    for candidate in range(first_seen.year, first_seen.year - 8, -1):
        try:
            date = dt.date(candidate, month, day)
        except ValueError:
            continue
        if date <= first_seen:
            return date
    raise ValueError(f"no year puts {month:02}-{day:02} before {first_seen}")
