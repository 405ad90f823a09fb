"""Adverse events counted as events and as patients, by kind and grade, early and late; reoperations by reason;
30-day and in-hospital mortality."""

from dataclasses import dataclass

import numpy as np
import pandas as pd

from openidds.outcomes import _checks
from openidds.outcomes.report import _format as fmt
from openidds.outcomes.report.characteristics import level_text
from openidds.outcomes.report.columns import split_items
from openidds.outcomes.report.document import Paragraph, Row, Table

EARLY_DAYS = 30
"""An event within this many days of the implant is early (day 30 included); later ones are late."""
SEVERE_GRADE = 3


@dataclass(frozen=True)
class Event:
    patient: int
    day: float
    kind: str
    grade: int


def complication_events(frame: pd.DataFrame) -> tuple[list[Event], int]:
    """Every complication of the ``complications`` list, and the number of patients with no list recorded."""
    items = split_items(frame["complications"])
    events = [Event(i, float(day), kind, int(float(grade))) for i, row in enumerate(items) for day, kind, grade, _
              in (row or [])]
    return events, sum(1 for row in items if row is None)


def _count(events: list[Event]) -> tuple[int, int]:
    return len(events), len({e.patient for e in events})


def complication_table(frame: pd.DataFrame) -> tuple[Paragraph, Table, dict]:
    """Events and patients by kind, early (≤ 30 days) and late, and by grade."""
    events, unrecorded = complication_events(frame)
    n = len(frame) - unrecorded
    kinds = sorted({e.kind for e in events}, key=lambda k: (-sum(e.kind == k for e in events), k))

    def row(label: str, chosen: list[Event], level: int = 1) -> Row:
        early = [e for e in chosen if e.day <= EARLY_DAYS]
        late = [e for e in chosen if e.day > EARLY_DAYS]
        severe = [e for e in chosen if e.grade >= SEVERE_GRADE]
        k, patients = _count(chosen)
        return Row((label, str(k), fmt.count_pct(patients, n), *(f"{a} / {b}" for a, b in (_count(early),
                                                                                           _count(late),
                                                                                           _count(severe)))), level)

    total, patients = _count(events)
    rows = [row("All complications", events, 0), *(row(level_text(k), [e for e in events if e.kind == k])
                                                  for k in kinds)]
    rows.append(Row(("By grade", "", "", "", "", "")))
    rows += [row(f"grade {g}", [e for e in events if e.grade == g]) for g in range(1, 6)]
    early_k, early_p = _count([e for e in events if e.day <= EARLY_DAYS])
    share = patients / n if n else None
    text = (f"{total} adverse events were recorded in {patients} of {n} patients ({fmt.pct(share)}); "
            f"{early_k} events in {early_p} patients were early (within {EARLY_DAYS} days of the implant).")
    notes = [f"Events: every complication recorded; patients: n (%) of the {n} patients with a complication record "
             "(a patient counts once per row). Early / late and grade ≥ 3 columns give events / patients. Early = "
             f"onset within {EARLY_DAYS} days of the first implant (day {EARLY_DAYS} included). Grades after CTCAE "
             "v5: 3 severe, 4 life-threatening, 5 death."]
    if unrecorded:
        notes.append(f"{unrecorded} patients have no complication record (empty 'complications'), so are left out.")
    results = {"events": total, "patients": patients, "n": n, "unrecorded": unrecorded,
               "early": {"events": early_k, "patients": early_p},
               "by_kind": {k: dict(zip(("events", "patients"), _count([e for e in events if e.kind == k]),
                                       strict=True)) for k in kinds},
               "by_grade": {g: dict(zip(("events", "patients"), _count([e for e in events if e.grade == g]),
                                        strict=True)) for g in range(1, 6)}}
    table = Table("Complications by kind and grade, as events and as patients",
                  ("Complication", "Events", "Patients, n (%)", "Early, events / patients",
                   "Late, events / patients", "Grade ≥ 3, events / patients"), tuple(rows), tuple(notes))
    return Paragraph(text), table, results


def reoperation_table(frame: pd.DataFrame) -> tuple[Table, dict]:
    """Reoperations, revisions and explants by reason, as events and patients."""
    items = split_items(frame["reoperations"])
    unrecorded = sum(1 for row in items if row is None)
    n = len(frame) - unrecorded
    events = [(i, reason) for i, row in enumerate(items) for _, reason in (row or [])]
    reasons = sorted({r for _, r in events}, key=lambda r: (-sum(x == r for _, x in events), r))

    def row(label: str, chosen: list[tuple[int, str]], level: int = 1) -> Row:
        return Row((label, str(len(chosen)), fmt.count_pct(len({i for i, _ in chosen}), n)), level)

    rows = [row("All reoperations", events, 0), *(row(level_text(r), [e for e in events if e[1] == r])
                                                 for r in reasons)]
    results = {"events": len(events), "patients": len({i for i, _ in events}), "n": n, "unrecorded": unrecorded,
               "by_reason": {r: sum(x == r for _, x in events) for r in reasons}}
    notes = ("A reoperation is a complication treated by reoperation, revision or explant (reason: the "
             "complication), or an explant or new implant on another day (reason: the explant reason or the "
             "implant kind).",
             *((f"{unrecorded} patients have no reoperation record, so are left out.",) if unrecorded else ()))
    return Table("Reoperations, revisions and explants by reason", ("Reason", "Events", "Patients, n (%)"),
                 tuple(rows), notes), results


def mortality_paragraph(frame: pd.DataFrame, os_days: np.ndarray, death: np.ndarray) -> tuple[Paragraph, dict]:
    """30-day mortality and in-hospital mortality (death on or before the day of discharge)."""
    within = int(((death == 1) & (os_days <= EARLY_DAYS)).sum())
    text = (f"{within} of {len(frame)} patients ({fmt.pct(within / len(frame))}) died within {EARLY_DAYS} days of "
            "the implant")
    results: dict = {"died_within_30_days": within, "n": len(frame)}
    if "postop_stay_days" in frame.columns:
        stay = _checks.numeric(frame["postop_stay_days"], "postop_stay_days", allow_missing=True)
        known = ~np.isnan(stay)
        in_hospital = int(((death == 1) & known & (os_days <= np.where(known, stay, -1))).sum())
        text += (f"; {in_hospital} of {int(known.sum())} with a recorded post-operative stay "
                 f"({fmt.pct(in_hospital / known.sum() if known.any() else None)}) died in hospital (on or before "
                 "the day of discharge).")
        results.update(in_hospital_deaths=in_hospital, n_with_stay=int(known.sum()))
    else:
        text += "; in-hospital mortality is not recorded (column postop_stay_days absent)."
    return Paragraph(text), results
