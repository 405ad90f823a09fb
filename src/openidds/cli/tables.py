"""Reading a table the commands analyse: CSV or Parquet by the file's suffix."""

from pathlib import Path

import pandas as pd

from openidds.errors import OpenIDDSError

PARQUET_SUFFIXES = (".parquet", ".pq")


def read_table(path: Path, field: str = "file") -> pd.DataFrame:
    """The table in ``path`` (``.csv``, ``.parquet`` or ``.pq``) with rows labelled 1.. as data rows, so an
    error can name the file's row; any other suffix raises ``OpenIDDSError(field, path, ...)``."""
    suffix = path.suffix.lower()
    if suffix == ".csv":
        frame = pd.read_csv(path)
    elif suffix in PARQUET_SUFFIXES:
        frame = pd.read_parquet(path)
    else:
        raise OpenIDDSError(field, str(path), "a .csv or .parquet file")
    frame.index = pd.RangeIndex(1, len(frame) + 1)
    return frame
