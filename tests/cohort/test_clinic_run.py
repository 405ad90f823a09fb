"""The virtual clinic on one patient: fill and priming through the programmer, refills booked by the forecast,
titration sessions, and a catheter occlusion found by its refill discrepancy."""

import dataclasses
import datetime as dt

import numpy as np
import pytest

from openidds.cohort.clinic_run import run_patient
from openidds.cohort.course import DAY_S, DoseChange

from .one_patient import a_course


def kinds(run):
    return [e.kind for e in run.pump.log]


def test_refills_are_booked_by_the_forecast_and_done_before_they_are_due(params):
    baseline, course = a_course(params, start_dose_mg_per_day=6.0, concentration_mg_per_ml=10.0)
    run = run_patient(1, baseline, course, params.course, np.random.default_rng(1))
    refills = [e for e in run.pump.log if e.kind == "refill"]
    assert len(refills) == run.refills >= 3
    assert not any(e.kind == "alarm" and e.data["alarm"] == "low_reservoir" for e in run.pump.log)
    gaps = np.diff([e.t_s for e in refills]) / DAY_S
    assert gaps.max() <= 90  # morphine's stability in the pump
    rows = run.rows["refills"]
    assert len(rows) == run.refills and rows[0]["withdrawn_residual_ml"] == "0"


def test_titration_is_a_programming_session(params):
    baseline, course = a_course(params, start_dose_mg_per_day=2.0, concentration_mg_per_ml=10.0,
                                dose_changes=(DoseChange(30, 2.4), DoseChange(90, 2.88)))
    run = run_patient(1, baseline, course, params.course, np.random.default_rng(1))
    programs = [e for e in run.pump.log if e.kind == "program"]
    assert len(programs) == 3
    doses = [r["daily_dose_mg_per_day"] for r in run.rows["programs"]]
    assert doses == ["2", "2.4", "2.88"]
    assert [r["started_at"][:10] for r in run.rows["programs"][1:]] == ["2016-03-31", "2016-05-30"]


def test_occlusion_shows_as_a_discrepancy_and_is_revised(params):
    baseline, course = a_course(params, start_dose_mg_per_day=8.0, concentration_mg_per_ml=10.0, occlusion_day=10)
    run = run_patient(1, baseline, course, params.course, np.random.default_rng(1))
    log = kinds(run)
    assert "fault" in log and "catheter_revised" in log
    assert log.index("fault") < log.index("catheter_revised")
    assert run.flagged_refills >= 1
    (complication,) = run.rows["complications"]
    assert complication["kind"] == "catheter_occlusion" and complication["action"] == "revision"
    refill = next(r for r in run.rows["refills"] if r["refilled_at"][:10] == complication["onset_date"])
    assert float(refill["withdrawn_residual_ml"]) - float(refill["expected_residual_ml"]) > 2  # under-delivery


def test_pump_stops_at_the_end_of_follow_up(params):
    baseline, course = a_course(params, bolus_times_s=(DAY_S + 5, 2 * DAY_S + 5, 400 * DAY_S))
    run = run_patient(1, baseline, course, params.course, np.random.default_rng(1))
    assert run.pump.t_s == 300 * DAY_S
    assert max(e.t_s for e in run.pump.log) <= 300 * DAY_S
    patient = [e for e in run.pump.log if e.kind == "bolus_started" and e.data["kind"] == "patient"]
    assert len(patient) == 2  # the press after the end is never made


def test_pump_alarms_become_registry_rows(params):
    """A pump that outlives its battery's elective replacement time raises the non-critical ERI alarm; its row
    carries the registry's severity code and passes the importer's value checks."""
    from openidds.clinic import SPECS
    from openidds.clinic.fields import reference_columns
    from openidds.clinic.importer import parse_table
    from openidds.pump import SYNCHROMED_II

    end = SYNCHROMED_II.eri_after_days + 5
    baseline, course = a_course(params, death_day=end, exit_day=end, end_day=end)
    run = run_patient(1, baseline, course, params.course, np.random.default_rng(1))
    rows = run.rows["alarms"]
    assert {r["code"] for r in rows} >= {"elective_replacement_indicator"}
    assert {r["severity"] for r in rows} <= {"critical", "non_critical"}
    spec = SPECS["alarms"]
    header = (*reference_columns(spec), *spec.columns)
    batch = parse_table(spec, header, [(f"alarms:{i}", [r.get(c, "") for c in header]) for i, r in enumerate(rows)])
    assert batch.findings == [] and len(batch.records) == len(rows)


