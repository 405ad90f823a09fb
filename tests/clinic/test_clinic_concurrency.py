"""Cross-record rules hold under concurrency: of two changes valid alone but not together (a death on 1 June,
a follow-up visit on 1 July, same patient), started at the same moment, never both commit, whether they come as
imports or as edits through the write API (``unit_of_work``). Run with ``-s`` to print the tallies."""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable

import pytest
from sqlalchemy import Engine, func, select

from openidds.clinic import (
    SPECS,
    ConcurrentUpdateError,
    ImportRejected,
    connect,
    import_batch,
    init_registry,
    unit_of_work,
)
from openidds.clinic.errors import RuleViolation
from openidds.clinic.importer import Batch, parse_rows
from openidds.clinic.models import Exit, Patient, Visit

PAIRS = 40
TIMEOUT_S = 120
DEATH = {"exit_date": "2024-06-01", "reason": "death", "death_date": "2024-06-01"}
VISIT = {"visit_date": "2024-07-01", "visit_type": "follow_up", "nrs": "4"}
Write = Callable[[Engine, int, str], None]


def _rows(spec: str, k: int, cells: dict[str, str]) -> Batch:
    return parse_rows(SPECS[spec], [(f"{spec}.csv:{k + 2}", {"site": "S1", "patient_id": f"P{k:03d}", **cells})])


def _setup(engine) -> None:
    batch = Batch()
    for k in range(PAIRS):
        batch.extend(_rows("patients", k, {"sex": "female", "age_at_implant_years": "70"}))
        batch.extend(_rows("implants", k, {"implant_date": "2024-01-10", "kind": "initial"}))
    import_batch(engine, batch, "setup", "setup")


def _by_import(engine: Engine, k: int, kind: str) -> None:
    import_batch(engine, _rows(kind, k, DEATH if kind == "exits" else VISIT), f"user-{kind}", f"{kind}.csv")


def _by_api(engine: Engine, k: int, kind: str) -> None:
    with unit_of_work(engine, f"user-{kind}") as s:
        pid = s.scalars(select(Patient.id).where(Patient.patient_code == f"P{k:03d}")).one()
        if kind == "exits":
            s.add(Exit(patient_id=pid, exit_date=dt.date(2024, 6, 1), reason="death", death_date=dt.date(2024, 6, 1)))
        else:
            s.add(Visit(patient_id=pid, visit_date=dt.date(2024, 7, 1), visit_type="follow_up", nrs=4))


@pytest.mark.parametrize("write", [_by_import, _by_api], ids=["import", "api"])
def test_a_death_and_a_later_visit_saved_at_once_never_both_commit(db_url, write: Write):
    engine = connect(db_url)
    try:
        init_registry(engine)
        _setup(engine)
        outcomes: dict[tuple[int, str], object] = {}

        def run(k: int, kind: str, barrier: threading.Barrier) -> None:
            barrier.wait(TIMEOUT_S)
            try:
                write(engine, k, kind)
                outcomes[(k, kind)] = "committed"
            except (ImportRejected, RuleViolation, ConcurrentUpdateError) as exc:
                outcomes[(k, kind)] = exc
            except Exception as exc:  # any other error is a failure of the test, reported below
                outcomes[(k, kind)] = repr(exc)

        for k in range(PAIRS):
            barrier = threading.Barrier(2)
            threads = [threading.Thread(target=run, args=(k, kind, barrier)) for kind in ("exits", "visits")]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(TIMEOUT_S)
                assert not thread.is_alive(), f"pair {k} did not finish within {TIMEOUT_S} s"
        both = [k for k in range(PAIRS) if outcomes[(k, "exits")] == outcomes[(k, "visits")] == "committed"]
        refusals = [v for v in outcomes.values() if v != "committed"]
        with unit_of_work(engine, "reader") as s:
            rows = s.scalar(select(func.count()).select_from(Exit)) + s.scalar(select(func.count()).select_from(Visit))
        partial = rows - (len(outcomes) - len(refusals))
        print(f"\n{write.__name__[4:]} on {engine.dialect.name}: {PAIRS} pairs tried, {len(both)} rule violations "
              f"(both committed), {len(refusals)} refused, {partial} rows written by refused changes")
        assert both == []
        assert len(refusals) == PAIRS
        for refusal in refusals:
            assert isinstance(refusal, ImportRejected | RuleViolation | ConcurrentUpdateError), refusal
            if isinstance(refusal, ImportRejected | RuleViolation):
                assert {f.rule for f in refusal.findings} == {"before-death"}, refusal.findings
        assert partial == 0
    finally:
        engine.dispose()
