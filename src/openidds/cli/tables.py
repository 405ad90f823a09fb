"""Tables in and out: reading a table the commands analyse (CSV or Parquet by the file's suffix), and the
rich tables they print."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from rich.table import Table

from openidds.errors import OpenIDDSError

if TYPE_CHECKING:
    import pandas as pd

PARQUET_SUFFIXES = (".parquet", ".pq")


def label_table(title: str, columns: Sequence[str], *, header_style: str = "table.header") -> Table:
    """A printed table whose first column holds labels (left-aligned) and the others figures (right-aligned);
    ``header_style`` is a rich style for the header row (rich's own by default)."""
    table = Table(title=title, header_style=header_style)
    for i, name in enumerate(columns):
        table.add_column(name, justify="left" if i == 0 else "right")
    return table


def read_table(path: Path, field: str = "file") -> pd.DataFrame:
    """The table in ``path`` (``.csv``, ``.parquet`` or ``.pq``) with rows labelled 1.. as data rows, so an
    error can name the file's row; any other suffix raises ``OpenIDDSError(field, path, ...)``."""
    import pandas as pd

    suffix = path.suffix.lower()
    if suffix == ".csv":
        frame = pd.read_csv(path)
    elif suffix in PARQUET_SUFFIXES:
        frame = pd.read_parquet(path)
    else:
        raise OpenIDDSError(field, str(path), "a .csv or .parquet file")
    frame.index = pd.RangeIndex(1, len(frame) + 1)
    return frame
