"""The virtual clinic: each patient's course played through a real pump and the real programmer, and the
registry records a clinic would keep of it.

Per patient: a :class:`openidds.pump.Pump` is implanted (t_s = 0 at 08:00 UTC on the implant day); the first
fill and the starting therapy go through the refill workflow, then a priming bolus through a programming
session. Refills are booked by the programmer's own forecast (the latest review's due date, a few days
early) and done with the refill workflow, the residual measured with a small error, so discrepancies
happen; a flagged one is acknowledged with what it suggests. A catheter occlusion is injected as a pump
fault: nothing leaves the reservoir, the next refill withdraws more than expected, the flag is found and the
catheter revised (a ``ReviseCatheter`` and a new priming bolus) and the complication recorded that day. Dose
changes are programming sessions, soft findings confirmed by the virtual clinician with the reason, hard
ones never overridden. Breakthrough pain is the patient pressing the bolus device; the pump decides.

A pump whose battery reached its elective replacement indicator (ERI; it stops at end of service 90 days later)
is replaced at the first clinic contact (refill, programming session or catheter revision) that finds the ERI
alarm: the old pump is explanted then, a new pump of the same kind with a new battery implanted (an implant row
of kind ``replacement``), filled with the current dose through the refill workflow and primed, and the contact's own
business done on the new pump. Each pump is its own device with its own clock and log: t_s = 0 at its own implant.
The clinic keeps the patient's time (seconds from 08:00 UTC on the first implant day) and gives each pump its
times less that pump's implant time (:attr:`Implanted.start_s`); :meth:`PatientRun.clock_start` places a pump's
t_s = 0 in calendar time, for its alarms and its exported log.

Everything written is synthetic: site ``VIRTUAL-01``, patients named "Synthetic" and a number. A registry or
dataset whose every site code starts ``VIRTUAL-`` is a synthetic cohort's (:func:`synthetic_sites`).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

import numpy as np

from openidds.cohort.baseline import PatientBaseline
from openidds.cohort.course import DAY_S, DEFAULT_TIP_LEVEL, PatientCourse, bolus_dose_mg
from openidds.cohort.params import Course
from openidds.drugs import DrugLibrary, default_library
from openidds.programmer import (
    CHECKLIST,
    BolusOrder,
    ContinuousDose,
    PatientBolusDevice,
    Prescription,
    ProgrammingSession,
    PumpState,
    RefillRecord,
    RefillWorkflow,
    Review,
    TherapyOrder,
    plain_decimal,
    priming_bolus,
)
from openidds.pump import (
    SYNCHROMED_II,
    AlarmKind,
    Catheter,
    CatheterOcclusion,
    EventKind,
    Pump,
    PumpSpec,
    RequestPatientBolus,
    ReviseCatheter,
    Severity,
    wire,
)
from openidds.pump.ticks import SECONDS_PER_WEEK, ticks_to_ml
from openidds.units import parse_quantity

#: The start of a virtual clinic's site code: no real site's code starts so.
SITE_PREFIX = "VIRTUAL-"
SITE = f"{SITE_PREFIX}01"
CLINICIAN = "Synthetic clinician"
NURSE = "Synthetic nurse"
RESERVOIR_ML = 40
CATHETER = Catheter(length_cm=80, volume_ml="0.16", tip_level=DEFAULT_TIP_LEVEL)
#: The pump every virtual patient gets (and each replacement): a 40 mL SynchroMed II.
PUMP = PumpSpec(model=SYNCHROMED_II, reservoir_ml=RESERVOIR_ML, catheter=CATHETER)
#: Clinic hours on the pump clock (t_s = 0 is 08:00 on the implant day): sessions at 09:00, refills at 10:00.
SESSION_S, REFILL_S = 3600, 7200
#: A pump replacement (fill, then priming 10 minutes later) takes the clinic's first 20 minutes of a contact.
REPLACEMENT_S = 1200
BOLUS_DURATION_S, BOLUS_LOCKOUT_S, BOLUSES_PER_DAY = 600, 7200, 4
#: The registry's code of each pump alarm severity.
SEVERITY_CODES = {Severity.CRITICAL: "critical", Severity.NON_CRITICAL: "non_critical"}
#: The cause of death recorded for a perioperative death (the course's ``perioperative_death``).
PERIOPERATIVE_CAUSE = "perioperative death in hospital, the day after the implant (synthetic)"
EXPLANT_REASONS = {"infection": "infection", "wound_healing": "wound_healing", "pump_malfunction": "malfunction"}

Row = dict[str, str]


@dataclass(frozen=True)
class Implanted:
    """One pump of a patient: implanted ``start_s`` after the first pump's t_s = 0 (the patient's time of its
    own clock's t_s = 0), its serial."""

    start_s: int
    serial_number: str
    pump: Pump

    @property
    def day(self) -> int:
        return self.start_s // DAY_S


