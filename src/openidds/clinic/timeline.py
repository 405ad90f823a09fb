"""A patient's timeline from screening trial to exit, oldest first: what the Patient page shows.

Entries carry no free text and no device serial number; the direct identifiers (names, MRN, birth date,
postal code, pump serials) come separately and only when asked for, so a researcher's view has none.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from enum import Enum
from typing import Any

from sqlalchemy import Engine, and_, or_, select

from openidds.clinic import models
from openidds.clinic.database import sessions
from openidds.clinic.discrepancies import RefillDiscrepancy, pump_discrepancies
from openidds.clinic.queries import patient_by_code
from openidds.pump import BolusKind
from openidds.pump.events import EventKind
from openidds.pump.ticks import mass_to_mg

_ALARM_EVENTS = (EventKind.ALARM.value, EventKind.ALARM_CLEARED.value)
_PATIENT_BOLUS = BolusKind.PATIENT.value
_PATIENT_BOLUS_FLOW = f"bolus:{_PATIENT_BOLUS}"
"""A delivery event's reason is its flow: a patient bolus's delivery is ``bolus:patient``."""


class EntryKind(str, Enum):
    """What a timeline entry records."""

    SCREENING_TRIAL = "screening trial"
    IMPLANT = "implant"
    EXPLANT = "explant"
    PROGRAM = "program"
    REFILL = "refill"
    BOLUSES = "patient boluses"
    ALARM = "alarm"
    VISIT = "visit"
    COMPLICATION = "complication"
    EXIT = "exit"


@dataclass(frozen=True)
class Entry:
    """One dated entry; ``flagged`` marks what needs a look (a discrepancy over the limit, a critical alarm,
    a severe complication)."""

    on: dt.date
    kind: EntryKind
    summary: str
    flagged: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {"on": self.on.isoformat(), "kind": self.kind.value, "summary": self.summary, "flagged": self.flagged}


@dataclass(frozen=True)
class Timeline:
    """A patient's entries, oldest first, and their direct identifiers when the reader may see them."""

    site: str
    patient_id: str
    identifiers: dict[str, str] | None
    entries: list[Entry]

    def to_dict(self) -> dict[str, Any]:
        return {"site": self.site, "patient_id": self.patient_id, "identifiers": self.identifiers,
                "entries": [e.to_dict() for e in self.entries]}


def _g(value: float | None, unit: str) -> str:
    return "?" if value is None else f"{value:g} {unit}"


def _refill(refill: models.Refill, found: RefillDiscrepancy | None, shift: dt.timedelta, on: dt.date) -> Entry:
    text = f"{_g(refill.volume_added_ml, 'mL')} of {refill.drug or 'drug not recorded'}"
    if refill.concentration_mg_per_ml is not None:
        text += f" {refill.concentration_mg_per_ml:g} mg/mL"
    flagged = False
    w, e = refill.withdrawn_residual_ml, refill.expected_residual_ml
    if found is not None and w is not None and e is not None:
        text += f"; withdrawn {w:g} mL vs expected {e:g} mL: discrepancy {found.discrepancy_ml:+g} mL"
        text += f" (over the {found.limit_ml:g} mL limit: investigate)" if found.flagged else ""
        trend = found.trend_text()
        text += f"; discrepancy trend flagged: {trend}" if trend else ""
        flagged = found.flagged or trend is not None
    if refill.next_refill_due is not None:
        text += f"; next refill due {(refill.next_refill_due + shift).isoformat()}"
    return Entry(on, EntryKind.REFILL, text, flagged)


def _visit(visit: models.Visit, shift: dt.timedelta) -> Entry:
    parts = [visit.visit_type.replace("_", "-")]
    if visit.nrs is not None:
        parts.append(f"NRS {visit.nrs}")
    if visit.eq5d_index is not None:
        parts.append(f"EQ-5D index {visit.eq5d_index:g}")
    if visit.ome_mg_per_day is not None:
        parts.append(f"systemic OME {visit.ome_mg_per_day:g} mg/day")
    return Entry(visit.visit_date + shift, EntryKind.VISIT, ", ".join(parts))


def _bolus_weeks(events: Iterable[models.PumpEvent], day: Callable[[dt.datetime], dt.date]) -> list[Entry]:
    """One entry per week (Monday to Sunday, local days) with patient boluses asked for, dated on the week's first
    request: how many the pump gave and the mg of each drug they delivered, and how many it refused, by the pump's
    reason (its lockout, its 24-hour limit, ...). ``day``: an event's moment to its (shifted) local date."""
    first: dict[dt.date, dt.date] = {}
    given: Counter[dt.date] = Counter()
    refused: defaultdict[dt.date, Counter[str]] = defaultdict(Counter)
    mass: defaultdict[dt.date, Counter[str]] = defaultdict(Counter)
    for ev in events:
        on = day(ev.at)
        week = on - dt.timedelta(days=on.weekday())
        first[week] = min(first.get(week, on), on)
        if ev.kind == EventKind.BOLUS_STARTED:
            given[week] += 1
        elif ev.kind == EventKind.BOLUS_DENIED:
            refused[week][ev.reason] += 1
        else:
            mass[week].update(ev.data.get("dose") or {})
    entries = []
    for week in sorted(set(given) | set(refused)):
        text = f"week of {week.isoformat()}: {given[week]} given"
        doses = ", ".join(f"{float(mass_to_mg(mass[week][drug])):.4g} mg {drug}" for drug in sorted(mass[week]))
        text += f" ({doses})" if doses else ""
        if refused[week]:
            text += f"; {sum(refused[week].values())} refused: " + ", ".join(
                f"{reason} ({n})" for reason, n in sorted(refused[week].items()))
        entries.append(Entry(first[week], EntryKind.BOLUSES, text))
    return entries


