"""A scenario run told as a clinician reads it: commands and answers, alarms, and a line a day of delivery.

Pure functions over a finished :class:`ScenarioRun`; the command line renders the rows and the JSON.
"""

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from openidds.pump.events import Event, EventKind
from openidds.pump.scenario import ScenarioRun, Step
from openidds.pump.telemetry import BolusDecision, RefillReport, Snapshot
from openidds.pump.ticks import SECONDS_PER_DAY, decimal_text, mass_to_mg, ticks_to_ml

_LOG_KINDS = (EventKind.ALARM, EventKind.ALARM_CLEARED, EventKind.BOLUS_ENDED, EventKind.FAULT)
_PLACES = {"csf": "to_csf", "tissue": "to_tissue", "withdrawn": "withdrawn", "reservoir": "in_reservoir",
           "path": "in_catheter", "explanted": "explanted_with_catheter"}


@dataclass(frozen=True, slots=True)
class Row:
    """One line of the timeline."""

    when: datetime
    kind: str
    text: str
    severity: str = ""


def timeline(run: ScenarioRun, *, every_delivery: bool = False) -> list[Row]:
    """Commands with their answers, alarms and bolus endings, and a daily delivery summary (or every
    delivery segment with ``every_delivery``), in time order."""
    rows = [_step_row(run, step) for step in run.steps]
    for event in run.pump.log:
        if event.kind in _LOG_KINDS and not _routine(event):
            rows.append(_event_row(run, event))
        elif every_delivery and event.kind is EventKind.DELIVERY:
            rows.append(Row(run.when(event.t_s), "delivery", _segment_text(event)))
    if not every_delivery:
        rows.extend(_daily_rows(run))
    order = {"delivery": 1}
    return sorted(rows, key=lambda r: (r.when, order.get(r.kind, 0)))


def summary(run: ScenarioRun) -> dict:
    """Totals per drug and volume, the alarms, the refusals: everything with exact decimal strings."""
    pump = run.pump
    totals = pump.totals()
    where = pump.drug_locations()
    drugs = sorted(set(totals.nominal) | {d for place in where.values() for d in place})
    return {
        "title": run.scenario.title,
        "start": run.scenario.start.isoformat(),
        "end": run.when(pump.t_s).isoformat(),
        "volumes_ml": {name: _ml(value, 6) for name, value in (
            ("filled", totals.filled), ("withdrawn", totals.withdrawn), ("pumped_estimated", totals.pumped_estimated),
            ("pumped_actual", totals.pumped_actual), ("reservoir_estimated", pump.reservoir_estimated_ticks),
            ("reservoir_actual", pump.reservoir_actual_ticks))},
        "drugs_mg": {drug: {
            "pumped_nominal": _mg(totals.nominal.get(drug, 0), 6),
            **{name: _mg(where[place].get(drug, 0), 6) for place, name in _PLACES.items()},
        } for drug in drugs},
        "alarms": [{"at": run.when(e.t_s).isoformat(), **e.data, "reason": e.reason}
                   for e in pump.log if e.kind is EventKind.ALARM],
        "active_alarms": [a.kind.value for a in pump.alarms],
        "refusals": [{"at": run.when(s.t_s).isoformat(), "action": s.action, "reason": s.refusal}
                     for s in run.steps if s.refusal],
    }


def _step_row(run: ScenarioRun, step: Step) -> Row:
    when = run.when(step.t_s)
    note = f" ({step.note})" if step.note else ""
    if step.refusal:
        return Row(when, "refused", f"{step.action.replace('_', ' ')} refused: {step.refusal}{note}", "refused")
    answer = step.answer
    if isinstance(answer, BolusDecision):
        if answer.granted:
            return Row(when, "bolus", f"patient bolus granted, {answer.left_in_24h} left in 24 h{note}")
        nxt = "" if answer.next_allowed_s is None else f"; next at {run.when(answer.next_allowed_s):%d %b %H:%M}"
        return Row(when, "bolus", f"patient bolus denied: {answer.reason}{nxt}{note}", "denied")
    if isinstance(answer, RefillReport):
        return Row(when, "refill", f"refill: withdrew {_ml(answer.withdrawn_ticks)} mL, pump expected "
                   f"{_ml(answer.expected_ticks)} mL (discrepancy {_ml(answer.withdrawn_ticks - answer.expected_ticks)}"
                   f" mL); added {_ml(answer.filled_ticks)} mL of {answer.solution}; reservoir now "
                   f"{_ml(answer.reservoir_ticks)} mL{note}")
    if isinstance(answer, Snapshot):
        alarms = ", ".join(a.kind.value for a in answer.alarms) or "none"
        return Row(when, "interrogate", f"interrogation: reservoir {decimal_text(answer.reservoir_ml, 2)} mL, "
                   f"battery {answer.battery}, alarms: {alarms}, {len(answer.log)} log entries read{note}")
    if step.injected:
        return Row(when, "fault", f"simulation: {step.action.replace('_', ' ')} injected{note}", "fault")
    if isinstance(answer, Event):
        return Row(when, answer.kind, f"{step.action.replace('_', ' ')}: {answer.reason}{note}")
    return Row(when, step.action, f"{step.action.replace('_', ' ')}{note}")


