"""The virtual clinic: its definition file, a patient's last contact, and the bundled example registry, which is
the ``example`` clinic written again byte for byte."""

import dataclasses
import datetime as dt
import re
import tomllib
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import Engine, text

from openidds.clinic import analysis_dataset, check_registry, refills_due
from openidds.clinic.examples import (
    EXAMPLE_APPOINTMENTS,
    EXAMPLE_CUTOFF,
    EXAMPLE_FOLDER,
    EXAMPLE_PUMP_LOGS,
    EXAMPLE_PUMP_STATES,
)
from openidds.clinic.follow_up import follow_ups_due
from openidds.clinic.open_alarms import open_alarms
from openidds.clinic.pump_states import read_pump_state
from openidds.cohort.baseline import sample_baselines
from openidds.cohort.clinic_run import run_patient
from openidds.cohort.course import DAY_S, DoseChange, Schedule, Visit, draw_course
from openidds.cohort.params import load_params
from openidds.cohort.virtual_clinic import (
    ClinicError,
    booked_refills,
    bundled_clinics,
    last_contact,
    load_clinic,
    main,
    play_clinic,
    write_clinic,
)

BUNDLED = Path(__file__).parents[2] / "src" / "openidds" / "cohort" / "clinics" / "example.toml"


def test_the_bundled_example_registry_is_the_example_clinic_written_again(tmp_path: Path) -> None:
    """`python -m openidds.cohort.virtual_clinic` rewrites the bundled files byte for byte."""
    clinic = load_clinic("example")
    runs = play_clinic(clinic)
    written = write_clinic(runs, tmp_path, booked_refills(clinic, runs))
    bundled = sorted([EXAMPLE_APPOINTMENTS, *(p for folder in (EXAMPLE_FOLDER, EXAMPLE_PUMP_LOGS, EXAMPLE_PUMP_STATES)
                                              for p in folder.rglob("*") if p.is_file())])
    assert [p.relative_to(tmp_path) for p in written] == [p.relative_to(EXAMPLE_FOLDER.parent) for p in bundled]
    for new, old in zip(written, bundled, strict=True):
        assert new.read_bytes() == old.read_bytes(), old.name


def test_each_pump_in_place_has_the_programmer_state_that_rebuilds_it() -> None:
    """The state of every pump in place on the clinic day replays to the pump itself (reservoir, totals and
    alarms); a pump with a simulated fault (a premature ERI, an occlusion) has none, and an exited patient's
    pump is not kept."""
    runs = play_clinic(load_clinic("example"))
    in_place = [run for run in runs if run.course.exit_reason is None]
    assert in_place and all(run.states is not None and len(run.states) == len(run.implants) for run in runs)
    rebuilt = 0
    for run in in_place:
        pump, state = run.pump, run.states[-1]
        if state is None:
            assert pump.spec.battery_eri_at_s is not None or run.course.occlusion_day is not None
            continue
        replayed = state.replay()
        replayed.advance(pump.t_s)
        assert replayed.reservoir_actual_ticks == pump.reservoir_actual_ticks, run.patient_id
        assert replayed.totals() == pump.totals(), run.patient_id
        assert [a.kind for a in replayed.alarms] == [a.kind for a in pump.alarms], run.patient_id
        rebuilt += 1
    assert rebuilt > 0.9 * len(in_place)
    assert sum(1 for path in EXAMPLE_PUMP_STATES.rglob("*.json")) == rebuilt


def test_the_example_clinic_day_is_the_example_registry_cut_off() -> None:
    clinic = load_clinic("example")
    assert bundled_clinics() == ("example", "remote")
    assert clinic.clinic_day == EXAMPLE_CUTOFF
    assert all(site.code.startswith("VIRTUAL-") and "synthetic" in site.name for site in clinic.sites)


