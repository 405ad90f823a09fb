"""Pump event-log import: the pump's own wire-format log, stored as the pump wrote it, linked to the implant,
append-only and idempotent; the stored log rebuilds the pump's totals exactly."""

from __future__ import annotations

import csv
import datetime as dt
import json
from collections.abc import Callable
from dataclasses import replace
from importlib.resources import files
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, create_engine, make_url, select, text

from openidds.clinic import (
    ImportRejected,
    RegistryError,
    connect,
    import_batch,
    import_pump_log,
    init_registry,
    pump_log,
    read_paths,
    unit_of_work,
)
from openidds.clinic.audit_chain import AuditSeal, verify_audit_chain
from openidds.clinic.database import with_clock
from openidds.clinic.models import AuditEntry, Base, Implant, PumpEvent
from openidds.clinic.pump_log import PumpLogImport, import_pump_logs, stored_pump_log
from openidds.pump import rebuild_totals
from openidds.pump.scenario import load_scenario, run_scenario
from openidds.pump.timeline import summary
from openidds.pump.wire import PumpLog, export_log

IMPLANT = dt.date(2022, 9, 1)


@pytest.fixture
def registry(engine, data_dir):
    import_batch(engine, read_paths([data_dir / "good"]), "setup", "good")
    return engine


def _events(engine) -> list[PumpEvent]:
    with unit_of_work(engine, "reader") as s:
        return list(s.scalars(select(PumpEvent).order_by(PumpEvent.seq)))


def test_log_events_are_stored_linked_to_the_implant_and_audited(registry, data_dir):
    assert import_pump_log(registry, data_dir / "pump_log.json", "CJFH", "P001", IMPLANT, "tech") == 5
    events = _events(registry)
    raw = json.loads((data_dir / "pump_log.json").read_text())
    assert [(e.seq, e.kind, e.reason, e.data) for e in events] == [
        (r["seq"], r["kind"], r["reason"], r["data"]) for r in raw["events"]]
    assert events[4].at == dt.datetime(2022, 9, 1, 13, 0)  # clock_start 10:00 UTC + t_s 10800
    with unit_of_work(registry, "reader") as s:
        assert {s.get(Implant, e.implant_id).serial_number for e in events} == {"NGP100001"}
        [entry] = s.scalars(select(AuditEntry).where(AuditEntry.table_name == "pump_events")).all()
    ids = [e.id for e in events]
    assert (entry.action, entry.record_id, entry.user_name) == ("insert_log", events[0].implant_id, "tech")
    assert entry.after["events"] == 5 and entry.after["ids"] == [[ids[0], ids[-1]]]
    assert len(entry.after["digest"]) == 64 and verify_audit_chain(registry).whole


@pytest.mark.parametrize("tamper", [
    "UPDATE pump_events SET data = '{\"volume\": 1}' WHERE seq = 3",
    "UPDATE pump_events SET at = at WHERE seq = 2; UPDATE pump_events SET reason = 'edited' WHERE seq = 2",
    "DELETE FROM pump_events WHERE seq = 4",
])
def test_a_changed_or_deleted_event_breaks_its_logs_digest(registry, data_dir, tamper):
    """REG-AUDIT-LOG: a log's one audit entry seals its events; raw SQL that changes or deletes one is found."""
    import_pump_log(registry, data_dir / "pump_log.json", "CJFH", "P001", IMPLANT, "tech")
    with registry.begin() as conn:
        for statement in tamper.split("; "):
            conn.execute(text(statement))
    [finding] = verify_audit_chain(registry).findings
    assert finding.rule == "pump-log-seal" and "no longer matches the digest" in finding.message


def test_an_event_written_outside_the_registry_is_found(registry, data_dir):
    import_pump_log(registry, data_dir / "pump_log.json", "CJFH", "P001", IMPLANT, "tech")
    with registry.begin() as conn:
        conn.execute(text("INSERT INTO pump_events (implant_id, seq, at, kind, reason, data, version) SELECT "
                          "implant_id, 99, at, kind, reason, data, version FROM pump_events WHERE seq = 4"))
    [finding] = verify_audit_chain(registry).findings
    assert finding.rule == "pump-log-seal" and "written outside the registry" in finding.message


