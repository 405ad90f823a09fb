"""The audit trail is append-only: the API refuses to change it, PostgreSQL refuses UPDATE and DELETE by
trigger, and the hash chain finds any entry changed, deleted or forged through raw SQL on SQLite."""

from __future__ import annotations

import datetime as dt
import hashlib
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import delete, func, select, text, update
from sqlalchemy.exc import DBAPIError

from openidds.clinic import RegistryError, import_batch, read_paths, unit_of_work
from openidds.clinic.audit_chain import AuditSeal, entry_hash, verify_audit_chain
from openidds.clinic.models import AuditEntry, Patient


@pytest.fixture
def registry(engine, data_dir):
    import_batch(engine, read_paths([data_dir / "good"]), "setup", "good")
    with unit_of_work(engine, "carol") as s:
        s.scalars(select(Patient).order_by(Patient.id)).first().bmi_kg_per_m2 = 22.5
    return engine


def _entries(engine) -> int:
    with engine.connect() as conn:
        return conn.scalar(select(func.count()).select_from(AuditEntry))


def test_every_entry_is_sealed_and_the_chain_verifies(registry):
    report = verify_audit_chain(registry)
    assert report.whole and report.entries == _entries(registry) > 20
    assert len(report.head) == 64
    with unit_of_work(registry, "dave") as s:
        s.scalars(select(Patient).order_by(Patient.id)).first().bmi_kg_per_m2 = 23.0
    again = verify_audit_chain(registry)
    assert again.whole and again.entries == report.entries + 1 and again.head != report.head


@pytest.mark.parametrize("change", ["edit", "delete", "add", "bulk update", "bulk delete", "seal"])
def test_the_api_refuses_any_change_to_the_trail(registry, change):
    before = verify_audit_chain(registry)
    with pytest.raises(RegistryError, match="append-only"), unit_of_work(registry, "mallory") as s:
        entry = s.scalars(select(AuditEntry).order_by(AuditEntry.id)).first()
        if change == "edit":
            entry.user_name = "someone else"
        elif change == "delete":
            s.delete(entry)
        elif change == "add":
            s.add(AuditEntry(at=dt.datetime(2024, 1, 1), user_name="x", action="insert", table_name="patients",
                             record_id=1))
        elif change == "bulk update":
            s.execute(update(AuditEntry).values(user_name="x"))
        elif change == "bulk delete":
            s.execute(delete(AuditEntry).where(AuditEntry.id == entry.id))
        else:
            s.get(AuditSeal, entry.id).hash = "0" * 64
    after = verify_audit_chain(registry)
    assert after.whole and (after.entries, after.head) == (before.entries, before.head)


def test_raw_sql_tampering_is_detected_on_sqlite_and_refused_on_postgresql(registry):
    with registry.connect() as conn:
        ids = conn.execute(select(AuditEntry.id).order_by(AuditEntry.id)).scalars().all()
    edited, deleted = ids[3], ids[10]
    statements = [f"UPDATE audit_log SET user_name = 'mallory' WHERE id = {edited}",
                  f"DELETE FROM audit_log WHERE id = {deleted}",
                  "UPDATE audit_chain SET hash = 'x'"]
    if registry.dialect.name == "postgresql":
        for statement in statements:
            with pytest.raises(DBAPIError, match="append-only"), registry.begin() as conn:
                conn.execute(text(statement))
        assert verify_audit_chain(registry).whole
        return
    with registry.begin() as conn:
        for statement in statements[:2]:
            conn.execute(text(statement))
        conn.execute(text("INSERT INTO audit_log (at, user_name, action, table_name, record_id) "
                          "VALUES ('2024-01-01 00:00:00.000000', 'mallory', 'insert', 'patients', 1)"))
    report = verify_audit_chain(registry)
    forged = ids[-1] + 1
    assert not report.whole
    assert [(f.record, f.message.split(":")[0]) for f in report.findings] == [
        (f"audit entry {edited}", "entry does not match its seal"),
        (f"audit entry {ids[11]}", "entry does not match its seal"),
        (f"audit entry {forged}", "entry has no seal"),
        (f"audit entry {deleted}", "sealed entry is missing")]


_VALUE = st.one_of(st.none(), st.text(), st.integers(), st.booleans(), st.floats(allow_nan=False))


@given(st.integers(1, 10**9), st.datetimes(), st.lists(_VALUE, min_size=7, max_size=7),
       st.sampled_from(["0" * 64, "ab" * 32]))
def test_a_seal_is_the_sha256_of_the_previous_seal_and_the_entrys_json(entry_id, at, values, previous):
    row = (entry_id, at, *values)
    content = json.dumps([entry_id, at.isoformat(), *values], separators=(",", ":"))
    assert entry_hash(previous, row) == hashlib.sha256((previous + content).encode()).hexdigest()