def test_a_pump_at_its_elective_replacement_indicator_is_replaced(params, tmp_path):
    """A battery that reaches ERI on day 200: the first refill after it finds the alarm and the pump is replaced
    (a new pump, filled at the current dose and primed, its own log), long before end of service; the registry
    written from it passes the registry's checks."""
    from openidds.clinic import check_registry, connect
    from openidds.clinic.pump_log import stored_pump_log
    from openidds.cohort.simulate import write_registry
    from openidds.pump import SYNCHROMED_II, PumpSpec

    eri_s = 200 * DAY_S
    spec = PumpSpec(model=SYNCHROMED_II, reservoir_ml=40, battery_eri_at_s=eri_s)
    baseline, course = a_course(params, start_dose_mg_per_day=2.0, concentration_mg_per_ml=10.0, death_day=500,
                                exit_day=500, end_day=500, dose_changes=(DoseChange(300, 2.4),))
    run = run_patient(1, baseline, course, params.course, np.random.default_rng(1), spec=spec)
    first, second, *_ = run.implants
    assert eri_s < second.start_s < eri_s + 90 * DAY_S
    assert second.pump.spec.eri_at_s == SYNCHROMED_II.eri_after_days * DAY_S  # a new battery, on its own clock
    assert any(e.kind == "alarm" and e.data["alarm"] == "elective_replacement_indicator" for e in first.pump.log)
    assert max(e.t_s for e in first.pump.log) <= second.start_s  # the old pump's log ends at its explant
    assert next(iter(second.pump.log)).kind == "implant" == next(iter(first.pump.log)).kind
    assert next(iter(second.pump.log)).t_s == 0  # its clock starts at its implant
    for implanted in run.implants:
        alarms = [e.data["alarm"] for e in implanted.pump.log if e.kind == "alarm"]
        assert "end_of_service" not in alarms
        assert [e.kind for e in implanted.pump.log if e.kind in ("refill", "program")][:2] == ["refill", "program"]
    assert run.pump is run.implants[-1].pump and run.now_s == 500 * DAY_S == second.start_s + run.pump.t_s
    implants = run.rows["implants"]
    assert [r["kind"] for r in implants] == ["initial"] + ["replacement"] * (len(run.implants) - 1)
    assert implants[0]["explant_date"] == implants[1]["implant_date"]
    assert implants[0]["explant_reason"] == "battery_end_of_service"
    assert len({r["serial_number"] for r in implants}) == len(implants)
    doses = [r["daily_dose_mg_per_day"] for r in run.rows["programs"]]
    assert doses[-1] == "2.4"  # the dose of day 300 goes on to the next pump

    db = tmp_path / "replaced.sqlite"
    write_registry([run], str(db), source="test")
    engine = connect(str(db))
    try:
        findings = check_registry(engine, dt.date(2022, 1, 1))
        assert [f for f in findings if f.severity == "error"] == []
        for row in implants:
            log = stored_pump_log(engine, "VIRTUAL-01", run.patient_id, dt.date.fromisoformat(row["implant_date"]))
            assert log.events
    finally:
        engine.dispose()


def test_a_session_that_finds_the_eri_alarm_replaces_the_pump_first(params):
    from openidds.pump import SYNCHROMED_II, PumpSpec

    spec = PumpSpec(model=SYNCHROMED_II, reservoir_ml=40, battery_eri_at_s=200 * DAY_S)
    baseline, course = a_course(params, start_dose_mg_per_day=2.0, concentration_mg_per_ml=10.0,
                                dose_changes=(DoseChange(201, 2.4),))
    run = run_patient(1, baseline, course, params.course, np.random.default_rng(1), spec=spec)
    assert run.implants[1].day == 201
    programs = [e for e in run.implants[1].pump.log if e.kind == "program"]
    assert len(programs) == 2  # the replacement's fill at the current dose, then the session's new dose
    assert [r["daily_dose_mg_per_day"] for r in run.rows["programs"]][-2:] == ["2", "2.4"]
    assert [r["pump_serial"] for r in run.rows["programs"]][-2:] == [run.implants[1].serial_number] * 2