def test_reimporting_a_grown_log_adds_only_the_new_events(registry, data_dir, tmp_path):
    import_pump_log(registry, data_dir / "pump_log.json", "CJFH", "P001", IMPLANT, "tech")
    grown = json.loads((data_dir / "pump_log.json").read_text())
    grown["events"].append({"seq": 5, "t_s": 20000, "kind": "alarm", "reason": "low reservoir",
                            "data": {"alarm": "low_reservoir", "severity": "non-critical"}})
    path = tmp_path / "log.json"
    path.write_text(json.dumps(grown))
    assert import_pump_log(registry, path, "CJFH", "P001", IMPLANT, "tech") == 1
    assert import_pump_log(registry, path, "CJFH", "P001", IMPLANT, "tech") == 0
    assert [e.seq for e in _events(registry)] == [0, 1, 2, 3, 4, 5]


def _event(log, i):
    return log["events"][i]


@pytest.mark.parametrize(("change", "rule"), [
    (lambda log: _event(log, 1).update(reason="changed"), "event-conflict"),
    (lambda log: log.update(clock_start="2022-08-01T00:00:00Z"), "within-implant"),
    (lambda log: _event(log, 0).update(extra=1), "event"),
    (lambda log: _event(log, 2).update(kind="teleport"), "event"),
    (lambda log: _event(log, 3)["data"].pop("dose"), "event"),
    (lambda log: log.update(clock_start="2022-09-01T10:00:00"), "log-shape"),
    (lambda log: log.update(wire_version=0), "log-shape"),
    (lambda log: _event(log, 3).update(seq=2), "event-order"),
])
def test_bad_or_conflicting_events_are_refused_and_nothing_is_written(registry, data_dir, tmp_path, change, rule):
    import_pump_log(registry, data_dir / "pump_log.json", "CJFH", "P001", IMPLANT, "tech")
    log = json.loads((data_dir / "pump_log.json").read_text())
    change(log)
    log["events"].append({"seq": 9, "t_s": 90000, "kind": "interrogation", "reason": "read", "data": {}})
    path = tmp_path / "log.json"
    path.write_text(json.dumps(log))
    with pytest.raises(ImportRejected) as caught:
        import_pump_log(registry, path, "CJFH", "P001", IMPLANT, "tech")
    assert rule in {f.rule for f in caught.value.findings}
    assert [e.seq for e in _events(registry)] == [0, 1, 2, 3, 4]


def test_an_old_format_log_is_refused_saying_how_to_go_on(registry, tmp_path):
    path = tmp_path / "old.json"
    path.write_text(json.dumps([{"seq": 1, "at": "2022-09-01T10:00:00Z", "kind": "refill", "reason": "", "data": {}}]))
    with pytest.raises(ImportRejected) as caught:
        import_pump_log(registry, path, "CJFH", "P001", IMPLANT, "tech")
    [finding] = caught.value.findings
    assert finding.rule == "log-shape" and "export the log again" in finding.message


