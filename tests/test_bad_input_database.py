"""Bad `--db` values through the registry commands: a file that is not a database, a database OpenIDDS does not
keep a registry in, a server that does not answer, a URL that does not parse. Each is refused (exit 2) with
the database named, its password masked, and the file given left as it was."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.test_bad_input_corpus import Case, check

SECRET = "s3cr%40t"
"""A percent-encoded password ('s3cr@t'): neither form may ever be printed."""
HIDDEN = (SECRET, "s3cr@t")


def _closed_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _case(name: str, command: str, db: str, says: tuple[str, ...], files: dict | None = None) -> Case:
    return Case(name, ("registry", command, "--db", db), says, files or {}, never_says=HIDDEN)


PG = f"postgresql+psycopg://clinic:{SECRET}@127.0.0.1"
CASES = [
    _case("sqlite-file-that-is-text", "patients", "{dir}/notes.txt", ("notes.txt", "file is not a database"),
          {"notes.txt": b"Monday: call Mrs Smith about the refill\n" * 40}),
    _case("sqlite-file-that-is-text-init", "init", "{dir}/notes.txt", ("notes.txt", "file is not a database"),
          {"notes.txt": b"not a database\n" * 400}),
    _case("unknown-dialect-mysql", "patients", f"mysql://clinic:{SECRET}@localhost/registry",
          ("mysql://clinic:***@localhost/registry", "sqlite, postgresql")),
    _case("unknown-dialect-made-up", "init", f"oracle+nothing://clinic:{SECRET}@host/registry",
          ("oracle+nothing://clinic:***@host/registry", "sqlite, postgresql")),
    _case("postgresql-closed-port", "patients", f"{PG}:{_closed_port()}/registry",
          ("clinic:***@127.0.0.1", "a registry database that opens", "the server runs")),
    _case("postgresql-closed-port-init", "init", f"{PG}:{_closed_port()}/registry",
          ("clinic:***@127.0.0.1", "a registry database that opens")),
    Case("postgresql-short-password", ("registry", "patients", "--db",
                                       f"postgresql+psycopg://clinic:on@127.0.0.1:{_closed_port()}/registry"),
         ("clinic:***@127.0.0.1", "port", "Connection refused"), {}, never_says=(":on@",)),
    _case("url-that-does-not-parse", "check", f"postgresql://clinic:{SECRET}@host:port/registry",
          ("postgresql://clinic:***@host:port/registry", "a URL such as")),
]


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_refused_with_the_password_masked(case: Case, tmp_path: Path) -> None:
    check(case, tmp_path)