def test_a_revision_on_the_day_of_a_replacement_waits_for_the_new_pump_s_priming(params):
    """The revision's session finds the ERI alarm: the pump is replaced and primed (25 minutes), and the revision
    and its own priming follow once that priming has ended (a second priming while one runs is refused)."""
    from openidds.pump import SYNCHROMED_II, PumpSpec

    spec = PumpSpec(model=SYNCHROMED_II, reservoir_ml=40, battery_eri_at_s=200 * DAY_S)
    baseline, course = a_course(params, start_dose_mg_per_day=2.0, concentration_mg_per_ml=10.0,
                                revision_days=(201,))
    run = run_patient(1, baseline, course, params.course, np.random.default_rng(1), spec=spec)
    assert run.implants[1].day == 201
    log = run.implants[1].pump.log
    primings = [(e.t_s, e.kind) for e in log if e.kind in ("bolus_started", "bolus_ended", "catheter_revised")
                and (e.kind == "catheter_revised" or e.data["kind"] == "priming")]
    assert [kind for _, kind in primings] == ["bolus_started", "bolus_ended", "catheter_revised", "bolus_started",
                                              "bolus_ended"]
    assert primings[1][0] - primings[0][0] == 1500 and primings[2][0] >= primings[1][0]
    assert [e.reason for e in log if e.kind == "bolus_ended" and e.data["kind"] == "priming"] == ["completed"] * 2


def test_an_admixture_is_filled_together_and_programmed_drug_by_drug(params):
    baseline, course = a_course(params, start_dose_mg_per_day=1.0, concentration_mg_per_ml=10.0,
                                added_mg_per_ml=(("bupivacaine", 5.0),), dose_changes=(DoseChange(30, 1.2),))
    run = run_patient(1, baseline, course, params.course, np.random.default_rng(1))
    fills = [e for e in run.pump.log if e.kind == "refill"]
    assert fills and "bupivacaine" in str(fills[0].data) and "morphine" in str(fills[0].data)
    rows = [(r["started_at"][:10], r["drug"], r["daily_dose_mg_per_day"]) for r in run.rows["programs"]]
    assert rows == [("2016-03-01", "morphine", "1"), ("2016-03-01", "bupivacaine", "0.5"),
                    ("2016-03-31", "morphine", "1.2"), ("2016-03-31", "bupivacaine", "0.6")]
    assert {r["drug"] for r in run.rows["refills"]} == {"morphine"}


def test_a_replacement_after_ten_years_of_follow_up_has_its_own_clock_and_both_logs_land_on_their_dates(
        params, tmp_path):
    """A patient followed 10.4 years: the first pump runs to its battery's ERI (6 years) and is replaced. Each
    pump's log counts from its own implant (well inside the wire format's ten years, which the patient's time
    passes), is exported and imported through the clinic's import, and every event lands on its calendar date:
    the first pump's from its implant to its explant, the replacement's from its implant to the end of follow-up;
    its alarm rows are dated from its own clock."""
    from openidds.clinic import check_registry, connect
    from openidds.clinic.pump_log import stored_pump_log
    from openidds.cohort.simulate import pump_logs, write_registry
    from openidds.pump import rebuild_totals
    from openidds.pump.wire import MAX_SECONDS

    end = 3800
    baseline, course = a_course(params, start_dose_mg_per_day=2.0, concentration_mg_per_ml=10.0, death_day=end,
                                exit_day=end, end_day=end, dose_changes=(DoseChange(3000, 2.4),))
    run = run_patient(1, baseline, course, params.course, np.random.default_rng(1))
    first, second = run.implants
    assert first.start_s == 0 and end * DAY_S > MAX_SECONDS  # the patient's time passes the bound, no pump's clock
    assert 6 * 365 * DAY_S < second.start_s < (6 * 365 + 90) * DAY_S
    assert max(e.t_s for e in second.pump.log) <= second.pump.t_s == end * DAY_S - second.start_s < MAX_SECONDS

    implant = dt.date(2016, 3, 1)
    replaced_on = implant + dt.timedelta(days=second.day)
    logs = pump_logs(run)
    assert [day for day, _ in logs] == [implant, replaced_on]
    assert logs[1][1].clock_start == dt.datetime.combine(implant, dt.time(8), dt.UTC) + dt.timedelta(
        seconds=second.start_s)
    eri = [r["at"] for r in run.rows["alarms"] if r["code"] == "elective_replacement_indicator"]
    assert eri == [f"{implant + dt.timedelta(days=6 * 365)}T08:00:00Z"]  # the first pump's: the second's is later
    last_day = implant + dt.timedelta(days=end)
    assert all(replaced_on <= dt.date.fromisoformat(r["at"][:10]) <= last_day
               for r in run.rows["alarms"] if r["pump_serial"] == second.serial_number)

    db = tmp_path / "ten-years.sqlite"
    write_registry([run], str(db), source="test")
    engine = connect(str(db))
    try:
        assert [f for f in check_registry(engine, dt.date(2027, 1, 1)) if f.severity == "error"] == []
        for implanted, (start, stop) in zip(run.implants, [(implant, replaced_on), (replaced_on, last_day)],
                                            strict=True):
            stored = stored_pump_log(engine, "VIRTUAL-01", run.patient_id, start)
            assert [e.t_s for e in stored.events] == [e.t_s for e in implanted.pump.log]  # its own clock
            assert stored.clock_start == run.clock_start(implanted).replace(tzinfo=dt.UTC)
            days = [stored.at(e.t_s).date() for e in stored.events]
            assert days[0] == start and start <= min(days) and max(days) <= stop
            # the pump's refills, placed by its own clock, are the clinic's refill records of that pump
            refilled = [f"{stored.at(e.t_s).isoformat()}Z" for e in stored.events if e.kind == "refill"]
            assert refilled == [r["refilled_at"] for r in run.rows["refills"]
                                if r["pump_serial"] == implanted.serial_number]
            assert len(refilled) > 5
            assert rebuild_totals(stored.events) == implanted.pump.totals()
    finally:
        engine.dispose()


