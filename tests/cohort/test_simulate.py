"""A small replicate written to a registry: every row passes the registry's checks, nothing happens after death
or explant, the pump totals rebuilt from the registry equal the pumps', and the same seed gives the same
registry."""

import datetime as dt
import sqlite3

import pytest
from sqlalchemy import select

from openidds.clinic import check_registry, connect, models, unit_of_work
from openidds.clinic.errors import RegistryError
from openidds.clinic.pump_log import stored_pump_log
from openidds.cohort.clinic_run import SITE, synthetic_sites
from openidds.cohort.params import ParamsError, load_params
from openidds.cohort.simulate import play, simulate, write_registry
from openidds.cohort.study import load_study
from openidds.errors import OpenIDDSError
from openidds.pump import rebuild_totals

N = 40


@pytest.fixture(scope="module")
def study():
    return load_study("seed000")


@pytest.fixture(scope="module")
def params():
    return load_params("seed000")


@pytest.fixture(scope="module")
def replicate(study, params, tmp_path_factory):
    runs = play(study, params, 1, N)
    db = tmp_path_factory.mktemp("cohort") / "cohort.sqlite"
    write_registry(runs, str(db), source="test")
    return runs, str(db)


def test_every_row_passes_the_registry_checks(replicate):
    _, db = replicate
    engine = connect(db)
    findings = check_registry(engine, dt.date(2023, 1, 1))
    engine.dispose()
    assert [f for f in findings if f.severity == "error"] == []


def test_written_whole_into_place(replicate, study, params, tmp_path, monkeypatch):
    """The registry appears only when complete; a failed write leaves nothing behind."""
    import pathlib

    from openidds.cohort import simulate as module

    _, db = replicate
    assert [p.name for p in pathlib.Path(db).parent.iterdir()] == ["cohort.sqlite"]

    def broken(*args, **kwargs):
        raise RegistryError("pump log", "test", "a failure half-way")

    monkeypatch.setattr(module, "import_pump_logs", broken)
    with pytest.raises(RegistryError, match="half-way"):
        write_registry(play(study, params, 3, 3), str(tmp_path / "new.sqlite"), source="test")
    assert list(tmp_path.iterdir()) == []


def test_its_commits_need_not_wait_for_the_disk_and_the_file_is_the_same(study, params, tmp_path):
    """The registry is written into its temporary file without syncing each commit (only the whole file, once,
    before it is renamed), from a copy of an empty registry migrated the same way: the bytes are those of writes
    that sync every commit."""
    from openidds.clinic import init_registry
    from openidds.clinic.database import _migrated_sqlite, database_url, new_sqlite_registry
    from openidds.cohort.simulate import _write

    migrated = tmp_path / "migrated.sqlite"
    engine = connect(str(migrated))
    init_registry(engine)
    engine.dispose()
    assert migrated.read_bytes() == _migrated_sqlite()

    runs = play(study, params, 5, 6)
    written = tmp_path / "unsynced.sqlite"
    write_registry(runs, str(written), source="test")
    synced = tmp_path / "synced.sqlite"
    synced.touch()
    new_sqlite_registry(synced)
    _write(runs, database_url(synced), source="test", pump_logs=True)
    assert written.read_bytes() == synced.read_bytes()
    for synchronous, expected in ((True, (2, "delete")), (False, (0, "memory"))):
        engine = connect(str(synced), synchronous=synchronous)
        with engine.connect() as conn:
            assert (conn.exec_driver_sql("PRAGMA synchronous").scalar(),
                    conn.exec_driver_sql("PRAGMA journal_mode").scalar()) == expected
        engine.dispose()


def test_synthetic_everywhere(replicate):
    _, db = replicate
    with sqlite3.connect(db) as conn:
        assert {r[0] for r in conn.execute("select code from sites")} == {SITE}
        names = {r[0] for r in conn.execute("select given_name from patients")}
    assert names == {"Synthetic"}


def test_nothing_after_death_or_explant(replicate):
    _, db = replicate
    engine = connect(db)
    with unit_of_work(engine, "reader") as session:
        exits = {e.patient_id: e for e in session.scalars(select(models.Exit))}
        implants = {i.id: i for i in session.scalars(select(models.Implant))}
        refills = list(session.scalars(select(models.Refill)))
        events = list(session.scalars(select(models.PumpEvent)))
        visits = list(session.scalars(select(models.Visit)))
    engine.dispose()
    assert refills and events
    deaths = 0
    for implant_id, day in [(r.implant_id, r.refilled_at.date()) for r in refills] + \
            [(e.implant_id, e.at.date()) for e in events]:
        implant = implants[implant_id]
        exit_ = exits.get(implant.patient_id)
        if exit_ is not None and exit_.death_date is not None:
            deaths += 1
            assert day <= exit_.death_date
        if implant.explant_date is not None:
            assert day <= implant.explant_date
    assert deaths > 0
    for visit in visits:
        exit_ = exits.get(visit.patient_id)
        assert exit_ is None or visit.visit_date <= exit_.exit_date


