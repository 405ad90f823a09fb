"""Bad analysis datasets through `openidds stats`: files that are empty, ragged, in another encoding or not the
format their name says, numbers that are not numbers, and status codes that are not in the data."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pandas as pd
import pytest
from tests.test_bad_input_corpus import Case, check
from typer.testing import CliRunner

from openidds.cli import app

GOOD = b"time,status,arm\n5,1,a\n8,2,b\n12,0,a\n20,1,b\n"


def _parquet() -> bytes:
    out = io.BytesIO()
    pd.read_csv(io.BytesIO(GOOD)).to_parquet(out)
    return out.getvalue()


def _levels(output: str) -> list[str]:
    return json.loads(output)["variables"][0]["groups"]["All"]["levels"]


def _case(name: str, command: str, file: str, content: bytes | None, says: tuple[str, ...], *options: str) -> Case:
    files = {} if content is None else {file: content}
    return Case(name, ("stats", command, f"{{dir}}/{file}", *options), says, files)


CASES = [
    _case("empty-file", "km", "empty.csv", b"", ("empty.csv", "a header row")),
    _case("header-only", "cif", "header.csv", b"time,status\n", ("header.csv", "no data rows")),
    _case("blank-lines-only", "describe", "blank.csv", b"\n\n\n", ("blank.csv", "a header row"),
          "--continuous", "time"),
    _case("csv-named-parquet", "km", "data.parquet", GOOD, ("data.parquet", "a Parquet file", "named .csv")),
    _case("truncated-parquet", "km", "cut.parquet", _parquet()[:-40], ("cut.parquet", "a whole Parquet file")),
    _case("latin-1", "describe", "latin.csv", "time,status,arm\n5,1,caf\u00e9\n".encode("latin-1"),
          ("latin.csv", "line 2", "byte 0xe9", "not UTF-8", "--encoding latin-1"), "--categorical", "arm"),
    _case("unknown-encoding-name", "km", "data.csv", GOOD, ("--encoding", "an encoding Python knows"),
          "--encoding", "klingon"),
    _case("ragged-row", "km", "ragged.csv", GOOD + b"30,1,a,extra\n", ("ragged.csv line 6", "4 cells", "3 cells")),
    _case("short-row", "km", "short.csv", GOOD + b"30\n", ("short.csv line 6", "1 cells", "3 cells")),
    _case("cell-over-field-limit", "km", "huge.csv", GOOD + b'30,1,"' + b"x" * 200_000 + b'"\n',
          ("huge.csv line 6", "field larger than field limit")),
    _case("unclosed-quote", "km", "quote.csv", GOOD + b'30,1,"a\n40,0,b\n', ("quote.csv line 7", "unexpected end")),
    _case("time-1e10000", "km", "inf.csv", GOOD + b"1e10000,1,a\n", ("time", "rows [5]", "expected numbers")),
    _case("time-1e300-days", "km", "far.csv", GOOD + b"1e300,0,a\n", ("time", "rows [5]", "at most 36,525 days")),
    _case("time-1e300-days-cif", "cif", "far.csv", GOOD + b"1e300,0,a\n", ("time", "rows [5]", "100 years")),
    _case("time-nan", "km", "nan.csv", GOOD + b"NaN,1,a\n", ("time", "rows [5]", "a value in every row")),
    _case("time-text", "km", "text.csv", GOOD + b"soon,1,a\n", ("time", "rows [5]", "expected numbers")),
    _case("cif-cause-not-in-data", "cif", "data.csv", GOOD, ("cause=3", "a status code that occurs in status"),
          "--cause", "3"),
    _case("cif-competing-equals-censoring", "cif", "data.csv", GOOD, ("competing=0", "the censoring code"),
          "--competing", "0"),
    _case("cif-competing-equals-cause", "cif", "data.csv", GOOD, ("competing=1", "different from the cause"),
          "--competing", "1"),
    _case("km-status-code-unknown", "km", "data.csv", GOOD, ("status", "one of"), "--event", "2"),
    _case("digits-1e8", "km", "data.csv", GOOD, ("--digits", "less than or equal to 12"), "--digits", "100000000"),
    _case("plot-in-a-missing-folder", "cif", "data.csv", GOOD, ("--plot", "a folder that exists"), "--plot",
          "{dir}/missing/km"),
    _case("unknown-suffix", "km", "data.txt", GOOD, ("a .csv or .parquet file",)),
]


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_refused(case: Case, tmp_path: Path) -> None:
    check(case, tmp_path)


@pytest.mark.parametrize("encoding", ["utf-8-sig", "utf-16", "utf-32"])
def test_a_file_that_says_its_encoding_is_read(encoding: str, tmp_path: Path) -> None:
    data = tmp_path / "data.csv"
    data.write_bytes(GOOD.decode().replace(",a\n", ",caf\u00e9\n").encode(encoding))
    result = CliRunner().invoke(app, ["stats", "describe", str(data), "--categorical", "arm", "--json"])
    assert result.exit_code == 0, result.output
    assert "caf\u00e9" in _levels(result.output)


def test_a_latin_1_file_is_read_when_the_encoding_is_named(tmp_path: Path) -> None:
    data = tmp_path / "data.csv"
    data.write_bytes(GOOD.decode().replace(",a\n", ",caf\u00e9\n").encode("latin-1"))
    result = CliRunner().invoke(app, ["stats", "describe", str(data), "--categorical", "arm", "--encoding",
                                      "latin-1", "--json"])
    assert result.exit_code == 0, result.output
    assert "caf\u00e9" in _levels(result.output)


def test_a_cause_absent_from_one_group_is_not_refused(tmp_path: Path) -> None:
    """The cause must occur in the data, not in every group: a group without events has a flat curve."""
    data = tmp_path / "data.csv"
    data.write_bytes(b"time,status,arm\n5,1,a\n8,2,b\n12,0,a\n20,0,b\n")
    result = CliRunner().invoke(app, ["stats", "cif", str(data), "--group", "arm", "--json"])
    assert result.exit_code == 0, result.output
