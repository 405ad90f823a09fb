"""A page of a long list (Today's lists, the calendar's refills due): its number, its size and the list's total."""

from __future__ import annotations

import math
from dataclasses import dataclass

from openidds.web.errors import InputRefused

PER_PAGE = 50
"""Rows per page of a list, unless asked otherwise."""
MAX_PER_PAGE = 500
MAX_PAGE = 100_000
"""The highest page number asked for that is not refused (a page past a list's end is empty)."""


@dataclass(frozen=True)
class Paging:
    """Which page of a list is shown (from 1), how many rows a page holds, and how many the list has in all."""

    page: int
    per_page: int
    total: int

    @property
    def pages(self) -> int:
        return max(1, math.ceil(self.total / self.per_page))

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.per_page

    def to_dict(self) -> dict[str, int]:
        return {"page": self.page, "per_page": self.per_page, "total": self.total}


def check_page(field: str, page: int, per_page: int) -> None:
    """Refuse a page number (named ``field``) or a page size out of range."""
    if not 1 <= page <= MAX_PAGE:
        raise InputRefused(field, page, f"a page number from 1 to {MAX_PAGE}")
    if not 1 <= per_page <= MAX_PER_PAGE:
        raise InputRefused("per_page", per_page, f"1 to {MAX_PER_PAGE} rows per page")
