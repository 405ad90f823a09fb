"""The wall clock, read by the command line and the web server only (the packages take time as an argument)."""

from __future__ import annotations

import datetime as dt


def utc_now() -> dt.datetime:
    """The wall clock as naive UTC (the registry's time representation)."""
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)