def test_writing_again_replaces_the_folders_whole(tmp_path: Path) -> None:
    clinic = load_clinic("example")
    first, second = (clinic.model_copy(update={"sites": (site.model_copy(update={"patients": n}),)})
                     for site, n in zip(clinic.sites, (3, 4), strict=True))
    write_clinic(play_clinic(second), tmp_path)
    files = write_clinic(play_clinic(first), tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pump_logs", "pump_states", "refill_appointments.csv",
                                                          "registry"]
    assert {p.relative_to(tmp_path / "pump_logs").parts[0] for p in files if "pump_logs" in p.parts} == {"VIRTUAL-01"}
    assert (tmp_path / "registry" / "patients.csv").read_text().count("\n") == 4  # the header and 3 patients


def test_a_missed_contact_plays_and_records_nothing_from_the_last_contact_on() -> None:
    params = load_params("seed000")
    rng = np.random.default_rng(3)
    baseline = sample_baselines(params.baseline, 1, rng)[0]
    schedule = Schedule(dt.date(2024, 1, 1), dt.date(2025, 6, 30), (1, 3, 6, 12), telephone=False,
                        patient_reported=True)
    course = draw_course(baseline, params.course, schedule, rng)
    dose = course.start_dose_mg_per_day
    visits = tuple(Visit(day, "follow_up", 4, None, True, 100.0, "unchanged", True) for day in (30, 91, 365))
    course = dataclasses.replace(course, death_day=None, exit_day=None, exit_reason=None, end_day=546, visits=visits,
                                 dose_changes=(DoseChange(100, dose), DoseChange(400, dose)),
                                 bolus_times_s=(DAY_S, 500 * DAY_S))
    cut = last_contact(course, 300)
    assert cut.end_day == 300 and [c.day for c in cut.dose_changes] == [100]
    assert [v.day for v in cut.visits] == [30, 91]
    assert cut.bolus_times_s == (DAY_S,)
    run = run_patient(1, baseline, cut, params.course, np.random.default_rng(1))
    refills = [dt.date.fromisoformat(r["refilled_at"][:10]) for r in run.rows["refills"]]
    assert max(refills) < schedule.implant_date + dt.timedelta(days=300)
    assert len(run.rows["visits"]) == 3  # the baseline and the two visits before the last contact
    [patient] = run.rows["patients"]
    assert patient["last_contact_date"] == (schedule.implant_date + dt.timedelta(days=300)).isoformat()


@pytest.mark.parametrize(("change", "field"), [
    ({"sites": []}, "sites"),
    ({"seed": -1}, "seed"),
    ({"colour": "blue"}, "colour"),
    ({"visit_months": [3, 1]}, "(top level)"),
])
def test_a_bad_clinic_file_is_refused_naming_the_field(tmp_path: Path, change: dict, field: str) -> None:
    data = tomllib.loads(BUNDLED.read_text(encoding="utf-8"))
    data.update(change)
    path = tmp_path / "bad.toml"
    path.write_text(_toml(data), encoding="utf-8")
    with pytest.raises(ClinicError, match=rf"bad\.toml: {re.escape(field)}") as caught:
        load_clinic(path)
    assert "docs/cohort.md" in str(caught.value)


@pytest.mark.parametrize(("site", "message"), [
    ({"code": "CLINIC-01"}, "String should match pattern"),
    ({"implant_start": dt.date(2025, 7, 1)}, "implant_start must lie before the clinic_day"),
])
def test_a_site_that_is_not_a_virtual_one_or_opens_after_the_clinic_day_is_refused(
        tmp_path: Path, site: dict, message: str) -> None:
    data = tomllib.loads(BUNDLED.read_text(encoding="utf-8"))
    data["sites"][0].update(site)
    path = tmp_path / "bad.toml"
    path.write_text(_toml(data), encoding="utf-8")
    with pytest.raises(ClinicError, match=message):
        load_clinic(path)


def test_an_unknown_clinic_or_a_missing_file_is_refused() -> None:
    with pytest.raises(ClinicError, match="one of the bundled clinics example"):
        load_clinic("elsewhere")
    with pytest.raises(ClinicError, match="an existing clinic file"):
        load_clinic("no/such/clinic.toml")


