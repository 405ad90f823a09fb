"""Reading a text file whatever its encoding says it is, or refusing it with the line and byte that are wrong.

A byte-order mark decides (UTF-8, UTF-16 or UTF-32, as Excel's "Unicode text" writes); else the encoding the
user names (``--encoding latin-1``); else strict UTF-8. A file that is none of these is refused with its name,
line, column and the offending byte, never read with replacement characters. This module does I/O, so it lives
at the edge (clinic and cli use it), not in the core.
"""

from __future__ import annotations

import codecs
from pathlib import Path

from openidds.errors import OpenIDDSError

UTF8 = "utf-8"
_BOMS = ((codecs.BOM_UTF32_LE, "utf-32"), (codecs.BOM_UTF32_BE, "utf-32"), (codecs.BOM_UTF8, "utf-8-sig"),
         (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16"))
"""Byte-order marks, longest first (a UTF-32-LE mark starts like a UTF-16-LE one)."""


class TextFileError(OpenIDDSError):
    """A file that cannot be read as text: the message names the file, the line, the byte and how to go on."""


def bom_encoding(data: bytes) -> str | None:
    """The encoding a byte-order mark at the start of ``data`` declares, or ``None`` when there is none."""
    return next((name for bom, name in _BOMS if data.startswith(bom)), None)


def decode(data: bytes, name: str, encoding: str | None = None, option: str | None = "--encoding") -> str:
    """The text of ``data`` (a file called ``name``): by its byte-order mark, else ``encoding``, else UTF-8.

    ``option`` is the command's option that names an encoding (``None`` when it has none), for the advice."""
    chosen = bom_encoding(data) or encoding or UTF8
    try:
        codecs.lookup(chosen)
    except LookupError:
        raise TextFileError(option or "encoding", chosen, "an encoding Python knows, e.g. utf-8, latin-1, cp1252 or "
                            "utf-16") from None
    try:
        return data.decode(chosen)
    except UnicodeDecodeError as exc:
        raise TextFileError(name, _where(data, exc), _advice(chosen, option)) from None


def read_text(path: Path, encoding: str | None = None, option: str | None = "--encoding") -> str:
    """The text of the file at ``path`` (see :func:`decode`); a missing or unreadable file is refused too."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise TextFileError(path.name, str(path), f"a readable file ({exc.strerror or exc})") from None
    return decode(data, path.name, encoding, option)


def _where(data: bytes, exc: UnicodeDecodeError) -> str:
    """'line 3, byte 0xe9 at column 12' for the first byte the codec refused (1-based line and column)."""
    before = data[:exc.start]
    line = before.count(b"\n") + 1
    column = exc.start - (before.rfind(b"\n") + 1) + 1
    return f"line {line}, byte 0x{data[exc.start]:02x} at column {column}"


def _advice(encoding: str, option: str | None) -> str:
    if codecs.lookup(encoding).name != UTF8:
        return f"text in {encoding}, as {option or 'the encoding'} says; name the encoding the file was saved in"
    also = f", or pass {option} latin-1 (or the encoding it was saved in)" if option else \
        " (or as Unicode text with its byte-order mark)"
    return f"UTF-8 text (this byte is not UTF-8); save the file as UTF-8{also}"
