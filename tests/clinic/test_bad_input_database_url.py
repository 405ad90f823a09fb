"""A PostgreSQL URL whose password is percent-encoded works end to end, and no refusal prints the password."""

from __future__ import annotations

import uuid
from urllib.parse import quote

from sqlalchemy import create_engine, make_url, text
from typer.testing import CliRunner

from openidds.cli import app
from openidds.clinic.database import masked

PASSWORD = "p@ss%w:rd/1"


def test_a_percent_encoded_password_reaches_the_server_and_the_migrations(pg_server_url: str) -> None:
    admin = create_engine(pg_server_url, isolation_level="AUTOCOMMIT")
    name = f"openidds_pct_{uuid.uuid4().hex[:8]}"
    with admin.connect() as conn:
        conn.execute(text(f"CREATE ROLE {name} LOGIN CREATEDB PASSWORD '{PASSWORD}'"))
        conn.execute(text(f'CREATE DATABASE "{name}" OWNER {name}'))
    server = make_url(pg_server_url)
    url = f"postgresql+psycopg://{name}:{quote(PASSWORD, safe='')}@{server.host}:{server.port}/{name}"
    try:
        runner = CliRunner()
        result = runner.invoke(app, ["registry", "init", "--db", url])
        assert result.exit_code == 0 and "ready at schema revision" in result.output, result.output
        result = runner.invoke(app, ["registry", "patients", "--db", url, "--json"])
        assert result.exit_code == 0 and result.output.strip() == "[]", result.output
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            conn.execute(text(f"DROP ROLE IF EXISTS {name}"))
        admin.dispose()


def test_masked_hides_a_password_in_any_form() -> None:
    url = f"postgresql+psycopg://amy:{quote(PASSWORD, safe='')}@db.clinic:5432/registry"
    assert masked(url) == "postgresql+psycopg://amy:***@db.clinic:5432/registry"
    assert masked(make_url(url)) == masked(url)
    assert masked("/var/lib/registry.sqlite") == "/var/lib/registry.sqlite"
    assert masked(f"postgresql://amy:{PASSWORD}@db.clinic/registry") == "postgresql://amy:***@db.clinic/registry"
    assert masked("postgresql://amy@db.clinic/registry") == "postgresql://amy@db.clinic/registry"