def _patient_implanted_on(tmp_path, data_dir, day: dt.date):
    """A copy of patient P001 as P900, implanted on ``day`` (the scenario's start)."""
    folder = tmp_path / "p900"
    folder.mkdir()
    changes = {"patients.csv": {"patient_id": "P900", "mrn": "MRN900", "last_contact_date": "2026-12-31"},
               "implants.csv": {"patient_id": "P900", "serial_number": "NGP100900", "udi": "",
                                "implant_date": day.isoformat()}}
    for name, change in changes.items():
        with (data_dir / "good" / name).open(newline="") as f:
            row = next(r for r in csv.DictReader(f) if r["patient_id"] == "P001") | change
        with (folder / name).open("w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=list(row))
            writer.writeheader()
            writer.writerow(row)
    return folder


@pytest.mark.parametrize("name", ["occlusion_found_at_refill", "concentration_change", "demo_90_days"])
def test_a_scenario_log_round_trips_through_the_registry_exactly(registry, data_dir, tmp_path, name):
    """PUMP-LOG-2: every event of a simulated pump's exported log is stored for its implant, and the stored
    log rebuilds the pump's totals exactly."""
    text = files("openidds.pump").joinpath("scenarios", f"{name}.toml").read_text()
    run = run_scenario(load_scenario(text))
    path = tmp_path / "log.json"
    path.write_text(export_log(run.pump.log, run.scenario.start, summary(run)).model_dump_json())
    day = run.scenario.start.date()
    import_batch(registry, read_paths([_patient_implanted_on(tmp_path, data_dir, day)]), "setup", "p900")
    assert import_pump_log(registry, path, "CJFH", "P900", day, "tech") == len(run.pump.log)
    stored = stored_pump_log(registry, "CJFH", "P900", day)
    assert [e.to_event() for e in stored.events] == list(run.pump.log)
    assert rebuild_totals(e.to_event() for e in stored.events) == run.pump.totals()
    kinds = {e.kind for e in stored.events}
    assert {"delivery", "refill", "implant"} <= kinds


AT = dt.datetime(2027, 1, 1, 12, 0)


def _empty_registry(url: str) -> Engine:
    """The registry at ``url`` emptied and migrated, its audit time fixed at :data:`AT`."""
    if url.startswith("sqlite"):
        Path(make_url(url).database or "").unlink(missing_ok=True)
    else:
        engine = create_engine(url)
        tables = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
        with engine.begin() as conn:
            conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
        engine.dispose()
    engine = connect(url)
    init_registry(engine)
    return with_clock(engine, lambda: AT)


def _stored_rows(engine: Engine) -> tuple[list[Any], ...]:
    """The pump events, the audit entries and the audit chain as stored."""
    e, a = PumpEvent, AuditEntry
    with unit_of_work(engine, "reader") as s:
        events = s.execute(select(e.id, e.implant_id, e.seq, e.at, e.kind, e.reason, e.data).order_by(e.id)).all()
        entries = s.execute(select(a.id, a.at, a.user_name, a.action, a.table_name, a.record_id, a.after, a.source)
                            .order_by(a.id)).all()
        seals = s.execute(select(AuditSeal.entry_id, AuditSeal.hash).order_by(AuditSeal.entry_id)).all()
    return events, entries, seals


def _alarms_apart(entries: list[Any], source: bool = True) -> tuple[list[Any], list[Any]]:
    """The audit entries without their ids: those of other tables in order, then those of the alarm record (its
    alarms are derived once at the end of a bulk import, once per log one by one; their source is the import's)."""
    alarms = [(row.table_name, row.record_id, row.after) for row in entries if row.table_name == "clinic_alarms"]
    others = [tuple(row[1:] if source else row[1:-1]) for row in entries if row.table_name != "clinic_alarms"]
    assert alarms, "the logs hold alarms"
    return others, alarms


@pytest.fixture
def two_logs(data_dir, tmp_path) -> tuple[list[PumpLogImport], Path]:
    """P001's log from the test data and a simulated pump's log for a copy of P001 (P900), as files."""
    run = run_scenario(load_scenario(files("openidds.pump").joinpath("scenarios", "demo_90_days.toml").read_text()))
    path = tmp_path / "p900.json"
    path.write_text(export_log(run.pump.log, run.scenario.start).model_dump_json())
    day = run.scenario.start.date()
    return ([PumpLogImport(data_dir / "pump_log.json", "CJFH", "P001", IMPLANT),
             PumpLogImport(path, "CJFH", "P900", day)], _patient_implanted_on(tmp_path, data_dir, day))


def _registry_with_patients(url: str, data_dir: Path, p900: Path) -> Engine:
    engine = _empty_registry(url)
    import_batch(engine, read_paths([data_dir / "good"]), "setup", "good")
    import_batch(engine, read_paths([p900]), "setup", "p900")
    return engine


def test_a_bulk_import_stores_what_imports_one_by_one_store(db_url, data_dir, two_logs):
    """Bulk and one-by-one give the same events, audit entries and seals; so do parsed logs (but the
    audit's source, which names each log by its file or its implant)."""
    logs, p900 = two_logs
    engine = _registry_with_patients(db_url, data_dir, p900)
    added = [import_pump_log(engine, item.log, item.site, item.patient_id, item.implant_date, "tech")
             for item in logs if isinstance(item.log, Path)]
    one_by_one = _stored_rows(engine)
    engine.dispose()
    assert {row.at for row in one_by_one[1]} == {AT}  # the engine's clock, not the wall clock

    engine = _registry_with_patients(db_url, data_dir, p900)
    assert import_pump_logs(engine, logs, "tech") == added
    assert added[0] == 5 and added[1] > 100
    events, entries, _ = _stored_rows(engine)
    assert events == one_by_one[0]
    assert _alarms_apart(entries) == _alarms_apart(one_by_one[1])
    assert verify_audit_chain(engine).whole
    engine.dispose()

    engine = _registry_with_patients(db_url, data_dir, p900)
    parsed = [replace(item, log=PumpLog.model_validate_json(Path(str(item.log)).read_text())) for item in logs]
    assert import_pump_logs(engine, parsed, "tech", source="interrogation") == added
    events, entries, _ = _stored_rows(engine)
    assert events == one_by_one[0]
    assert _alarms_apart(entries, source=False) == _alarms_apart(one_by_one[1], source=False)
    assert {row.source for row in entries if row.table_name == "pump_events"} == {"interrogation"}
    assert verify_audit_chain(engine).whole
    engine.dispose()


def test_a_bulk_import_with_one_bad_log_writes_nothing_and_names_every_finding(db_url, data_dir, two_logs,
                                                                                 tmp_path):
    logs, p900 = two_logs
    engine = _registry_with_patients(db_url, data_dir, p900)
    log = json.loads((data_dir / "pump_log.json").read_text())
    log["events"][1]["seq"] = 0
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(log))
    late = PumpLog.model_validate_json(Path(str(logs[1].log)).read_text())
    late = late.model_copy(update={"clock_start": late.clock_start - dt.timedelta(days=2)})
    with pytest.raises(ImportRejected) as caught:
        import_pump_logs(engine, [replace(logs[0], log=bad), replace(logs[1], log=late)], "tech")
    found = {(f.rule, f.location) for f in caught.value.findings}
    assert ("event-order", "bad.json") in found
    assert ("within-implant", f"pump log CJFH/P900 {logs[1].implant_date}") in found
    assert _events(engine) == []
    engine.dispose()


