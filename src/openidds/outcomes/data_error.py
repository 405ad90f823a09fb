"""The error raised when an analysis dataset holds values an estimator cannot use."""

from collections.abc import Sequence

from openidds.errors import OpenIDDSError

_SHOWN = 10


class DataError(OpenIDDSError):
    """Bad values in a column: names the column, the offending rows and their values.

    ``rows`` are the row labels (the pandas index when a Series was given, 0-based positions otherwise);
    the message lists the first ten of them and how many more there are.
    """

    def __init__(self, column: str, rows: Sequence[object], values: Sequence[object], expected: str) -> None:
        self.column = column
        self.rows = list(rows)
        shown_rows = ", ".join(str(r) for r in self.rows[:_SHOWN])
        more = f" and {len(self.rows) - _SHOWN} more" if len(self.rows) > _SHOWN else ""
        super().__init__(f"column {column!r} rows [{shown_rows}{more}]", list(values)[:_SHOWN], expected)


__all__ = ["DataError"]
