"""Each pump's refill status (table ``refill_status``): its latest refill and when the next one is due, by the
reservoir and by the stability of the drugs filled.

* **Reservoir date**: the next-refill date the latest refill recorded (the clinic's volume arithmetic).
* **Stability date**: the refill's day plus the shortest stability, in the drug library, of the drugs it filled
  (:func:`openidds.programmer.stability`, the programmer's own rule: the first-fill term for a drug the pump's
  previous refill did not hold, the undiluted term for a listed concentration, else the in-pump term).

The refill is due at the earlier of the two (the stability date when they fall on the same day), and
``due_reason`` says which. The solution filled is the pump program in effect at the refill (an admixture is
one program row per drug) with the refill's own drug and concentration; a refill of a drug that program does
not hold filled that drug alone. A drug without a recorded concentration, or without a stability in the library,
sets no stability date.

It also holds whether the implant is its patient's pump in place (:func:`openidds.clinic.in_place.in_place`).
The table is derived data, recomputed in the transaction that changes a pump's refills or programs, or a patient's
implants or exit (by the importer and by a flush hook), so the worklists read one range of one index
(``in_place``, ``due_on``).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from typing import Any

from sqlalchemy import Connection, delete, func, insert, select

from openidds.clinic import models
from openidds.clinic.bulk import table_of
from openidds.clinic.in_place import in_place
from openidds.clinic.store import chunks
from openidds.drugs import DrugLibrary, default_library
from openidds.programmer import stability
from openidds.pump import Solution
from openidds.pump.ticks import SECONDS_PER_DAY

__all__ = ["DueReason", "FillStability", "due", "fill_stability", "implants_of", "refresh_refill_status",
           "solution_filled"]


class DueReason(StrEnum):
    """What sets a pump's next refill date."""

    RESERVOIR = "reservoir"
    STABILITY = "stability"


@dataclass(frozen=True)
class FillStability:
    """The day a fill's solution must be replaced, and the drug whose stability ends first."""

    due: dt.date
    drug: str


def solution_filled(drug: str | None, concentration_mg_per_ml: float | None,
                    program: Mapping[str, float]) -> dict[str, float]:
    """The drugs (mg/mL) a refill put in the pump: the program in effect (``program``, drug -> mg/mL) with the
    refill's own drug at its own concentration; the refill's drug alone when the program does not hold it. A
    drug whose concentration is unknown is left out."""
    if drug is None:
        return dict(program)
    if drug not in program:
        return {} if concentration_mg_per_ml is None else {drug: concentration_mg_per_ml}
    return {**program, drug: program[drug] if concentration_mg_per_ml is None else concentration_mg_per_ml}


def fill_stability(filled_at: dt.datetime, solution: Mapping[str, float], previous_drugs: Iterable[str],
                   library: DrugLibrary) -> FillStability | None:
    """The stability date of ``solution`` (drug -> mg/mL, as the registry stores it) filled at ``filled_at``,
    ``previous_drugs`` being those of the pump's previous refill (the others are a first fill); None when no drug
    of it has a stability in the library."""
    if not solution:
        return None
    exact = Solution.of({drug: round(Decimal(repr(mg_per_ml)), 6) for drug, mg_per_ml in solution.items()})
    found = stability(exact, library, 0, frozenset(solution) - frozenset(previous_drugs))
    if found.due_s is None or found.drug is None:
        return None
    return FillStability(filled_at.date() + dt.timedelta(days=found.due_s // SECONDS_PER_DAY), found.drug)


def due(reservoir_due: dt.date | None, stable: FillStability | None) -> tuple[dt.date | None, DueReason | None]:
    """The next refill date, the earlier of the reservoir and the stability dates, and which one it is."""
    if stable is not None and (reservoir_due is None or stable.due <= reservoir_due):
        return stable.due, DueReason.STABILITY
    return reservoir_due, None if reservoir_due is None else DueReason.RESERVOIR


def _program_at(starts: list[tuple[dt.datetime, dict[str, float]]], at: dt.datetime) -> dict[str, float]:
    """The program (drug -> mg/mL) started last at or before ``at``; empty before the first."""
    current: dict[str, float] = {}
    for started_at, drugs in starts:
        if started_at > at:
            break
        current = drugs
    return current


def implants_of(conn: Connection, patient_ids: Iterable[int]) -> set[int]:
    """The ids of the implants of the given patients (whose refill status a change of an implant or an exit
    touches: which implant is in place)."""
    i = models.Implant
    return {implant for chunk in chunks(sorted(set(patient_ids)))
            for implant in conn.execute(select(i.id).where(i.patient_id.in_(chunk))).scalars()}


def refresh_refill_status(conn: Connection, implant_ids: Iterable[int], library: DrugLibrary | None = None) -> None:
    """Recompute the refill status of the given implants (see the module's docstring): one statement reads their
    latest two refills, one their programs, one which are in place."""
    library = library or default_library()
    r, p, i, status = models.Refill, models.PumpProgram, models.Implant, table_of(models.RefillStatus)
    for chunk in chunks(sorted(set(implant_ids))):
        conn.execute(delete(status).where(status.c.implant_id.in_(chunk)))
        ranked = select(r.implant_id, r.refilled_at, r.drug, r.concentration_mg_per_ml, r.next_refill_due,
                        func.row_number().over(partition_by=r.implant_id, order_by=r.refilled_at.desc()).label("n")
                        ).where(r.implant_id.in_(chunk)).subquery()
        latest_two = select(ranked).where(ranked.c.n <= 2).order_by(ranked.c.implant_id, ranked.c.n)
        fills: dict[int, list[Any]] = defaultdict(list)
        for row in conn.execute(latest_two):
            fills[row.implant_id].append(row)
        programs: dict[int, dict[dt.datetime, dict[str, float]]] = defaultdict(lambda: defaultdict(dict))
        for implant_id, started_at, drug, mg_per_ml in conn.execute(
                select(p.implant_id, p.started_at, p.drug, p.concentration_mg_per_ml)
                .where(p.implant_id.in_(chunk)).order_by(p.implant_id, p.started_at)):
            programs[implant_id][started_at][drug] = mg_per_ml
        placed = set(conn.execute(select(i.id).where(i.id.in_(chunk), in_place(i))).scalars())
        rows = []
        for implant_id, (last, *earlier) in fills.items():
            starts = sorted(programs[implant_id].items())
            filled = [solution_filled(f.drug, f.concentration_mg_per_ml, _program_at(starts, f.refilled_at))
                      for f in (last, *earlier)]
            stable = fill_stability(last.refilled_at, filled[0], filled[1] if earlier else (), library)
            due_on, reason = due(last.next_refill_due, stable)
            rows.append({"implant_id": implant_id, "last_refill_at": last.refilled_at,
                         "next_refill_due": last.next_refill_due, "stability_due": stable and stable.due,
                         "stability_drug": stable and stable.drug, "due_on": due_on,
                         "due_reason": None if reason is None else reason.value, "in_place": implant_id in placed})
        if rows:
            conn.execute(insert(status), rows)
