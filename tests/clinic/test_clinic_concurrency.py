"""Cross-record rules hold under concurrency: of two imports valid alone but not together (a death on 1 June,
a follow-up visit on 1 July, same patient), started at the same moment, never both commit."""

from __future__ import annotations

import threading

from sqlalchemy import func, select

from openidds.clinic import (
    SPECS,
    ConcurrentUpdateError,
    ImportRejected,
    connect,
    import_batch,
    init_registry,
    unit_of_work,
)
from openidds.clinic.importer import Batch, parse_rows
from openidds.clinic.models import Exit, Visit

PAIRS = 40
TIMEOUT_S = 120


def _rows(spec: str, k: int, cells: dict[str, str]) -> Batch:
    return parse_rows(SPECS[spec], [(f"{spec}.csv:{k + 2}", {"site": "S1", "patient_id": f"P{k:03d}", **cells})])


def _setup(engine) -> None:
    batch = Batch()
    for k in range(PAIRS):
        batch.extend(_rows("patients", k, {"sex": "female", "age_at_implant_years": "70"}))
        batch.extend(_rows("implants", k, {"implant_date": "2024-01-10", "kind": "initial"}))
    import_batch(engine, batch, "setup", "setup")


def test_a_death_and_a_later_visit_saved_at_once_never_both_commit(db_url):
    engine = connect(db_url)
    try:
        init_registry(engine)
        _setup(engine)
        death = {"exit_date": "2024-06-01", "reason": "death", "death_date": "2024-06-01"}
        visit = {"visit_date": "2024-07-01", "visit_type": "follow_up", "nrs": "4"}
        outcomes: dict[tuple[int, str], object] = {}

        def run(k: int, kind: str, batch: Batch, barrier: threading.Barrier) -> None:
            barrier.wait(TIMEOUT_S)
            try:
                import_batch(engine, batch, f"user-{kind}", f"{kind}.csv")
                outcomes[(k, kind)] = "committed"
            except (ImportRejected, ConcurrentUpdateError) as exc:
                outcomes[(k, kind)] = exc
            except Exception as exc:  # any other error is a failure of the test, reported below
                outcomes[(k, kind)] = repr(exc)

        for k in range(PAIRS):
            barrier = threading.Barrier(2)
            threads = [threading.Thread(target=run, args=(k, "exits", _rows("exits", k, death), barrier)),
                       threading.Thread(target=run, args=(k, "visits", _rows("visits", k, visit), barrier))]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(TIMEOUT_S)
                assert not thread.is_alive(), f"pair {k} did not finish within {TIMEOUT_S} s"
        both = [k for k in range(PAIRS) if outcomes[(k, "exits")] == outcomes[(k, "visits")] == "committed"]
        refusals = [v for v in outcomes.values() if v != "committed"]
        assert both == []
        assert len(refusals) == PAIRS
        for refusal in refusals:
            assert isinstance(refusal, ImportRejected | ConcurrentUpdateError), refusal
            if isinstance(refusal, ImportRejected):
                assert {f.rule for f in refusal.findings} == {"before-death"}, refusal.findings
        with unit_of_work(engine, "reader") as s:
            exits = s.scalar(select(func.count()).select_from(Exit))
            visits = s.scalar(select(func.count()).select_from(Visit))
        assert exits + visits == PAIRS
    finally:
        engine.dispose()
