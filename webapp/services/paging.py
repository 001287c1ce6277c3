"""One page of a long list, and reading a page number someone typed.

The list services (address book, attendee list) fetch a page's rows and the
total in as few statements as they can; :class:`Page` carries both to the
template with the names Flask-SQLAlchemy's ``Pagination`` uses, so the
``pager`` macro reads either (when the total is known).
"""

from __future__ import annotations

from dataclasses import dataclass
from math import ceil
from typing import Generic, TypeVar

T = TypeVar("T")

# Past this a page number is nonsense (a million pages of 25); it reads as the last page
# anyone could mean rather than an offset too large for the database's integers.
MAX_PAGE = 1_000_000


def page_number(value: object) -> int:
    """A page number from a query string value: 1 for anything that isn't a
    positive whole number, at most ``MAX_PAGE``."""
    text = str(value or "").strip()
    if not text.isdigit() or not text.isascii():
        return 1
    return min(max(int(text[:8]), 1), MAX_PAGE)


@dataclass(frozen=True)
class Page(Generic[T]):
    """``items`` are page ``page`` (from 1) of ``total`` items, ``per_page`` a
    page. A list that doesn't count its items (``total`` None) says whether
    there are ``more`` after this page instead."""

    items: list[T]
    page: int
    per_page: int
    total: int | None
    more: bool = False

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.per_page

    @property
    def first(self) -> int:
        """The number of the first item shown (from 1), 0 when none are."""
        return self.offset + 1 if self.items else 0

    @property
    def last(self) -> int:
        return max(self.first, self.first + len(self.items) - 1)

    @property
    def pages(self) -> int | None:
        """How many pages there are (None when uncounted)."""
        if self.total is None:
            return None
        return ceil(self.total / self.per_page) if self.total else 0

    @property
    def has_prev(self) -> bool:
        return self.page > 1

    @property
    def prev_num(self) -> int | None:
        return self.page - 1 if self.has_prev else None

    @property
    def has_next(self) -> bool:
        return self.more if self.total is None else self.page < self.pages

    @property
    def next_num(self) -> int | None:
        return self.page + 1 if self.has_next else None
