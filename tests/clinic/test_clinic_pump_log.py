"""Pump event-log import: stored as the pump wrote it, linked to the implant, append-only and idempotent."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from sqlalchemy import func, select

from openidds.clinic import ImportRejected, import_batch, import_pump_log, read_paths, unit_of_work
from openidds.clinic.models import AuditEntry, Implant, PumpEvent

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
        (r["seq"], r["kind"], r["reason"], r["data"]) for r in raw]
    assert events[2].at == dt.datetime(2022, 9, 2, 3, 10)
    with unit_of_work(registry, "reader") as s:
        assert {s.get(Implant, e.implant_id).serial_number for e in events} == {"NGP100001"}
        audited = s.scalar(select(func.count()).select_from(AuditEntry).where(AuditEntry.table_name == "pump_events"))
    assert audited == 5


def test_reimporting_a_grown_log_adds_only_the_new_events(registry, data_dir, tmp_path):
    import_pump_log(registry, data_dir / "pump_log.json", "CJFH", "P001", IMPLANT, "tech")
    grown = json.loads((data_dir / "pump_log.json").read_text())
    grown.append({"seq": 6, "at": "2022-12-08T09:30:00Z", "kind": "refill", "reason": "clinic refill", "data": {}})
    path = tmp_path / "log.json"
    path.write_text(json.dumps(grown))
    assert import_pump_log(registry, path, "CJFH", "P001", IMPLANT, "tech") == 1
    assert import_pump_log(registry, path, "CJFH", "P001", IMPLANT, "tech") == 0
    assert [e.seq for e in _events(registry)] == [1, 2, 3, 4, 5, 6]


@pytest.mark.parametrize(("change", "rule"), [
    (lambda log: log[1].update(reason="changed"), "event-conflict"),
    (lambda log: log[0].update(at="2022-08-01T00:00:00Z"), "within-implant"),
    (lambda log: log[0].update(extra=1), "event"),
    (lambda log: log[0].update(at="2022-09-01T10:00:00+02:00"), "event"),
    (lambda log: log[3].update(seq=2), "event-order"),
])
def test_bad_or_conflicting_events_are_refused_and_nothing_is_written(registry, data_dir, tmp_path, change, rule):
    import_pump_log(registry, data_dir / "pump_log.json", "CJFH", "P001", IMPLANT, "tech")
    log = json.loads((data_dir / "pump_log.json").read_text())
    change(log)
    log.append({"seq": 9, "at": "2022-12-09T00:00:00Z", "kind": "delivery", "reason": "basal", "data": {}})
    path = tmp_path / "log.json"
    path.write_text(json.dumps(log))
    with pytest.raises(ImportRejected) as caught:
        import_pump_log(registry, path, "CJFH", "P001", IMPLANT, "tech")
    assert rule in {f.rule for f in caught.value.findings}
    assert [e.seq for e in _events(registry)] == [1, 2, 3, 4, 5]