def test_pump_totals_rebuilt_from_the_registry_equal_the_pumps(replicate):
    runs, db = replicate
    engine = connect(db)
    for run in runs:
        log = stored_pump_log(engine, SITE, run.patient_id, run.implant_date)
        assert rebuild_totals(log.events) == run.pump.totals()
    engine.dispose()


def test_without_the_pump_logs_the_report_is_the_same(replicate, tmp_path):
    """A registry written without the pump logs (as validation's replicates are) holds no pump event, and the
    report built from it is the one built from the registry with them: the report reads none of them."""
    import json

    from sqlalchemy import func

    from openidds.cohort.targets import report_results

    runs, db = replicate
    bare = tmp_path / "bare.sqlite"
    write_registry(runs, str(bare), source="test", pump_logs=False)
    counts = []
    for path in (db, str(bare)):
        engine = connect(path)
        with unit_of_work(engine, "reader") as session:
            counts.append(session.scalar(select(func.count()).select_from(models.PumpEvent)))
        engine.dispose()
    assert counts[0] > 1000 and counts[1] == 0
    with_logs, without = (json.dumps(report_results(path), sort_keys=True, default=str) for path in (db, str(bare)))
    assert with_logs == without


def test_refills_and_sessions_come_from_the_programmer(replicate):
    runs, db = replicate
    assert all(r.refills >= 1 for r in runs)  # the first fill is a refill workflow
    with sqlite3.connect(db) as conn:
        stored = conn.execute("select count(*) from refills").fetchone()[0]
        programs = conn.execute("select count(*) from pump_programs").fetchone()[0]
    assert stored == sum(r.refills for r in runs)
    kinds = {e.kind for r in runs for e in r.pump.log}
    assert {"refill", "program", "bolus_started", "interrogation"} <= kinds
    assert programs >= N


def _dump(db: str) -> list[str]:
    """The registry's whole SQL dump, audit trail and its hash chain included."""
    with sqlite3.connect(db) as conn:
        return list(conn.iterdump())


def test_same_seed_same_registry(study, params, tmp_path):
    a, b, c = (str(tmp_path / f"{name}.sqlite") for name in "abc")
    simulate(study, params, 7, a, patients=12)
    simulate(study, params, 7, b, patients=12)
    simulate(study, params, 8, c, patients=12)
    assert _dump(a) == _dump(b)
    assert any(line.startswith('INSERT INTO "audit_chain"') for line in _dump(a))
    assert _dump(a) != _dump(c)


def test_bad_input_is_refused(study, params, replicate, tmp_path):
    _, db = replicate
    with pytest.raises(RegistryError, match="does not exist yet"):
        write_registry(play(study, params, 2, 2), db, source="test")
    with pytest.raises(ParamsError, match="seed002"):
        simulate(load_study("seed002"), params, 1, str(tmp_path / "x.sqlite"), patients=2)
    with pytest.raises(ParamsError, match="at least 1"):
        simulate(study, params, 1, str(tmp_path / "y.sqlite"), patients=0)
    for seed in (-1, 1.5, True):
        with pytest.raises(OpenIDDSError, match=f"seed={seed}: expected a whole number, 0 or more"):
            simulate(study, params, seed, str(tmp_path / "z.sqlite"), patients=2)
    assert not (tmp_path / "z.sqlite").exists()
    with pytest.raises(RegistryError, match="there is no folder"):
        simulate(study, params, 1, str(tmp_path / "none" / "w.sqlite"), patients=2)


def test_only_virtual_site_codes_are_synthetic():
    assert synthetic_sites([SITE, "VIRTUAL-02"])
    assert not synthetic_sites([SITE, "CJFH"])
    assert not synthetic_sites([])


def test_drawn_catheter_levels_reach_the_pump_and_the_registry_alike(tmp_path):
    """Seed 003 draws each catheter's levels: the registry's implant row holds the course's insertion level and
    the tip of the pump's catheter, which the pump's own log (its implant event, imported) records too."""
    runs = play(load_study("seed003"), load_params("seed003"), 2, 30)
    db = tmp_path / "seed003.sqlite"
    write_registry(runs, str(db), source="test")
    with sqlite3.connect(db) as conn:
        stored = conn.execute(
            "select p.patient_code, i.insertion_level, i.catheter_tip_level, json_extract(e.data, '$.tip_level') "
            "from implants i join patients p on p.id = i.patient_id join pump_events e on e.implant_id = i.id "
            "where e.kind = 'implant'").fetchall()
    assert len(stored) == sum(len(run.implants) for run in runs)
    courses = {run.patient_id: run.course for run in runs}
    for patient, insertion, tip, logged in stored:
        course = courses[patient]
        assert (insertion, tip, logged) == (course.insertion_level, course.tip_level, course.tip_level)
    assert len({tip for *_, tip in stored}) > 1  # drawn, not one level for everyone