def synthetic_sites(sites: Iterable[str]) -> bool:
    """Whether the site codes are all a virtual clinic's (and there is at least one): the records are synthetic."""
    codes = set(sites)
    return bool(codes) and all(str(code).startswith(SITE_PREFIX) for code in codes)


@dataclass
class PatientRun:
    """One patient played through the clinic: the pumps in implant order (the last is in place), and the registry
    rows (text cells) by record kind."""

    patient_id: str
    implant_date: dt.date
    course: PatientCourse
    implants: list[Implanted]
    rows: dict[str, list[Row]] = field(default_factory=dict)
    refills: int = 0
    flagged_refills: int = 0
    site: str = SITE
    states: list[PumpState | None] | None = None
    """Each pump's programmer state, as a pump state file holds it (the journal of the commands it accepted, each
    with its session's lines), when kept (:func:`run_patient`'s ``keep_states``); None for a pump the journal
    cannot rebuild: one with a simulated fault (a premature ERI, a catheter occlusion), which is no command."""

    @property
    def pump(self) -> Pump:
        """The pump in place (the last implanted)."""
        return self.implants[-1].pump

    def on_pump(self, t_s: int) -> int:
        """The patient's time ``t_s`` on the clock of the pump in place."""
        return t_s - self.implants[-1].start_s

    @property
    def now_s(self) -> int:
        """The patient's time the pump in place has run to."""
        return self.pump.t_s + self.implants[-1].start_s

    def implant_date_of(self, implanted: Implanted) -> dt.date:
        """The day the pump was implanted."""
        return self.implant_date + dt.timedelta(days=implanted.day)

    def clock_start(self, implanted: Implanted) -> dt.datetime:
        """The calendar time (UTC, naive) of the pump's t_s = 0: its implant."""
        return dt.datetime.combine(self.implant_date, dt.time(8)) + dt.timedelta(seconds=implanted.start_s)

    def add(self, record_kind: str, /, **cells: Any) -> None:
        row = {"site": self.site, "patient_id": self.patient_id}
        row.update({k: _text(v) for k, v in cells.items() if v is not None})
        self.rows.setdefault(record_kind, []).append(row)

    def new_state(self, implanted: Implanted) -> PumpState | None:
        """The programmer's state of a pump just implanted (nothing sent yet); None for a pump with a premature
        ERI, a fault of its battery that no state file describes."""
        spec = implanted.pump.spec
        if spec.battery_eri_at_s is not None:
            return None
        catheter = wire.Catheter(length_cm=spec.catheter.length_cm, volume_ml=Fraction(spec.catheter.volume_ml),
                                 tip_level=spec.catheter.tip_level)
        setup = wire.PumpSetup(model=spec.model.name, reservoir_ml=spec.reservoir_ml,
                               low_reservoir_ml=Fraction(spec.low_reservoir_ml), catheter=catheter)
        return PumpState(start=self.clock_start(implanted), pump=setup)

    def journal(self, sent: Callable[[PumpState], PumpState | None]) -> None:
        """Record what was sent to the pump in place in its kept state (nothing when states are not kept)."""
        if self.states is not None and self.states[-1] is not None:
            self.states[-1] = sent(self.states[-1])


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, dt.datetime):
        return value.isoformat() + "Z"
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, (tuple, list, frozenset, set)):
        return ";".join(sorted(value))
    if isinstance(value, float):
        return _decimal(value)
    return str(value)


def _decimal(value: float, places: int = 4) -> str:
    text = f"{value:.{places}f}".rstrip("0").rstrip(".")
    return text or "0"


