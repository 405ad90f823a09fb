"""The clinic's state key: the 32 secret bytes that sign pump state files (docs/programmer.md), kept in a file only
its owner can read: ``--key-file``, else ``$OPENIDDS_STATE_KEY_FILE``, else ``~/.config/openidds/state.key``.

Read by the command line (`openidds program`, `openidds refill`, `openidds registry import --format pump-state`)
and by the web server, which checks an uploaded state file with it."""

from __future__ import annotations

import os
import secrets
import stat
from pathlib import Path

KEY_FILE_ENV = "OPENIDDS_STATE_KEY_FILE"


def key_path(key_file: Path | None) -> Path:
    """``--key-file``, else ``$OPENIDDS_STATE_KEY_FILE``, else ``~/.config/openidds/state.key``."""
    if key_file is not None:
        return key_file
    from_env = os.environ.get(KEY_FILE_ENV)
    return Path(from_env) if from_env else Path.home() / ".config" / "openidds" / "state.key"


def read_key(key_file: Path | None) -> bytes:
    """The clinic's state key: 32 bytes in a file only its owner can read."""
    from openidds.programmer import ProgrammerError
    from openidds.programmer.state_file import KEY_BYTES

    path = key_path(key_file)
    try:
        mode = path.stat().st_mode
        key = path.read_bytes()
    except OSError as error:
        raise ProgrammerError("--key-file", str(path), f"the clinic's state key file ({error.strerror}): "
                              "`openidds program init` creates it with a new state file; pass --key-file or set "
                              f"${KEY_FILE_ENV} to use the key another machine signed with") from None
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise ProgrammerError("--key-file", f"{path} (mode {stat.S_IMODE(mode):o})",
                              f"a key file only its owner can use: run chmod 600 {path}")
    if len(key) != KEY_BYTES:
        raise ProgrammerError("--key-file", f"{path} ({len(key)} bytes)",
                              f"a state key of {KEY_BYTES} bytes, as `openidds program init` creates it")
    return key


def ensure_key(key_file: Path | None) -> bytes:
    """The clinic's state key, created (32 random bytes, mode 0600) when there is none yet."""
    from openidds.programmer.state_file import KEY_BYTES

    path = key_path(key_file)
    if not path.exists():
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        handle = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(handle, "wb") as stream:
            stream.write(secrets.token_bytes(KEY_BYTES))
    return read_key(path)