def test_a_pump_log_past_the_wire_formats_ten_years_is_refused_with_the_projects_error(params, tmp_path):
    """A battery set to outlast the follow-up (no replacement) keeps one pump 10.4 years: writing the registry is
    refused with an OpenIDDSError naming the event's time, its value and the bound, and nothing is written."""
    from openidds.cohort.simulate import write_registry
    from openidds.errors import OpenIDDSError
    from openidds.pump import SYNCHROMED_II, PumpSpec

    end = 3800
    spec = PumpSpec(model=SYNCHROMED_II, reservoir_ml=40, battery_eri_at_s=2 * end * DAY_S)
    baseline, course = a_course(params, start_dose_mg_per_day=2.0, concentration_mg_per_ml=10.0, death_day=end,
                                exit_day=end, end_day=end)
    run = run_patient(1, baseline, course, params.course, np.random.default_rng(1), spec=spec)
    with pytest.raises(OpenIDDSError, match=r"pump log events\[\d+\]\.t_s=\d+: expected a time on the pump clock "
                                            r"from 0 to 316224000 s") as refused:
        write_registry([run], str(tmp_path / "refused.sqlite"), source="test")
    assert refused.value.value > 316224000
    assert list(tmp_path.iterdir()) == []


def test_a_perioperative_death_is_recorded_as_a_death_in_hospital(params, tmp_path):
    """A patient who dies the day after the implant (the course's perioperative death) has a post-operative stay
    ending that day and a death whose cause says so; the report counts it among in-hospital deaths, and a
    patient discharged on day 6 who dies on day 300 is not."""
    from openidds.clinic import check_registry, connect
    from openidds.cohort.clinic_run import PERIOPERATIVE_CAUSE
    from openidds.cohort.simulate import write_registry
    from openidds.cohort.study import load_study
    from openidds.cohort.targets import measure

    baseline, died = a_course(params, death_day=1, exit_day=1, end_day=1, visits=(), postop_stay_days=1,
                              perioperative_death=True)
    _, lived = a_course(params, visits=(), postop_stay_days=6)
    runs = [run_patient(n, baseline, course, params.course, np.random.default_rng(n))
            for n, course in ((1, died), (2, lived))]
    (exit_row,) = runs[0].rows["exits"]
    assert exit_row["cause_of_death"] == PERIOPERATIVE_CAUSE and exit_row["death_date"] == "2016-03-02"
    assert [r["postop_stay_days"] for run in runs for r in run.rows["implants"]] == ["1", "6"]
    db = tmp_path / "perioperative.sqlite"
    write_registry(runs, str(db), source="test")
    engine = connect(str(db))
    try:
        assert [f for f in check_registry(engine, dt.date(2022, 1, 1)) if f.severity == "error"] == []
        m = measure(load_study("seed003"), engine)
    finally:
        engine.dispose()
    assert m["early_death_proportion"] == pytest.approx(0.5)
    assert m["deaths_after_discharge_count"] == 1


def test_a_patient_on_no_systemic_opioid_is_recorded_so_at_baseline(params):
    """No systemic opioid: the baseline visit says so and records no OME (the report's OME median is over the
    patients on one, as seed 003's); a patient on one has both."""
    baseline, course = a_course(params)
    off = dataclasses.replace(baseline, ome_mg_per_day=None)
    rows = [run_patient(n, b, course, params.course, np.random.default_rng(n)).rows["visits"][0]
            for n, b in ((1, baseline), (2, off))]
    assert [(r["visit_type"], r["systemic_opioid"], r.get("ome_mg_per_day")) for r in rows] == [
        ("baseline", "1", str(baseline.ome_mg_per_day)), ("baseline", "0", None)]