@pytest.mark.parametrize("block", [1, 50])
def test_an_import_written_a_block_at_a_time_stores_what_one_block_stores(db_url, data_dir, two_logs, monkeypatch,
                                                                          block):
    """Logs read when the import reaches them (a function exporting each) and written in blocks of whole logs (each
    log its own block, or blocks past a log's first 50 events) give the same events, audit entries and seals as
    the files written in one block."""
    logs, p900 = two_logs
    engine = _registry_with_patients(db_url, data_dir, p900)
    added = import_pump_logs(engine, logs, "tech", source="interrogation")
    whole = _stored_rows(engine)
    engine.dispose()

    monkeypatch.setattr(pump_log, "EVENTS_PER_BLOCK", block)
    reads: list[str] = []

    def reader(item: PumpLogImport) -> Callable[[], PumpLog]:
        def read() -> PumpLog:
            reads.append(item.patient_id)
            return PumpLog.model_validate_json(Path(str(item.log)).read_text())
        return read

    engine = _registry_with_patients(db_url, data_dir, p900)
    assert import_pump_logs(engine, [replace(item, log=reader(item)) for item in logs], "tech",
                            source="interrogation") == added
    assert reads == ["P001", "P900"]
    assert _stored_rows(engine) == whole
    assert verify_audit_chain(engine).whole
    engine.dispose()


def test_a_bad_log_after_blocks_were_written_writes_nothing(db_url, data_dir, two_logs, monkeypatch, tmp_path):
    logs, p900 = two_logs
    engine = _registry_with_patients(db_url, data_dir, p900)
    monkeypatch.setattr(pump_log, "EVENTS_PER_BLOCK", 1)
    late = PumpLog.model_validate_json(Path(str(logs[1].log)).read_text())
    late = late.model_copy(update={"clock_start": late.clock_start - dt.timedelta(days=2)})
    with pytest.raises(ImportRejected) as caught:
        import_pump_logs(engine, [logs[0], replace(logs[1], log=late)], "tech")
    assert {(f.rule, f.location) for f in caught.value.findings} == {
        ("within-implant", f"pump log CJFH/P900 {logs[1].implant_date}")}
    assert _events(engine) == []
    with unit_of_work(engine, "reader") as s:
        assert s.scalars(select(AuditEntry).where(AuditEntry.table_name == "pump_events")).all() == []
    engine.dispose()


def test_a_pump_log_for_an_implant_not_in_the_registry_is_refused(registry, data_dir):
    with pytest.raises(RegistryError, match="an implant in the registry"):
        import_pump_logs(registry, [PumpLogImport(data_dir / "pump_log.json", "CJFH", "P001",
                                                  IMPLANT + dt.timedelta(days=1))], "tech")


def test_a_log_without_events_adds_nothing_and_writes_no_audit_entry(registry, data_dir):
    empty = PumpLog.model_validate({**json.loads((data_dir / "pump_log.json").read_text()), "events": []})
    assert import_pump_logs(registry, [PumpLogImport(empty, "CJFH", "P001", IMPLANT)], "tech") == [0]
    assert _events(registry) == []
    with unit_of_work(registry, "reader") as s:
        assert s.scalars(select(AuditEntry).where(AuditEntry.table_name == "pump_events")).all() == []
