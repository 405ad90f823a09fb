"""Reading one cell: text from a file into a typed value, refused (never coerced) when it does not fit.

The same rules check a value given directly to the registry (:func:`check_value`, run on every ORM flush by
:mod:`openidds.clinic.validation`), so a record is refused with the same message whichever way it comes in.
"""

from __future__ import annotations

import datetime as dt
import functools
import math
import re
from collections.abc import Callable
from typing import Any

from sqlalchemy import String

from openidds.clinic.errors import RegistryError
from openidds.clinic.fields import SPECS, Field

_INT = re.compile(r"^[+-]?[0-9]+$")
_TRUE = {"1", "true", "yes", "y"}
_FALSE = {"0", "false", "no", "n"}
MULTI_SEPARATOR = ";"
_SHOWN_CHARACTERS = 40


def column_length(column: Any) -> int | None:
    """The most characters a table column holds (``None`` for unlimited text and for non-text columns)."""
    return column.type.length if isinstance(column.type, String) else None


def _field_lengths() -> dict[Field, int]:
    out: dict[Field, int] = {}
    for spec in SPECS.values():
        for f in spec.fields:
            length = column_length(spec.model.__table__.c[f.name])
            if length is not None:
                out[f] = min(length, out.get(f, length))
    return out


#: The column length of each text field of the mapping (fields stored as unlimited text are absent).
FIELD_LENGTHS = _field_lengths()


def check_length(name: str, text: str, limit: int | None) -> None:
    """Refuse text longer than its column (every database gets the same refusal, none truncates)."""
    if limit is not None and len(text) > limit:
        shown = text if len(text) <= _SHOWN_CHARACTERS else text[:_SHOWN_CHARACTERS] + "..."
        raise RegistryError(name, shown, f"text of at most {limit} characters ({len(text)} given)")


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


EARLIEST_DATE, LATEST_DATE = dt.date(1900, 1, 1), dt.date(2199, 12, 31)
"""Every date and date-time of a record falls within these (a year such as 9999 is a typing error)."""
_DATE_RANGE = f"a date from {EARLIEST_DATE} to {LATEST_DATE}"


def _date(f: Field, text: str) -> dt.date:
    if len(text) != 10 or text[4] != "-" or text[7] != "-" or not text.isascii():
        raise RegistryError(f.name, text, "a date as YYYY-MM-DD")
    try:
        day = dt.date.fromisoformat(text)
    except ValueError:
        raise RegistryError(f.name, text, "a real calendar date as YYYY-MM-DD") from None
    if not EARLIEST_DATE <= day <= LATEST_DATE:
        raise RegistryError(f.name, text, _DATE_RANGE)
    return day


def _datetime(f: Field, text: str) -> dt.datetime:
    try:
        value = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise RegistryError(f.name, text, "an ISO 8601 date-time with offset, e.g. 2024-03-01T10:30:00Z") from None
    if value.tzinfo is None or len(text) < 16:
        raise RegistryError(f.name, text, "an ISO 8601 date-time with a UTC offset or Z (time zone is not guessed)")
    if not EARLIEST_DATE <= value.date() <= LATEST_DATE:
        raise RegistryError(f.name, text, _DATE_RANGE)
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


def _codes(f: Field, items: list[str], shown: Any) -> None:
    if any(item not in f.choices for item in items):
        raise RegistryError(f.name, shown, f"codes from {', '.join(f.choices)} separated by '{MULTI_SEPARATOR}'")
    if len(set(items)) != len(items):
        raise RegistryError(f.name, shown, "each code once")


def _multi(f: Field, text: str) -> list[str]:
    items = [item.strip() for item in text.split(MULTI_SEPARATOR)]
    _codes(f, items, text)
    return sorted(items)


def _text(f: Field, text: str) -> str:
    check_length(f.name, text, FIELD_LENGTHS.get(f))
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


def cell_text(f: Field, value: Any) -> str:
    """A stored value as the text of a form field or file cell (empty for no value)."""
    if value is None:
        return ""
    if f.kind == "bool":
        return "1" if value else "0"
    if f.kind == "multi":
        return MULTI_SEPARATOR.join(value)
    if f.kind == "datetime":
        return value.isoformat() + "Z"
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, float):
        text = repr(value)
        return text[:-2] if text.endswith(".0") else text
    return str(value)


def parse_cell(f: Field, text: str | None) -> Any:
    """The typed value of ``text`` for field ``f``; empty text is ``None``; out-of-range values are refused."""
    return parser(f)(text)


_TYPES: dict[str, tuple[tuple[type, ...], str]] = {
    "int": ((int,), "a whole number"), "float": ((int, float), "a number"), "date": ((dt.date,), "a date"),
    "datetime": ((dt.datetime,), "a date-time"), "bool": ((bool,), "true or false"), "choice": ((str,), "a code"),
    "multi": ((list,), "a list of codes"), "text": ((str,), "text"),
}


def _check_type(f: Field, value: object) -> None:
    types, expected = _TYPES[f.kind]
    wrong_date = f.kind == "date" and isinstance(value, dt.datetime)
    if not isinstance(value, types) or wrong_date or (isinstance(value, bool) and f.kind in ("int", "float")):
        raise RegistryError(f.name, value, expected + (f" in {f.unit}" if f.unit else ""))


def check_value(f: Field, value: Any) -> None:
    """Refuse a typed value (not ``None``) that breaks a rule of field ``f``: its type, range, choices, pattern or
    column length; the messages are those of the import."""
    _check_type(f, value)
    if f.kind == "float" and not math.isfinite(value):
        raise RegistryError(f.name, value, "a finite number")
    if f.kind in ("int", "float"):
        check_range(f, value)
    elif f.kind == "choice":
        _choice(f, value)
    elif f.kind == "multi":
        _codes(f, value, value)
    elif f.kind == "text":
        _text(f, value)


def check_range(f: Field, value: Any) -> None:
    """Refuse a number outside the field's limits."""
    if (f.minimum is not None and value < f.minimum) or (f.maximum is not None and value > f.maximum):
        unit = f" {f.unit}" if f.unit else ""
        low = "" if f.minimum is None else f" from {f.minimum:g}"
        high = "" if f.maximum is None else f" to {f.maximum:g}"
        raise RegistryError(f.name, value, f"a value{low}{high}{unit}")
