"""Reading one cell: text from a file into a typed value, refused (never coerced) when it does not fit."""

from __future__ import annotations

import datetime as dt
import functools
import math
import re
from collections.abc import Callable
from typing import Any

from openidds.clinic.errors import RegistryError
from openidds.clinic.fields import Field

_INT = re.compile(r"^[+-]?[0-9]+$")
_TRUE = {"1", "true", "yes", "y"}
_FALSE = {"0", "false", "no", "n"}
MULTI_SEPARATOR = ";"


def _int(f: Field, text: str) -> int:
    if text.isascii() and text.isdigit():
        return int(text)
    if not _INT.match(text):
        raise RegistryError(f.name, text, "a whole number" + (f" in {f.unit}" if f.unit else ""))
    return int(text)


def _float(f: Field, text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        unit = f" in {f.unit} (the unit is in the column name, not the cell)" if f.unit else ""
        raise RegistryError(f.name, text, f"a number{unit}") from None
    if not math.isfinite(value):
        raise RegistryError(f.name, text, "a finite number")
    return value


def _date(f: Field, text: str) -> dt.date:
    if len(text) != 10 or text[4] != "-" or text[7] != "-" or not text.isascii():
        raise RegistryError(f.name, text, "a date as YYYY-MM-DD")
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise RegistryError(f.name, text, "a real calendar date as YYYY-MM-DD") from None


def _datetime(f: Field, text: str) -> dt.datetime:
    try:
        value = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise RegistryError(f.name, text, "an ISO 8601 date-time with offset, e.g. 2024-03-01T10:30:00Z") from None
    if value.tzinfo is None or len(text) < 16:
        raise RegistryError(f.name, text, "an ISO 8601 date-time with a UTC offset or Z (time zone is not guessed)")
    return value.astimezone(dt.UTC).replace(tzinfo=None)


def _bool(f: Field, text: str) -> bool:
    low = text.lower()
    if low in _TRUE:
        return True
    if low in _FALSE:
        return False
    raise RegistryError(f.name, text, "1/0, true/false or yes/no")


def _choice(f: Field, text: str) -> str:
    if text not in f.choices:
        raise RegistryError(f.name, text, "one of " + ", ".join(f.choices))
    return text


def _multi(f: Field, text: str) -> list[str]:
    items = [item.strip() for item in text.split(MULTI_SEPARATOR)]
    bad = [item for item in items if item not in f.choices]
    if bad:
        raise RegistryError(f.name, text, f"codes from {', '.join(f.choices)} separated by '{MULTI_SEPARATOR}'")
    if len(set(items)) != len(items):
        raise RegistryError(f.name, text, "each code once")
    return sorted(items)


def _text(f: Field, text: str) -> str:
    if f.pattern and not re.match(f.pattern, text):
        raise RegistryError(f.name, text, f"text matching {f.pattern}")
    return text


_PARSERS: dict[str, Callable[[Field, str], Any]] = {
    "int": _int, "float": _float, "date": _date, "datetime": _datetime, "bool": _bool, "choice": _choice,
    "multi": _multi, "text": _text,
}


@functools.cache
def parser(f: Field) -> Callable[[str | None], Any]:
    """A fast reader of cells of field ``f`` (what :func:`parse_cell` does, compiled once per field)."""
    convert = _PARSERS[f.kind]
    low, high = f.minimum, f.maximum
    ranged = low is not None or high is not None

    def parse(text: str | None) -> Any:
        if not text:
            return None
        text = text.strip()
        if not text:
            return None
        value = convert(f, text)
        if ranged and ((low is not None and value < low) or (high is not None and value > high)):
            check_range(f, value)
        return value

    return parse


def parse_cell(f: Field, text: str | None) -> Any:
    """The typed value of ``text`` for field ``f``; empty text is ``None``; out-of-range values are refused."""
    return parser(f)(text)


def check_range(f: Field, value: Any) -> None:
    """Refuse a number outside the field's limits."""
    if (f.minimum is not None and value < f.minimum) or (f.maximum is not None and value > f.maximum):
        unit = f" {f.unit}" if f.unit else ""
        low = "" if f.minimum is None else f" from {f.minimum:g}"
        high = "" if f.maximum is None else f" to {f.maximum:g}"
        raise RegistryError(f.name, value, f"a value{low}{high}{unit}")
