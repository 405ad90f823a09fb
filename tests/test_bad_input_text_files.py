"""The one text-file reader: a byte-order mark decides, else the named encoding, else strict UTF-8; a byte
that is not text is refused with its line, column and value."""

from __future__ import annotations

from pathlib import Path

import pytest

from openidds.text_files import TextFileError, bom_encoding, decode, read_text

TEXT = "site,note\nCJFH,c\u00e9phal\u00e9e \u2013 r\u00e9solue\n"


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "utf-16", "utf-16-le", "utf-16-be", "utf-32"])
def test_a_file_with_its_byte_order_mark_is_read(encoding: str) -> None:
    bom = {"utf-16-le": "\ufeff", "utf-16-be": "\ufeff"}.get(encoding, "")
    data = (bom + TEXT).encode(encoding)
    assert decode(data, "f.csv") == TEXT
    if encoding != "utf-8":
        assert bom_encoding(data) is not None


def test_utf32_le_is_not_taken_for_utf16() -> None:
    assert bom_encoding(TEXT.encode("utf-32")) == "utf-32"


def test_the_named_encoding_reads_a_file_without_a_mark() -> None:
    assert decode("caf\u00e9\n".encode("latin-1"), "f.csv", "latin-1") == "caf\u00e9\n"


def test_a_mark_wins_over_the_named_encoding() -> None:
    assert decode(TEXT.encode("utf-16"), "f.csv", "latin-1") == TEXT


def test_a_latin_1_byte_is_refused_with_its_line_and_column() -> None:
    data = "a,b\n1,2\nCJFH,caf\u00e9\n".encode("latin-1")
    with pytest.raises(TextFileError) as caught:
        decode(data, "visits.csv")
    assert caught.value.field == "visits.csv"
    assert caught.value.value == "line 3, byte 0xe9 at column 9"
    assert "save the file as UTF-8, or pass --encoding latin-1" in str(caught.value)


def test_without_an_encoding_option_the_advice_names_none() -> None:
    with pytest.raises(TextFileError) as caught:
        decode(b"\xff\xfe"[1:] + b"abc", "log.json", option=None)
    assert "--encoding" not in str(caught.value) and "byte-order mark" in str(caught.value)


def test_text_that_is_not_the_named_encoding_is_refused() -> None:
    with pytest.raises(TextFileError, match="text in ascii, as --encoding says"):
        decode("caf\u00e9".encode(), "f.csv", "ascii")


def test_an_unknown_encoding_name_is_refused() -> None:
    with pytest.raises(TextFileError, match="an encoding Python knows"):
        decode(b"abc", "f.csv", "klingon")


def test_a_missing_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(TextFileError, match="a readable file"):
        read_text(tmp_path / "none.csv")


def test_utf16_without_its_mark_is_refused_not_read_as_text_with_nuls() -> None:
    with pytest.raises(TextFileError) as caught:
        decode("site,note\n".encode("utf-16-le"), "visits.csv")
    assert caught.value.value == "line 1, a NUL character at column 2"
    assert "--encoding utf-16" in str(caught.value)


def test_utf16_without_its_mark_is_read_when_named() -> None:
    assert decode("site,note\n".encode("utf-16-le"), "visits.csv", "utf-16-le") == "site,note\n"
