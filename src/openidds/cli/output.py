"""Where the commands' output goes: a console that does not cut piped text, and files written whole."""

import os
import tempfile
from collections.abc import Mapping
from pathlib import Path

from rich.console import Console

PIPED_WIDTH = 240


def console(stderr: bool = False) -> Console:
    """A console at the terminal's width; when the output is piped or redirected (where rich would cut every
    line to 80 columns), tables get :data:`PIPED_WIDTH` columns and text lines are not wrapped at all."""
    out = Console(stderr=stderr)
    return out if out.is_terminal else Console(stderr=stderr, width=PIPED_WIDTH, soft_wrap=True)


def write_atomic(target: Path, data: bytes) -> None:
    """Write all of ``data`` to ``target`` or nothing: a temporary file in the same folder, renamed over it.

    The file gets the mode of any newly created file (0666 less the umask, usually 0644), not the
    owner-only mode of a temporary file.
    """
    mask = os.umask(0)
    os.umask(mask)
    handle, temporary = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(data)
            os.fchmod(stream.fileno(), 0o666 & ~mask)
        os.replace(temporary, target)
    finally:
        Path(temporary).unlink(missing_ok=True)


def write_files(folder: Path, files: Mapping[str, bytes]) -> None:
    """Write each named file under ``folder`` (sub-folders created) with :func:`write_atomic`."""
    for name, data in files.items():
        target = folder / name
        target.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(target, data)
