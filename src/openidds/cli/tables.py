"""Tables in and out: reading a table the commands analyse (CSV or Parquet by the file's suffix), and the
rich tables they print."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from rich.table import Table

from openidds.errors import OpenIDDSError
from openidds.text_files import read_text

if TYPE_CHECKING:
    import pandas as pd

PARQUET_SUFFIXES = (".parquet", ".pq")
PARQUET_MAGIC = b"PAR1"
"""The four bytes a Parquet file starts and ends with."""


def label_table(title: str, columns: Sequence[str], *, header_style: str = "table.header") -> Table:
    """A printed table whose first column holds labels (left-aligned) and the others figures (right-aligned);
    ``header_style`` is a rich style for the header row (rich's own by default)."""
    table = Table(title=title, header_style=header_style)
    for i, name in enumerate(columns):
        table.add_column(name, justify="left" if i == 0 else "right")
    return table


def read_table(path: Path, field: str = "file", encoding: str | None = None) -> pd.DataFrame:
    """The table in ``path`` (``.csv``, ``.parquet`` or ``.pq``) with rows labelled 1.. as data rows, so an
    error can name the file's row. A CSV file is decoded by :func:`openidds.text_files.read_text` (``encoding``
    for one without a byte-order mark) and needs a header, at least one data row and every row as wide as the
    header; a Parquet file must be one. Anything else raises ``OpenIDDSError`` naming the file."""
    import pandas as pd

    suffix = path.suffix.lower()
    if suffix == ".csv":
        frame = _read_csv(path, encoding)
    elif suffix in PARQUET_SUFFIXES:
        frame = _read_parquet(path)
    else:
        raise OpenIDDSError(field, str(path), "a .csv or .parquet file")
    if frame.empty:
        raise OpenIDDSError(path.name, f"{len(frame.columns)} columns, no data rows",
                            "a header row and at least one data row")
    frame.index = pd.RangeIndex(1, len(frame) + 1)
    return frame


def _read_csv(path: Path, encoding: str | None) -> pd.DataFrame:
    import pandas as pd

    text = read_text(path, encoding)
    rows = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        header = next((cells for cells in rows if cells), None)
        if header is None:
            raise OpenIDDSError(path.name, "empty", "a CSV file with a header row and data rows")
        for cells in rows:
            if cells and len(cells) != len(header):
                raise OpenIDDSError(f"{path.name} line {rows.line_num}", f"{len(cells)} cells",
                                    f"{len(header)} cells, as many as the header has")
    except csv.Error as exc:
        raise OpenIDDSError(f"{path.name} line {rows.line_num}", str(exc),
                            f"CSV cells of at most {csv.field_size_limit()} characters, quotes paired") from None
    return pd.read_csv(io.StringIO(text), index_col=False)


def _read_parquet(path: Path) -> pd.DataFrame:
    import pandas as pd

    with path.open("rb") as handle:
        head = handle.read(len(PARQUET_MAGIC))
    if head != PARQUET_MAGIC:
        raise OpenIDDSError(path.name, f"starts with {head!r}", "a Parquet file (it starts with PAR1); a CSV file "
                            "is named .csv")
    try:
        return pd.read_parquet(path)
    except (OSError, ValueError) as exc:
        raise OpenIDDSError(path.name, "Parquet", f"a whole Parquet file ({exc})") from None