def patient_timeline(engine: Engine, site: str, patient_id: str, identifiers: bool,
                     shift: dt.timedelta = dt.timedelta(0), zone: dt.tzinfo = dt.UTC) -> Timeline:
    """The timeline of patient ``site``/``patient_id``; ``identifiers``: include their direct identifiers;
    ``shift``: moves every date shown (the research export's date shift); ``zone``: the time zone whose date an
    event stored with its time (naive UTC: a refill, a program, an alarm) falls on, its moment shifted first, so the
    zone's offset is the one of the shifted date and tells nothing of the real one's (summer time or not). An
    unknown patient is refused."""

    def day(at: dt.datetime) -> dt.date:
        return (at + shift).replace(tzinfo=dt.UTC).astimezone(zone).date()

    m = models
    with sessions(engine)() as session:
        patient = patient_by_code(session, site, patient_id)
        pid = patient.id
        implants = list(session.scalars(select(m.Implant).where(m.Implant.patient_id == pid)
                                        .order_by(m.Implant.implant_date)))
        ids = [i.id for i in implants]
        trials = session.scalars(select(m.ScreeningTrial).where(m.ScreeningTrial.patient_id == pid)).all()
        programs = session.scalars(select(m.PumpProgram).where(m.PumpProgram.implant_id.in_(ids))).all()
        refills = session.scalars(select(m.Refill).where(m.Refill.implant_id.in_(ids))).all()
        alarms = session.scalars(select(m.PumpAlarm).where(m.PumpAlarm.implant_id.in_(ids))).all()
        events = session.scalars(select(m.PumpEvent).where(m.PumpEvent.implant_id.in_(ids),
                                                           m.PumpEvent.kind.in_(_ALARM_EVENTS))
                                 .order_by(m.PumpEvent.implant_id, m.PumpEvent.seq)).all()
        e = m.PumpEvent
        boluses = session.scalars(select(e).where(e.implant_id.in_(ids), or_(
            and_(e.kind == EventKind.BOLUS_STARTED.value, e.reason == _PATIENT_BOLUS),
            e.kind == EventKind.BOLUS_DENIED.value,
            and_(e.kind == EventKind.DELIVERY.value, e.reason == _PATIENT_BOLUS_FLOW)))).all()
        visits = session.scalars(select(m.Visit).where(m.Visit.patient_id == pid)).all()
        complications = session.scalars(select(m.Complication).where(m.Complication.patient_id == pid)).all()
        exits = session.scalars(select(m.Exit).where(m.Exit.patient_id == pid)).all()
    reservoir = {i.id: i.reservoir_ml for i in implants}
    entries = [Entry(t.trial_date + shift, EntryKind.SCREENING_TRIAL, f"{t.drug or 'drug not recorded'} "
                     f"{_g(t.dose_mg, 'mg')} {t.route or ''}: {t.response or 'response not recorded'}")
               for t in trials if t.trial_date is not None]
    for i in implants:
        model = i.device_model or "model not recorded"
        entries.append(Entry(i.implant_date + shift, EntryKind.IMPLANT, f"{i.kind} implant, {model}, "
                             f"{_g(i.reservoir_ml, 'mL')} reservoir, catheter tip {i.catheter_tip_level or '?'}"))
        if i.explant_date is not None:
            entries.append(Entry(i.explant_date + shift, EntryKind.EXPLANT,
                                 f"explant: {i.explant_reason or 'reason not recorded'}", True))
    entries += [Entry(day(p.started_at), EntryKind.PROGRAM,
                      f"{p.drug} {p.concentration_mg_per_ml:g} mg/mL at {p.daily_dose_mg_per_day:g} mg/day"
                      + (f", {p.mode}" if p.mode else ""))
                for p in programs]
    found = pump_discrepancies(refills, reservoir)
    entries += [_refill(r, found.get(r.id), shift, day(r.refilled_at)) for r in refills]
    entries += _bolus_weeks(boluses, day)
    entries += [Entry(day(a.at), EntryKind.ALARM,
                      f"{a.kind} {a.code} ({a.severity or 'severity not recorded'})"
                      + (f", resolved {day(a.resolved_at).isoformat()}" if a.resolved_at else ", open"),
                      a.severity == "critical" and a.resolved_at is None) for a in alarms]
    entries += [Entry(day(ev.at), EntryKind.ALARM,
                      f"pump log: {ev.data.get('alarm')} ({ev.data.get('severity')})" if ev.kind == EventKind.ALARM
                      else f"pump log: {ev.data.get('alarm')} cleared", ev.data.get("severity") == "critical")
                for ev in events]
    entries += [_visit(v, shift) for v in visits]
    entries += [Entry(c.onset_date + shift, EntryKind.COMPLICATION, f"{c.kind.replace('_', ' ')}, grade {c.grade}, "
                      f"{c.action}"
                      + (f", resolved {(c.resolved_date + shift).isoformat()}" if c.resolved_date else ""),
                      c.grade >= 3) for c in complications]
    entries += [Entry(x.exit_date + shift, EntryKind.EXIT, f"exit: {x.reason}") for x in exits]
    entries.sort(key=lambda e: (e.on, list(EntryKind).index(e.kind)))
    shown = None
    if identifiers:
        shown = {k: str(v) for k, v in (("given_name", patient.given_name), ("family_name", patient.family_name),
                                        ("mrn", patient.mrn), ("birth_date", patient.birth_date),
                                        ("postal_code", patient.postal_code),
                                        ("pump_serials", ", ".join(i.serial_number for i in implants
                                                                   if i.serial_number) or None))
                 if v is not None}
    return Timeline(site, patient_id, shown, entries)
