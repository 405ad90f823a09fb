"""A patient's course as series over time, for the patient page's plot: the programmed daily dose of each drug (a
step function from the registry's programs), the NRS at each visit, and each refill's residual discrepancy with the
limit it is judged by and the trend across the pump's refills.

Times are aware, in the clinic's time zone, moved by ``shift`` (the research export's date shift); the JSON writes
them in UTC with a ``Z``, as the whole API does, and the plot draws their local wall time. A
program holds from its start until the pump's next program, the pump's explant, the next pump's implant or the
patient's exit, whichever comes first (a date without a time counts from its local midnight); the last one still in
effect is open (``end`` None). A drug left out of a new program is off from then on. The registry keeps one daily
dose per program: a continuous program's dose, and for a flex or periodic program its worst 24 hours (as the
programming review records it), since the registry holds no steps to average; such steps are marked
``continuous=False``.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Engine, select

from openidds.clinic import models
from openidds.clinic.database import sessions
from openidds.clinic.discrepancies import RefillDiscrepancy, pump_discrepancies
from openidds.clinic.queries import patient_by_code

CONTINUOUS = "continuous"


def _utc(at: dt.datetime) -> str:
    return at.astimezone(dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


@dataclass(frozen=True)
class DoseStep:
    """One drug's programmed daily dose from ``start`` until ``end`` (None: still in effect at the last record)."""

    drug: str
    start: dt.datetime
    end: dt.datetime | None
    dose_mg_per_day: float
    continuous: bool

    def to_dict(self) -> dict[str, Any]:
        return {"drug": self.drug, "start": _utc(self.start),
                "end": None if self.end is None else _utc(self.end), "dose_mg_per_day": self.dose_mg_per_day,
                "continuous": self.continuous}


@dataclass(frozen=True)
class PainScore:
    """The NRS (0-10) recorded at a visit."""

    on: dt.date
    nrs: int

    def to_dict(self) -> dict[str, Any]:
        return {"on": self.on.isoformat(), "nrs": self.nrs}


@dataclass(frozen=True)
class DiscrepancyPoint:
    """A refill's residual discrepancy (withdrawn minus expected, mL), its limit, and whether it or the trend up
    to it is flagged (``trend``: why, None when the trend is not flagged)."""

    at: dt.datetime
    discrepancy_ml: float
    limit_ml: float
    flagged: bool
    trend: str | None

    def to_dict(self) -> dict[str, Any]:
        return {"at": _utc(self.at), "discrepancy_ml": self.discrepancy_ml, "limit_ml": self.limit_ml,
                "flagged": self.flagged, "trend": self.trend}


@dataclass(frozen=True)
class PatientSeries:
    """The plot's series of one patient (``label``: site/patient ID, or the research ID), times in ``zone``;
    ``through``: the last moment any record gives (None: no dated record), where open steps are drawn to."""

    label: str
    zone: str
    doses: list[DoseStep]
    pain: list[PainScore]
    discrepancies: list[DiscrepancyPoint]
    through: dt.datetime | None

    @property
    def empty(self) -> bool:
        return not (self.doses or self.pain or self.discrepancies)

    @property
    def drugs(self) -> list[str]:
        return list(dict.fromkeys(s.drug for s in self.doses))

    def summary(self) -> str:
        """The values in a few sentences: the plot's text alternative."""
        if self.empty:
            return f"No pump program, NRS or refill discrepancy recorded for {self.label}."
        parts = []
        for drug in self.drugs:
            steps = ", ".join(f"{s.dose_mg_per_day:g}" + ("" if s.continuous else " (worst 24 h)")
                              + f" from {s.start.date().isoformat()}" for s in self.doses if s.drug == drug)
            parts.append(f"{drug} mg/day: {steps}.")
        if not self.doses:
            parts.append("No pump program recorded.")
        if self.pain:
            parts.append("NRS: " + ", ".join(f"{p.nrs} on {p.on.isoformat()}" for p in self.pain) + ".")
        else:
            parts.append("No NRS recorded.")
        if self.discrepancies:
            parts.append("Refill discrepancies (mL): " + ", ".join(
                f"{d.discrepancy_ml:+g} on {d.at.date().isoformat()}" + (" (over the limit)" if d.flagged else "")
                for d in self.discrepancies) + ".")
            if any(d.trend for d in self.discrepancies):
                parts.append("The discrepancy trend is flagged.")
        return f"Dose and NRS of {self.label} (times in {self.zone}): " + " ".join(parts)

    def to_dict(self) -> dict[str, Any]:
        return {"label": self.label, "zone": self.zone, "doses": [s.to_dict() for s in self.doses],
                "pain": [p.to_dict() for p in self.pain],
                "discrepancies": [d.to_dict() for d in self.discrepancies],
                "through": None if self.through is None else _utc(self.through)}


