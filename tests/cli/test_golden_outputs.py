"""Golden bytes: a scenario's exported pump log and a small cohort registry's pump events, audit entries and
seals, hashed. Speed-ups of the log's path (events, wire export, import, audit encoding) must leave every byte
as it was; a change meant to alter these outputs updates the hashes here, saying why in its commit."""

import hashlib
import sqlite3
from contextlib import closing
from pathlib import Path

from typer.testing import CliRunner

from openidds.cli import app

runner = CliRunner()


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def test_a_scenarios_exported_log_is_byte_for_byte_the_same():
    result = runner.invoke(app, ["pump", "simulate", "concentration_change", "--json"])
    assert result.exit_code == 0, result.output
    assert _sha256(result.stdout_bytes) == "b88a499bae9ac91ea28fa219208e26cda4b3fe2de4d3552d57bdd5da62203308"


def test_a_cohort_registrys_pump_events_audit_entries_and_seals_are_byte_for_byte_the_same(tmp_path: Path):
    db = tmp_path / "r.sqlite"
    result = runner.invoke(app, ["cohort", "run", "seed000", "--seed", "3", "--patients", "6", "--db", str(db)])
    assert result.exit_code == 0, result.output
    with closing(sqlite3.connect(db)) as con:
        dumps = {table: con.execute(f"SELECT * FROM {table} ORDER BY 1").fetchall()
                 for table in ("pump_events", "audit_log", "audit_chain")}
    assert {table: (len(rows), _sha256(repr(rows).encode())) for table, rows in dumps.items()} == {
        "pump_events": (5154, "af0628cc5de1372ee884a55fbf6622db3e372f37c3353999975fdd818b7141aa"),
        "audit_log": (85, "0752f3126284ec7c747fc6452a2a33d934abfa224b15215a1ff1e7f466b52bd1"),
        "audit_chain": (85, "0680aadccb89b6af8c423bc18a104799aa31e1c18029075218ff078639397e7a"),
    }