class _Clinic:
    """The clinic's actions on one patient's pump, in time order. Its times are the patient's (seconds from the
    first implant's t_s = 0); :meth:`PatientRun.on_pump` gives the pump in place its own."""

    def __init__(self, run: PatientRun, course: PatientCourse, params: Course, library: DrugLibrary) -> None:
        self.run, self.params, self.library = run, params, library
        self.therapy = params.therapy
        self.drug = course.drug
        self.pump = run.pump
        self.start = run.clock_start(run.implants[0])
        self.mg_per_ml = course.concentration_mg_per_ml
        self.concentration = f"{_decimal(self.mg_per_ml)} mg/mL"
        self.added = course.added_mg_per_ml
        self.solution = {self.drug: self.concentration, **{d: f"{_decimal(c)} mg/mL" for d, c in self.added}}
        self.prescription = Prescription({d: parse_quantity(c) for d, c in self.solution.items()}, CLINICIAN)
        self.next_refill_s: int | None = None
        self.occluded_since: int | None = None
        self.dose_mg_per_day = course.start_dose_mg_per_day
        self.device = PatientBolusDevice(self.pump)
        self.primed_until_s = 0  # the end of the last priming bolus

    def at(self, t_s: int) -> dt.datetime:
        return self.start + dt.timedelta(seconds=t_s)

    def order(self, dose_mg_per_day: float) -> TherapyOrder:
        bolus = bolus_dose_mg(dose_mg_per_day, self.drug, self.params, self.library)
        daily = parse_quantity(f"{_decimal(dose_mg_per_day)} mg/day")
        amount = parse_quantity(f"{_decimal(bolus)} mg")
        patient = BolusOrder(amount, BOLUS_DURATION_S, BOLUS_LOCKOUT_S, BOLUSES_PER_DAY)
        return TherapyOrder(self.drug, ContinuousDose(daily), patient)

    def confirmed(self, session: ProgrammingSession | RefillWorkflow, review: Review, why: str) -> None:
        for finding in review.soft:
            session.override(finding.id, CLINICIAN, f"virtual clinic: {why}")
        session.confirm(CLINICIAN)

    def booked(self, review: Review, at_s: int) -> None:
        due = review.new_forecast.due_s  # on the pump's clock
        early = self.therapy.refill_days_early * DAY_S
        pump_start_s = self.run.implants[-1].start_s
        self.next_refill_s = None if due is None else max(at_s + DAY_S, pump_start_s + due - early)

    def record_program(self, t_s: int, dose: float) -> None:
        self.dose_mg_per_day = dose
        bolus = bolus_dose_mg(dose, self.drug, self.params, self.library)
        for drug, mg_per_ml in ((self.drug, self.mg_per_ml), *self.added):
            ratio = mg_per_ml / self.mg_per_ml  # an added drug goes with the lead's volume
            self.run.add("programs", pump_serial=self.serial, started_at=self.at(t_s), drug=drug,
                         concentration_mg_per_ml=mg_per_ml, daily_dose_mg_per_day=round(dose * ratio, 4),
                         mode="continuous", bolus_dose_mg=round(bolus * ratio, 4),
                         bolus_lockout_minutes=BOLUS_LOCKOUT_S // 60, max_boluses_per_day=BOLUSES_PER_DAY)

    def refill(self, t_s: int, measured_ml: Fraction, new_dose: float | None, why: str) -> RefillRecord:
        workflow = RefillWorkflow(self.pump, self.run.on_pump(t_s), NURSE, self.prescription)
        discrepancy = workflow.withdraw(max(measured_ml, Fraction(0)))
        if workflow.needs_acknowledgement:
            workflow.acknowledge_discrepancy(NURSE, discrepancy.suggests or "trend across refills reviewed")
            self.run.flagged_refills += 1
        spec = self.pump.spec
        volume = plain_decimal(ticks_to_ml(spec.capacity_ticks - spec.residual_ticks))
        order = None if new_dose is None else self.order(new_dose)
        review = workflow.fill(self.solution, self.solution, volume, order)
        self.confirmed(workflow, review, why)
        workflow.confirm_checklist(NURSE, [item for item, _ in CHECKLIST])
        record = workflow.transmit()
        workflow.complete_observation(record.observe_until_s, NURSE, "no signs of overdose (synthetic)")
        self.run.journal(lambda state: state.with_programmer(workflow.session, why))
        self.booked(review, t_s)
        due = self.next_refill_s
        self.run.add("refills", pump_serial=self.serial, refilled_at=self.at(t_s), drug=self.drug,
                     concentration_mg_per_ml=self.mg_per_ml, volume_added_ml=volume,
                     expected_residual_ml=_decimal(float(discrepancy.expected_ml), 3),
                     withdrawn_residual_ml=_decimal(float(discrepancy.withdrawn_ml), 3),
                     next_refill_due=None if due is None else self.at(due).date())
        self.run.refills += 1
        if new_dose is not None:
            self.record_program(t_s, new_dose)
        return record

    @property
    def serial(self) -> str:
        return self.run.implants[-1].serial_number

    def eri_seen(self, t_s: int) -> bool:
        """Whether the pump, interrogated at ``t_s``, shows the battery's elective replacement indicator."""
        self.pump.advance(self.run.on_pump(t_s))
        return any(alarm.kind == AlarmKind.ELECTIVE_REPLACEMENT for alarm in self.pump.alarms)

    def replace(self, t_s: int) -> int:
        """Explant the pump at ``t_s`` and implant a new one of the same kind with a new battery (the model's
        battery life, whatever the old one's was) and its own clock (t_s = 0 now, its weekly clock going on from the
        first pump's), filled with the current dose and primed (a new catheter segment is connected, so an occlusion
        is cleared); the time the clinic is done."""
        first = self.run.implants[0]
        origin_s = (first.pump.spec.clock_origin_s_of_week + t_s) % SECONDS_PER_WEEK
        spec = dataclasses.replace(first.pump.spec, battery_eri_at_s=None, clock_origin_s_of_week=origin_s)
        serial = f"{first.serial_number}R{len(self.run.implants)}"
        self.run.implants.append(Implanted(t_s, serial, Pump(spec)))
        if self.run.states is not None:
            self.run.states.append(self.run.new_state(self.run.implants[-1]))
        self.pump = self.run.pump
        self.device = PatientBolusDevice(self.pump)
        self.occluded_since = None
        self.refill(t_s, Fraction(0), self.dose_mg_per_day, "replacement pump at the battery's elective "
                    "replacement indicator: the current dose")
        self.prime(t_s + 600)
        return t_s + REPLACEMENT_S

    def prime(self, t_s: int) -> None:
        session = ProgrammingSession(self.pump, self.run.on_pump(t_s), CLINICIAN)
        plan = priming_bolus(self.pump.spec, self.pump.catheter)
        session.transmit_bolus(plan)
        self.primed_until_s = t_s + plan.duration_s
        self.run.journal(lambda state: state.with_programmer(session, "priming bolus"))

    def program(self, t_s: int, dose: float) -> None:
        session = ProgrammingSession(self.pump, self.run.on_pump(t_s), CLINICIAN)
        review = session.edit(self.order(dose))
        why = "titration: pain above target at the visit"
        self.confirmed(session, review, why)
        session.transmit()
        self.run.journal(lambda state: state.with_programmer(session, why))
        self.booked(review, t_s)
        self.record_program(t_s, dose)

    def revise(self, t_s: int) -> None:
        """A catheter revision at ``t_s`` and the priming bolus 10 minutes later: an occlusion is cleared. A revision
        due while a priming bolus runs (the new pump's, on the day of a replacement) waits for it to end."""
        t_s = max(t_s, self.primed_until_s)
        revision = ReviseCatheter(self.pump.spec.catheter)  # a new catheter, placed as the first
        self.pump.execute(self.run.on_pump(t_s), revision)
        self.run.journal(lambda state: state.with_sent(self.run.on_pump(t_s), revision, CLINICIAN,
                                                       "catheter revised after an occlusion"))
        self.prime(t_s + 600)
        self.occluded_since = None

    def press(self, t_s: int) -> None:
        """The patient presses the bolus device at ``t_s``; the pump grants or refuses."""
        screen = self.device.press(self.run.on_pump(t_s))
        if self.run.states is not None:  # kept only on request: no journal entry to build per press otherwise
            self.run.journal(lambda state: state.with_sent(self.run.on_pump(t_s), RequestPatientBolus(), "patient",
                                                           screen.message, "patient pressed"))

    def occlude(self, t_s: int) -> None:
        """The catheter occludes at ``t_s`` (a simulated fault: the pump's kept state is dropped)."""
        self.pump.inject(self.run.on_pump(t_s), CatheterOcclusion())
        self.run.journal(lambda state: None)
        self.occluded_since = t_s

    def routine_refill(self, t_s: int, error_ml: float) -> None:
        spec = self.pump.spec
        true_ml = ticks_to_ml(max(self.pump.reservoir_actual_ticks - spec.residual_ticks, 0))
        measured = true_ml + Fraction(round(error_ml, 3)).limit_denominator(1000)
        record = self.refill(t_s, measured, None, "routine refill")
        if self.occluded_since is not None and record.discrepancy.flagged:
            self.revise(t_s + 1800)
            day = self.at(t_s).date()
            self.run.add("complications", kind="catheter_occlusion", onset_date=day, grade=3, action="revision",
                         note="found by an under-delivery refill discrepancy (synthetic)")


def run_patient(number: int, baseline: PatientBaseline, course: PatientCourse, params: Course,
                rng: np.random.Generator, library: DrugLibrary | None = None, spec: PumpSpec | None = None,
                site: str = SITE, keep_states: bool = False) -> PatientRun:
    """Play one patient of ``site`` through the clinic; ``rng`` draws the error of each residual measurement
    (normal, SD ``therapy.residual_measure_sd_ml``). ``spec`` is the pump implanted (default: a 40 mL SynchroMed
    II with the model's battery life), and each replacement's, its catheter's tip at the course's level.
    ``keep_states``: keep each pump's programmer state (:attr:`PatientRun.states`)."""
    implant = course.schedule.implant_date
    spec = spec or PUMP
    spec = dataclasses.replace(spec, catheter=dataclasses.replace(spec.catheter, tip_level=course.tip_level))
    patient_id = f"S{number:05d}"
    run = PatientRun(patient_id, implant, course, [Implanted(0, f"VIRT{patient_id}", Pump(spec))], site=site)
    if keep_states:
        run.states = [run.new_state(run.implants[0])]
    clinic = _Clinic(run, course, params, library or default_library())
    end_s = course.end_day * DAY_S
    clinic.refill(0, Fraction(0), course.start_dose_mg_per_day, "starting dose from the OME by the library's "
                  "intrathecal conversion")
    clinic.prime(600)
    agenda: list[tuple[int, int, Any]] = []
    agenda += [(c.day * DAY_S + SESSION_S, 1, c.dose_mg_per_day) for c in course.dose_changes]
    agenda += [(d * DAY_S + SESSION_S + 600, 2, None) for d in course.revision_days]
    if course.occlusion_day is not None:
        agenda.append((course.occlusion_day * DAY_S + 1, 3, None))
    agenda += [(t, 4, None) for t in course.bolus_times_s]
    agenda = sorted(a for a in agenda if a[0] < end_s)
    error_sd = params.therapy.residual_measure_sd_ml
    i = 0
    while True:
        refill_s = clinic.next_refill_s if clinic.next_refill_s is not None else end_s
        refill_s = (refill_s // DAY_S) * DAY_S + REFILL_S
        if i < len(agenda) and agenda[i][0] < refill_s:
            t_s, what, value = agenda[i]
            i += 1
            if t_s < run.now_s:
                continue  # an action of a day the refill already took the clinic's time of
            if what in (1, 2) and clinic.eri_seen(t_s):
                t_s = clinic.replace(t_s)
            if what == 1:
                clinic.program(t_s, value)
            elif what == 2:
                clinic.revise(t_s)
            elif what == 3:
                clinic.occlude(t_s)
            else:
                clinic.press(t_s)
        elif refill_s < end_s and clinic.eri_seen(refill_s):
            clinic.replace(refill_s)
        elif refill_s < end_s:
            clinic.routine_refill(refill_s, float(rng.normal(0, error_sd)))
        else:
            break
    run.pump.advance(run.on_pump(max(end_s, run.now_s)))
    _records(run, baseline, course)
    return run


def _records(run: PatientRun, baseline: PatientBaseline, course: PatientCourse) -> None:
    """The patient, trial, implant, visit, complication, exit and alarm rows of one patient."""
    implant = run.implant_date
    day = lambda d: implant + dt.timedelta(days=d)  # noqa: E731
    death = day(course.death_day) if course.death_day is not None else None
    end = day(course.end_day)
    prior = baseline.prior_treatment
    run.add("patients", given_name="Synthetic", family_name=run.patient_id, age_at_implant_years=baseline.age_years,
            sex=baseline.sex, enrolled_on=implant, cancer_type=baseline.cancer_type,
            cancer_duration_months=baseline.cancer_duration_months, metastasis_sites=baseline.metastasis_sites,
            prior_surgery="surgery" in prior, prior_chemoradiotherapy="chemoradiotherapy" in prior,
            prior_immunotherapy="immunotherapy" in prior, prior_pain_procedure="pain_procedure" in prior,
            pain_duration_months=baseline.pain_duration_months, pain_locations=baseline.pain_locations,
            bmi_kg_per_m2=baseline.bmi_kg_per_m2, adl_score=baseline.adl_score,
            wheelchair_or_cart=baseline.wheelchair, pressure_sores=baseline.pressure_sores,
            skin_compromising_lines=baseline.skin_lines, adjuvant_drugs=baseline.adjuvant_drugs,
            implant_reason=baseline.implant_reason, last_contact_date=death or end)
    for trial in baseline.trials:
        run.add("screening_trials", trial_number=trial.number,
                trial_date=day(-7 * (len(baseline.trials) - trial.number + 1)), drug=trial.drug,
                dose_mg=trial.dose_mg, route="intrathecal", response=trial.response)
    explant = course.explant_day
    cause = next((c.kind for c in course.complications if c.action == "explant"), None)
    for implanted, following in zip(run.implants, [*run.implants[1:], None], strict=True):
        explant_date: dt.date | None
        reason: str | None
        if following is not None:
            explant_date, reason = day(following.day), "battery_end_of_service"
        elif explant is not None:
            explant_date, reason = day(explant), None if cause is None else EXPLANT_REASONS.get(cause, "other")
        else:
            explant_date = reason = None
        run.add("implants", implant_date=day(implanted.day), kind="initial" if implanted.day == 0 else "replacement",
                device_model=implanted.pump.spec.model.name, reservoir_ml=RESERVOIR_ML,
                serial_number=implanted.serial_number, insertion_level=course.insertion_level,
                catheter_tip_level=implanted.pump.spec.catheter.tip_level,
                explant_date=explant_date, explant_reason=reason,
                postop_stay_days=course.postop_stay_days if implanted.day == 0 else None)
    reported = course.schedule.patient_reported
    run.add("visits", visit_date=day(-1), visit_type="baseline", nrs=baseline.nrs if reported else None,
            eq5d_index=baseline.eq5d_index if reported else None,
            systemic_opioid=baseline.ome_mg_per_day is not None, ome_mg_per_day=baseline.ome_mg_per_day)
    respondent = "family" if course.schedule.telephone else "patient"
    for visit in course.visits:
        satisfaction = None if visit.satisfied is None else "satisfied" if visit.satisfied else "dissatisfied"
        run.add("visits", visit_date=day(visit.day), visit_type=visit.visit_type, nrs=visit.nrs,
                eq5d_index=visit.eq5d_index, systemic_opioid=visit.systemic_opioid,
                ome_mg_per_day=visit.ome_mg_per_day, opioid_change=visit.opioid_change, satisfaction=satisfaction,
                satisfaction_respondent=None if satisfaction is None else respondent,
                dissatisfaction_reason="poor_pain_control" if visit.satisfied is False else None)
    for c in course.complications:
        run.add("complications", kind=c.kind, onset_date=day(c.day), grade=c.grade, action=c.action,
                note="synthetic")
    if course.exit_reason is not None:
        run.add("exits", exit_date=end, reason=course.exit_reason.value, death_date=death,
                cause_of_death=None if death is None else PERIOPERATIVE_CAUSE if course.perioperative_death
                else "disease progression (synthetic)")
    for implanted in run.implants:
        start = run.clock_start(implanted)
        for event in implanted.pump.log.of_kind(EventKind.ALARM):
            run.add("alarms", pump_serial=implanted.serial_number, at=start + dt.timedelta(seconds=event.t_s),
                    code=event.data["alarm"], kind="alarm", severity=SEVERITY_CODES[Severity(event.data["severity"])],
                    source="pump", description=event.reason)