def _routine(event: Event) -> bool:
    """Said already by a command's row: a patient bolus that simply completed, a fault the scenario injected."""
    if event.kind is EventKind.FAULT:
        return event.reason.startswith("injected")
    return event.kind is EventKind.BOLUS_ENDED and event.data["kind"] == "patient" and event.reason == "completed"


def _event_row(run: ScenarioRun, event: Event) -> Row:
    when = run.when(event.t_s)
    if event.kind is EventKind.ALARM:
        return Row(when, "alarm", f"ALARM ({event.data['severity']}): {event.reason}", event.data["severity"])
    if event.kind is EventKind.ALARM_CLEARED:
        return Row(when, "alarm", f"alarm {event.data['alarm']} cleared: {event.reason}")
    if event.kind is EventKind.BOLUS_ENDED:
        delivered = _ml(event.data["delivered"])
        return Row(when, "bolus", f"{event.data['kind']} bolus {event.reason}: {delivered} mL delivered")
    return Row(when, "fault", f"simulation: {event.reason}", "fault")


def _segment_text(event: Event) -> str:
    data = event.data
    rate = decimal_text(ticks_to_ml(data["rate"] * SECONDS_PER_DAY), 3)
    return (f"{data['flow']}: {_ml(data['volume'])} mL at {rate}"
            f" mL/day until t={data['end_s']} s (route {data['route']})")


@dataclass(frozen=True, slots=True)
class DayTotal:
    """What the log says was delivered on one calendar day: volume ticks by flow, and mass ticks per drug
    counted at the catheter tip (priming included)."""

    day: date
    basal: int
    bolus: int
    priming: int
    dose: dict[str, int]


def day_totals(run: ScenarioRun) -> list[DayTotal]:
    """Each calendar day's delivery from the log: a segment's volume and its logged dose are split by day in
    proportion (a segment has one concentration at the tip, or lasts one second), so the days add up to the
    pump's own count exactly."""
    start = run.scenario.start
    midnight = datetime(start.year, start.month, start.day)
    offset = int((start - midnight).total_seconds())
    days: dict[int, list[int]] = {}
    column = {"basal": 0, "bolus:priming": 2}
    per_day_mass: dict[int, dict[str, int]] = {}
    for event in run.pump.log:
        if event.kind is EventKind.DELIVERY:
            data = event.data
            for day, volume in _split_by_day(event.t_s + offset, data["end_s"] + offset, data["rate"], data["volume"]):
                by_flow = days.setdefault(day, [0, 0, 0])
                by_flow[column.get(data["flow"], 1 if data["flow"].startswith("bolus") else 0)] += volume
                mass = per_day_mass.setdefault(day, {})
                for drug, dose in data["dose"].items():
                    mass[drug] = mass.get(drug, 0) + dose * volume // data["volume"]
    return [DayTotal((midnight + timedelta(days=day)).date(), days[day][0], days[day][1], days[day][2],
                     per_day_mass[day]) for day in sorted(days)]


def _daily_rows(run: ScenarioRun) -> list[Row]:
    """One row per calendar day: volume pumped, basal and boluses apart, and the drug delivered; priming,
    which only fills the catheter, on its own."""
    rows = []
    for total in day_totals(run):
        drugs = ", ".join(f"{drug} {_mg(mass)} mg" for drug, mass in sorted(total.dose.items()) if mass)
        primed = f"; {_ml(total.priming)} mL priming into the catheter" if total.priming else ""
        pumped = total.basal + total.bolus
        rows.append(Row(datetime.combine(total.day, time(23, 59, 59)), "delivery",
                        f"day total: {_ml(pumped)} mL ({_ml(total.basal)} basal, {_ml(total.bolus)} bolus)"
                        f"{': ' + drugs if drugs else ''}{primed}"))
    return rows


def _split_by_day(start_s: int, end_s: int, rate: int, volume: int):
    """The segment's volume by calendar day (a cut segment's short last second goes to its own day)."""
    t, left = start_s, volume
    while t < end_s and left:
        day_end = (t // SECONDS_PER_DAY + 1) * SECONDS_PER_DAY
        stop = min(day_end, end_s)
        part = min(rate * (stop - t), left)
        yield t // SECONDS_PER_DAY, part
        left -= part
        t = stop


def _ml(ticks: int, places: int = 2) -> str:
    return decimal_text(ticks_to_ml(ticks), places)


def _mg(mass: int, places: int = 3) -> str:
    return decimal_text(mass_to_mg(mass), places)
