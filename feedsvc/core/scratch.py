"""What a merge asks of the place it keeps its cards and new records in.

A first run of a large site reads a million cards and makes a million
records, and most of their bytes are summaries: held in memory, about
2 KB an article. So the merge hands them to a scratch store as it goes,
and reads them back in the orders its rules need. The store is given to
`normalize` by its caller (store.scratch keeps it in a temporary SQLite
database); this module only says what it must do.
"""

from __future__ import annotations

import datetime as dt
from typing import Iterable, Iterator, Protocol

from feedsvc.core.models import RawItem, Record

# A card as the store keeps it: the page it was read from (numbered in the
# order the merge read its pages), the card, and its title key.
Card = tuple[int, RawItem, str]


class Scratch(Protocol):
    # Cards

    def add_cards(self, page: int, cards: list[tuple[str, RawItem, str]]) -> None:
        """The cards of page number `page`, as (article, card, title key)."""

    def rank_pages(self, ranks: list[int]) -> None:
        """Each page's place in listing order, by page number, once every
        card has been added."""

    def articles(self) -> Iterator[str]:
        """Every article the cards belong to, in the order their first card
        was added."""

    def cards_of(self, article: str) -> list[Card]:
        """An article's cards in listing order: by page rank, then position."""

    def mark_known(self, articles: Iterable[str]) -> None:
        """Articles the ledger already holds: `new_articles` leaves them out."""

    def new_articles(self) -> Iterator[tuple[str, list[Card]]]:
        """The articles not marked known, each with its cards in listing
        order, ordered by their first card in listing order."""

    def records_made(self) -> None:
        """Every new record has been added: the cards are no longer needed."""

    # New records

    def add_record(self, record: Record, rank: int, untimed_day: dt.date | None) -> None:
        """A new record, its place among the new articles in listing order,
        and the day its page dated it without a time, if so."""

    def untimed_days(self) -> list[dt.date]:
        """The days of new records dated by their page without a time."""

    def untimed_on(self, day: dt.date) -> list[str]:
        """The new records of `day` without a time, highest rank first."""

    def publish_at(self, moments: Iterable[tuple[str, dt.datetime]]) -> None:
        """Move new records' published time, and their updated time with it."""

    def number(self, first_seq: int) -> None:
        """Give the new records their seq from `first_seq` on, oldest first:
        by published time, then the higher rank, then id."""

    def get(self, article: str) -> Record | None: ...

    def holds(self, article: str) -> bool: ...

    def ids(self) -> Iterator[str]:
        """The new records' ids, sorted."""

    def max_seq(self) -> int: ...

    def latest_published(self, start: dt.datetime, end: dt.datetime) -> dt.datetime | None:
        """The latest published time in [start, end) of a new record."""

    def in_seq_order(self) -> Iterator[Record]: ...