def _implant_ends(implants: list[models.Implant], exit_date: dt.date | None) -> dict[int, dt.date | None]:
    """When each pump stopped delivering: its explant, the next pump's implant or the exit (None: in place)."""
    ends: dict[int, dt.date | None] = {}
    for i, implant in enumerate(implants):
        candidates = [d for d in (implant.explant_date, exit_date) if d is not None]
        candidates += [later.implant_date for later in implants[i + 1:] if later.implant_date > implant.implant_date]
        ends[implant.id] = min(candidates, default=None)
    return ends


def _dose_steps(programs: list[models.PumpProgram], ends_utc: dict[int, dt.datetime | None]
                ) -> list[tuple[models.PumpProgram, dt.datetime | None]]:
    """Each program row with the naive-UTC moment it stopped (None: in effect)."""
    out: list[tuple[models.PumpProgram, dt.datetime | None]] = []
    starts: dict[int, list[dt.datetime]] = {}
    for p in programs:
        starts.setdefault(p.implant_id, []).append(p.started_at)
    for p in programs:
        later = [s for s in starts[p.implant_id] if s > p.started_at]
        stop = [t for t in (min(later, default=None), ends_utc[p.implant_id]) if t is not None]
        out.append((p, min(stop, default=None)))
    return out


def patient_series(engine: Engine, site: str, patient_id: str, zone: ZoneInfo = ZoneInfo("UTC"),
                   shift: dt.timedelta = dt.timedelta(0), label: str | None = None,
                   until: dt.date | None = None) -> PatientSeries:
    """The series of patient ``site``/``patient_id`` with times in ``zone`` moved by ``shift``; ``label``: the
    name the plot gives the patient (default site/patient ID); ``until``: the clinic's day, to which the series of
    a patient without an exit runs (None: to their last record). An unknown patient is refused."""
    m = models

    def local(at: dt.datetime) -> dt.datetime:
        return at.replace(tzinfo=dt.UTC).astimezone(zone) + shift

    def midnight(day: dt.date) -> dt.datetime:
        return dt.datetime.combine(day, dt.time(), zone)

    def midnight_utc(day: dt.date) -> dt.datetime:
        return midnight(day).astimezone(dt.UTC).replace(tzinfo=None)

    with sessions(engine)() as session:
        patient = patient_by_code(session, site, patient_id)
        implants = list(session.scalars(select(m.Implant).where(m.Implant.patient_id == patient.id)
                                        .order_by(m.Implant.implant_date, m.Implant.id)))
        ids = [i.id for i in implants]
        programs = list(session.scalars(select(m.PumpProgram).where(m.PumpProgram.implant_id.in_(ids))
                                        .order_by(m.PumpProgram.started_at, m.PumpProgram.drug)))
        refills = list(session.scalars(select(m.Refill).where(m.Refill.implant_id.in_(ids))))
        visits = list(session.scalars(select(m.Visit).where(m.Visit.patient_id == patient.id)
                                      .order_by(m.Visit.visit_date)))
        exit_date = session.scalars(select(m.Exit.exit_date).where(m.Exit.patient_id == patient.id)).first()
    ends = {k: None if d is None else midnight_utc(d) for k, d in _implant_ends(implants, exit_date).items()}
    doses = [DoseStep(p.drug, local(p.started_at), None if end is None else local(end), p.daily_dose_mg_per_day,
                      p.mode == CONTINUOUS) for p, end in _dose_steps(programs, ends)]
    pain = [PainScore(v.visit_date + shift, v.nrs) for v in visits if v.nrs is not None]
    found: list[RefillDiscrepancy] = sorted(pump_discrepancies(refills, {i.id: i.reservoir_ml for i in implants})
                                            .values(), key=lambda d: d.refilled_at)
    points = [DiscrepancyPoint(local(d.refilled_at), d.discrepancy_ml, d.limit_ml, d.flagged, d.trend_text())
              for d in found]
    moments = [s.start for s in doses] + [s.end for s in doses if s.end is not None] + [d.at for d in points]
    moments += [midnight(p.on) for p in pain]
    if exit_date is not None:
        moments.append(midnight(exit_date + shift))
    elif until is not None and moments:
        moments.append(midnight(until + shift))
    return PatientSeries(label or f"{site}/{patient_id}", zone.key, doses, pain, points,
                         max(moments, default=None))
