"""Reading a text file whatever its encoding says it is, or refusing it with the line and byte that are wrong.

A byte-order mark decides (UTF-8, UTF-16 or UTF-32, as Excel's "Unicode text" writes); else the encoding the
user names (``--encoding latin-1``); else strict UTF-8. A file that is none of these is refused with its name,
line, column and the offending byte, never read with replacement characters. This module does I/O, so it lives
at the edge (clinic and cli use it), not in the core.
"""

from __future__ import annotations

import codecs
from pathlib import Path
from typing import AnyStr

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
        text = data.decode(chosen)
    except UnicodeDecodeError as exc:
        raise TextFileError(name, _where(data, exc), _advice(chosen, option)) from None
    if "\x00" in text:
        line, column = _position(text, text.index("\x00"), "\n")
        also = f" or pass {option} utf-16" if option else ""
        raise TextFileError(name, f"line {line}, a NUL character at column {column}",
                            f"text without NUL characters (UTF-16 without its byte-order mark, or not a text file); "
                            f"save it as UTF-8{also}")
    return text


def read_text(path: Path, encoding: str | None = None, option: str | None = "--encoding") -> str:
    """The text of the file at ``path`` (see :func:`decode`); a missing or unreadable file is refused too."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise TextFileError(path.name, str(path), f"a readable file ({exc.strerror or exc})") from None
    return decode(data, path.name, encoding, option)


def _position(content: AnyStr, at: int, newline: AnyStr) -> tuple[int, int]:
    """The 1-based line and column of index ``at`` in ``content`` (text, or bytes counted as bytes)."""
    return content.count(newline, 0, at) + 1, at - (content.rfind(newline, 0, at) + 1) + 1


def _where(data: bytes, exc: UnicodeDecodeError) -> str:
    """'line 3, byte 0xe9 at column 12' for the first byte the codec refused."""
    line, column = _position(data, exc.start, b"\n")
    return f"line {line}, byte 0x{data[exc.start]:02x} at column {column}"


def _advice(encoding: str, option: str | None) -> str:
    if codecs.lookup(encoding).name != UTF8:
        return f"text in {encoding}, as {option or 'the encoding'} says; name the encoding the file was saved in"
    also = f", or pass {option} latin-1 (or the encoding it was saved in)" if option else \
        " (or as Unicode text with its byte-order mark)"
    return f"UTF-8 text (this byte is not UTF-8); save the file as UTF-8{also}"
