"""Which columns of an analysis dataset hold an endpoint's follow-up time and status.

R's survival datasets name them ``time`` and ``status``; the registry's analysis export (``openidds registry
export ... analysis``) names each endpoint ``<name>_days`` with ``<name>_status`` (overall survival:
``os_days`` with ``death``), times in days from the first implant.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum

from openidds.cli.errors import choose
from openidds.errors import OpenIDDSError
from openidds.months import DAYS_PER_MONTH

DAYS_SUFFIX = "_days"
STATUS_OF = {"os": "death"}
"""Endpoints of the analysis export whose status column is not ``<name>_status``."""
TITLES = {"os": "Overall survival"}


class TimeUnit(str, Enum):
    days = "days"
    months = "months"

    def from_days(self, days: float) -> float:
        return days / DAYS_PER_MONTH if self is TimeUnit.months else days


@dataclass(frozen=True)
class Endpoint:
    """A time column and its status column; ``name`` is the export's endpoint name ('' for time/status)."""

    name: str
    time: str
    status: str

    @property
    def title(self) -> str:
        if not self.name:
            return f"{self.time} / {self.status}"
        return TITLES.get(self.name, self.name.replace("_", " ").capitalize())

    def time_label(self, unit: TimeUnit) -> str:
        """The time axis: since the first implant for the export's endpoints, else the column and its unit."""
        return f"{unit.value.capitalize()} since first implant" if self.name else f"{self.time} ({unit.value})"


def endpoints(columns: Sequence[str]) -> list[Endpoint]:
    """Every time/status pair among ``columns``: ``time``/``status`` first, then the export's, in file order."""
    found = [Endpoint("", "time", "status")] if {"time", "status"} <= set(columns) else []
    for column in columns:
        if column.endswith(DAYS_SUFFIX):
            name = column.removesuffix(DAYS_SUFFIX)
            status = STATUS_OF.get(name, f"{name}_status")
            if status in columns:
                found.append(Endpoint(name, column, status))
    return found


def resolve(columns: Sequence[str], time: str | None, status: str | None, endpoint: str | None,
            preferred: Sequence[str]) -> Endpoint:
    """The endpoint the options name, or else the one found in the file: ``time``/``status``, or the first of
    ``preferred`` export endpoints, or the first found. A mistyped name is refused with the nearest one."""
    columns = [str(c) for c in columns]
    found = endpoints(columns)
    if endpoint is not None:
        if time is not None or status is not None:
            raise OpenIDDSError("--endpoint", endpoint, "either --endpoint or --time/--status, not both")
        named = {e.name: e for e in found if e.name}
        return named[choose("--endpoint", endpoint, named)]
    if time is not None or status is not None:
        chosen = Endpoint("", time or "time", status or "status")
        choose("--time", chosen.time, columns)
        choose("--status", chosen.status, columns)
        return chosen
    if not found:
        raise OpenIDDSError("columns", ", ".join(columns), "a time and a status column: time/status, or an endpoint "
                            "of the registry's analysis export such as os_days/death; none was found, so name them "
                            "with --time and --status")
    ranked = [e for name in preferred for e in found if e.name == name]
    return found[0] if found[0].name == "" or not ranked else ranked[0]
