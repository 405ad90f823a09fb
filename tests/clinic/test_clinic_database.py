"""Schema by migration, optimistic locking between two users, and the audit trail, on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import inspect, select

from openidds.clinic import ConcurrentUpdateError, RegistryError, connect, init_registry, unit_of_work
from openidds.clinic.database import current_revision, head_revision, new_sqlite_registry, require_current
from openidds.clinic.models import AuditEntry, Implant, Patient, Site


def _seed(engine) -> tuple[int, int]:
    with unit_of_work(engine, "setup") as s:
        site = Site(code="S1")
        patient = Patient(site=site, patient_code="P1", sex="female", birth_date=dt.date(1950, 1, 1))
        implant = Implant(patient=patient, implant_date=dt.date(2023, 1, 1), kind="initial", reservoir_ml=40.0)
        s.add_all([site, patient, implant])
        s.flush()
        return patient.id, implant.id


def test_init_creates_every_table_at_head_and_is_repeatable(engine):
    assert current_revision(engine) == head_revision()
    assert init_registry(engine) == head_revision()
    tables = set(inspect(engine).get_table_names())
    assert {"patients", "implants", "refills", "pump_programs", "pump_alarms", "pump_events", "visits",
            "complications", "exits", "screening_trials", "boluses", "audit_log", "alembic_version"} <= tables


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_empty_database_is_refused_until_initialised(request, tmp_path, backend):
    engine = connect(tmp_path / "new.sqlite" if backend == "sqlite" else request.getfixturevalue("fresh_pg_url"))
    with pytest.raises(RegistryError, match="registry init"):
        require_current(engine)
    assert inspect(engine).get_table_names() == []
    init_registry(engine)
    require_current(engine)
    assert set(inspect(engine).get_table_names()) >= {"patients", "audit_log", "refill_status"}
    engine.dispose()


@pytest.mark.parametrize("model", [Patient, Implant])
def test_two_users_changing_the_same_record_never_lose_an_update(engine, model):
    ids = dict(zip((Patient, Implant), _seed(engine), strict=True))
    record_id = ids[model]
    field, first, second = ("bmi_kg_per_m2", 20.5, 21.0) if model is Patient else ("catheter_tip_level", "T6", "T8")
    with pytest.raises(ConcurrentUpdateError), unit_of_work(engine, "bob") as bob:
        stale = bob.get(model, record_id)
        with unit_of_work(engine, "alice") as alice:
            setattr(alice.get(model, record_id), field, first)
        setattr(stale, field, second)
    with unit_of_work(engine, "bob") as bob:
        fresh = bob.get(model, record_id)
        assert getattr(fresh, field) == first
        assert fresh.version == 2
        setattr(fresh, field, second)
    with unit_of_work(engine, "reader") as s:
        final = s.get(model, record_id)
        assert (getattr(final, field), final.version) == (second, 3)
        updates = s.scalars(select(AuditEntry).where(AuditEntry.table_name == model.__tablename__,
                                                     AuditEntry.record_id == record_id,
                                                     AuditEntry.action == "update").order_by(AuditEntry.id)).all()
    saved = [(u.user_name, u.before[field], u.after[field]) for u in updates]
    lost = [change for change in (("alice", None, first), ("bob", first, second)) if change not in saved]
    print(f"\nlost updates on {engine.dialect.name} ({model.__tablename__}): 2 users saved one record read by both, "
          f"{len(lost)} lost, the stale save refused")
    assert saved == [("alice", None, first), ("bob", first, second)]


def test_audit_entry_commits_and_rolls_back_with_the_change(engine):
    patient_id, _ = _seed(engine)
    at = dt.datetime(2024, 5, 1, 12, 0, tzinfo=dt.UTC)
    with pytest.raises(RuntimeError), unit_of_work(engine, "carol", clock=lambda: at) as s:
        s.get(Patient, patient_id).sex = "male"
        s.flush()
        raise RuntimeError("interrupted")
    with unit_of_work(engine, "carol", clock=lambda: at, source="ward round") as s:
        assert s.get(Patient, patient_id).sex == "female"
        assert not s.scalars(select(AuditEntry).where(AuditEntry.user_name == "carol")).all()
        patient = s.get(Patient, patient_id)
        patient.sex = "male"
    with unit_of_work(engine, "reader") as s:
        entry = s.scalars(select(AuditEntry).where(AuditEntry.user_name == "carol")).one()
        inserted = s.scalars(select(AuditEntry).where(AuditEntry.action == "insert")).all()
    assert (entry.at, entry.action, entry.table_name, entry.record_id, entry.source) == (
        at.replace(tzinfo=None), "update", "patients", patient_id, "ward round")
    assert (entry.before, entry.after) == ({"sex": "female", "version": 1}, {"sex": "male", "version": 2})
    assert {e.table_name for e in inserted} == {"sites", "patients", "implants"}


def test_deletion_is_audited_with_the_values_before(engine):
    _, implant_id = _seed(engine)
    with unit_of_work(engine, "dave") as s:
        s.delete(s.get(Implant, implant_id))
    with unit_of_work(engine, "reader") as s:
        entry = s.scalars(select(AuditEntry).where(AuditEntry.action == "delete")).one()
    assert entry.user_name == "dave" and entry.after is None
    assert entry.before["implant_date"] == "2023-01-01" and entry.before["reservoir_ml"] == 40.0


def test_changes_without_a_user_are_refused(engine):
    with pytest.raises(RegistryError, match="user"), unit_of_work(engine, "") as s:
        s.add(Site(code="X"))


def test_a_new_sqlite_registry_is_a_migrated_copy_and_a_used_file_is_refused(tmp_path):
    first, second = tmp_path / "a.sqlite", tmp_path / "b.sqlite"
    for path in (first, second):
        path.touch()
        new_sqlite_registry(path)
        engine = connect(path)
        assert current_revision(engine) == head_revision() and "pump_events" in inspect(engine).get_table_names()
        engine.dispose()
    engine = connect(first)
    _seed(engine)
    engine.dispose()
    with pytest.raises(RegistryError, match="a new, empty file"):
        new_sqlite_registry(first)

