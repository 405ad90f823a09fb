"""The registry options every command that opens the clinic registry shares: ``--db``, the engine on it, and
who is acting (for the audit trail)."""

from __future__ import annotations

import getpass
import os
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from openidds.errors import OpenIDDSError

if TYPE_CHECKING:
    from sqlalchemy import Engine

Db = Annotated[str | None, typer.Option(
    "--db", envvar="OPENIDDS_DB", show_default="openidds-registry.sqlite",
    help="Registry: an SQLite file path or a database URL (postgresql+psycopg://...).")]


def registry_engine(db: str | None, ready: bool = True) -> Engine:
    """An engine on the registry ``db`` (default: the file in the current folder).

    ``ready``: the registry must exist at the newest schema; a missing SQLite file is refused before
    connecting, so a command that only reads (or a mistyped path) never leaves an empty file behind.
    """
    from sqlalchemy.engine import make_url

    from openidds.clinic import connect, require_current
    from openidds.clinic.database import DEFAULT_PATH, database_url

    db = DEFAULT_PATH if db is None else db
    if ready:
        url = make_url(database_url(db))
        if url.get_backend_name() == "sqlite" and url.database and not Path(url.database).exists():
            raise OpenIDDSError("--db", db, f"an existing registry (there is no file {url.database}); create one "
                                f"with `openidds registry init --db {db}`, then import records into it")
    engine = connect(db)
    if ready:
        require_current(engine)
    return engine


def acting_user(user: str | None) -> str:
    """``user``, else ``$OPENIDDS_USER``, else the login name: who the audit trail names."""
    return user or os.environ.get("OPENIDDS_USER") or getpass.getuser()