def test_the_command_refuses_an_unknown_clinic_with_the_message(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as stopped:
        main(["elsewhere"])
    assert stopped.value.code == 2
    assert "clinic='elsewhere': expected one of the bundled clinics example" in capsys.readouterr().err


def _toml(data: dict) -> str:
    """A minimal TOML writer for the clinic file's shapes (tables and their tables, arrays of tables, scalars, arrays,
    dates and times)."""
    def value(v: object) -> str:
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, str):
            return '"' + v.replace('"', '\\"') + '"'
        if isinstance(v, list):
            return "[" + ", ".join(value(x) for x in v) + "]"
        return v.isoformat() if isinstance(v, dt.date) else str(v)

    scalars = [f"{k} = {value(v)}" for k, v in data.items() if not isinstance(v, dict) and not (
        isinstance(v, list) and v and isinstance(v[0], dict))]
    def table(name: str, items: dict) -> str:
        return "\n\n".join([f"[{name}]\n" + "\n".join(f"{k} = {value(v)}" for k, v in items.items()
                                                     if not isinstance(v, dict)),
                             *(table(f"{name}.{k}", v) for k, v in items.items() if isinstance(v, dict))])

    tables = [table(k, v) for k, v in data.items() if isinstance(v, dict)]
    arrays = [f"[[{k}]]\n" + "\n".join(f"{kk} = {value(vv)}" for kk, vv in item.items())
              for k, v in data.items() if isinstance(v, list) and v and isinstance(v[0], dict) for item in v]
    return "\n".join(scalars) + "\n\n" + "\n\n".join(tables + arrays) + "\n"


def test_on_its_clinic_day_the_example_clinic_has_every_kind_of_work(example: Engine) -> None:
    """What the seed was chosen for: refills overdue and due, open low-reservoir and ERI alarms from the pump logs,
    a flagged refill discrepancy and a replaced pump; and follow-ups due, deaths and explants."""
    day = EXAMPLE_CUTOFF
    due = [r.days_left for r in refills_due(example, day, 14)]
    assert min(due) < 0 <= max(due) <= 14
    alarms = {a.alarm for a in open_alarms(example, dt.datetime.combine(day, dt.time(9)))}
    assert {"low_reservoir", "elective_replacement_indicator"} <= alarms
    assert follow_ups_due(example, day, 14)
    findings = check_registry(example, day)
    assert [f for f in findings if f.severity == "error"] == []
    assert {f.rule for f in findings} == {"follow-up-nrs", "refill-overdue", "refill-discrepancy"}
    frame = analysis_dataset(example)
    assert set(frame["site"]) == {"VIRTUAL-01", "VIRTUAL-02"} and len(frame) == load_clinic("example").patients
    with example.connect() as conn:
        kinds = dict(conn.execute(text("select kind, count(*) from implants group by kind")).all())
        explants = dict(conn.execute(text("select explant_reason, count(*) from implants where explant_reason "
                                          "is not null group by explant_reason")).all())
        exits = dict(conn.execute(text("select reason, count(*) from exits group by reason")).all())
        events = conn.execute(text("select count(*) from pump_events")).scalar_one()
    assert kinds["replacement"] == explants["battery_end_of_service"] > 0
    assert set(explants) > {"battery_end_of_service"} and exits["death"] > 0.8 * sum(exits.values())
    assert events == sum(len(p.read_text().split('"seq":')) - 1 for p in EXAMPLE_PUMP_LOGS.rglob("*.json"))


def test_the_example_stores_each_pump_states_for_its_implant_in_place(example: Engine) -> None:
    """Loaded with the example, each pump in place has its state (the refill and programming pages' pump), its
    last refill's post-refill observation signed off."""
    paths = sorted(EXAMPLE_PUMP_STATES.glob("*/*/*.json"))
    assert paths
    for path in paths:
        stored = read_pump_state(example, path.parent.parent.name, path.parent.name)
        assert stored is not None and stored.state.start.date().isoformat() == path.stem
        kinds = [line["kind"] for line in stored.state.sessions]
        assert kinds[-kinds[::-1].index("observation_started") - 1:].count("observation_completed") == 1
