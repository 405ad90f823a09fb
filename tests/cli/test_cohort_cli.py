"""`openidds cohort run`, then `openidds report` on the registry it wrote: a synthetic report."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from openidds.cli import app

runner = CliRunner()


def test_run_then_report(tmp_path):
    db = tmp_path / "cohort.sqlite"
    result = runner.invoke(app, ["cohort", "run", "seed000", "--seed", "1", "--db", str(db), "--patients", "15"])
    assert result.exit_code == 0, result.output
    assert "Synthetic cohort seed000 (seed 1)" in result.stdout
    next_step = next(line for line in result.stdout.splitlines() if line.startswith("next: "))
    title = next_step.split('--title "')[1].rstrip('"')
    assert "Synthetic" in title and "not study results" in title
    out = tmp_path / "report"
    report = runner.invoke(app, ["report", "--db", str(db), "--title", title, "--out", str(out)])
    assert report.exit_code == 0, report.output
    summary = json.loads((out / "report.json").read_text(encoding="utf-8"))
    assert summary["title"] == title
    assert "Synthetic" in (out / "report.html").read_text(encoding="utf-8")


def test_the_check_it_suggests_judges_the_registry_as_of_the_study_s_end(tmp_path):
    """Patients still followed at seed 003's end (2024-03-20) have no refill after it: judged as of today they
    would be overdue, as of the study's end (the printed check) they are not."""
    db = str(tmp_path / "seed003.sqlite")
    result = runner.invoke(app, ["cohort", "run", "seed003", "--seed", "1", "--db", db, "--patients", "20"])
    assert result.exit_code == 0, result.output
    check = next(line for line in result.stdout.splitlines() if line.startswith("check: "))
    assert check.endswith("--today 2024-03-20")

    def rules(args: list[str]) -> list[str]:
        checked = runner.invoke(app, [*args, "--json"])
        assert checked.exit_code == 0, checked.output
        return [f["rule"] for f in json.loads(checked.stdout)["findings"]]

    assert "refill-overdue" in rules(["registry", "check", "--db", db])
    assert rules(check.removeprefix("check: openidds ").split()) == []


def test_refusals(tmp_path):
    db = tmp_path / "cohort.sqlite"
    db.write_text("")
    taken = runner.invoke(app, ["cohort", "run", "seed000", "--seed", "1", "--db", str(db)])
    assert taken.exit_code == 2 and "does not exist yet" in taken.stderr
    unknown = runner.invoke(app, ["cohort", "run", "seed999", "--seed", "1", "--db", str(tmp_path / "n.sqlite")])
    assert unknown.exit_code == 2 and "seed000" in unknown.stderr
    for figure, says in ((tmp_path / "none" / "v.png", "no folder"), (tmp_path / "v.txt", ".png, .svg or .pdf")):
        drawn = runner.invoke(app, ["cohort", "validate", "seed000", "--replicates", "1", "--figure", str(figure)])
        assert drawn.exit_code == 2 and "--figure" in drawn.stderr and says in drawn.stderr  # before any replicate
    negative = runner.invoke(app, ["cohort", "run", "seed000", "--seed", "-1", "--db", str(tmp_path / "s.sqlite")])
    assert negative.exit_code == 2 and "--seed" in negative.stderr and "greater than or equal to 0" in negative.stderr
    assert not (tmp_path / "s.sqlite").exists()
    nowhere = runner.invoke(app, ["cohort", "run", "seed000", "--seed", "1", "--db",
                                  str(tmp_path / "none" / "c.sqlite")])
    assert nowhere.exit_code == 2 and "there is no folder" in nowhere.stderr
    bad = tmp_path / "bad.json"
    bad.write_text("{}")
    params = runner.invoke(app, ["cohort", "run", "seed000", "--seed", "1", "--db", str(tmp_path / "p.sqlite"),
                                 "--params", str(bad)])
    assert params.exit_code == 2 and "params" in params.stderr


def test_validate_small_study(tmp_path):
    """Two replicates of a 12-patient seed000 compared with every published number, table and figure; with the
    pumps' logs stored (as `cohort run` writes them) every target is the same: no target reads them."""
    small = _small_study(tmp_path)
    figure = tmp_path / "validation.png"
    answers = []
    for flags in (["--figure", str(figure)], ["--pump-logs"]):
        result = runner.invoke(app, ["cohort", "validate", str(small), "--replicates", "2", "--workers", "1",
                                     "--json", *flags])
        assert result.exit_code == 0, result.output
        answers.append(json.loads(result.stdout))
    answer, stored = answers
    assert answer["study"] == "seed000" and answer["n_replicates"] == 2
    assert {t["name"] for t in answer["targets"]} >= {"nrs_change_mean", "os_median_months"}
    assert (answer["pump_logs_stored"], stored["pump_logs_stored"]) == (False, True)
    assert json.dumps(answer["targets"]) == json.dumps(stored["targets"])  # NaN (no estimate) written alike
    assert figure.stat().st_size > 0
    table = runner.invoke(app, ["cohort", "validate", str(small), "--replicates", "1", "--workers", "1"])
    assert table.exit_code == 0 and "nrs_change_mean" in table.stdout
    assert "simulated but not stored (--pump-logs stores them)" in " ".join(table.stdout.split())


def _small_study(tmp_path, **replace: str):
    from importlib import resources

    text = (resources.files("openidds.cohort") / "studies" / "seed000.toml").read_text(encoding="utf-8")
    for old, new in {"n_patients = 193": "n_patients = 12", **replace}.items():
        text = text.replace(old, new)
    path = tmp_path / "small.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_calibrate_writes_the_same_file_for_the_same_seed(tmp_path):
    from openidds.cohort.params import load_params

    study = _small_study(tmp_path)
    outs = [tmp_path / "a.json", tmp_path / "b.json"]
    for out in outs:
        result = runner.invoke(app, ["cohort", "calibrate", str(study), "--budget", "3", "--patients", "30",
                                     "--seed", "2", "--date", "2026-01-02", "--out", str(out)])
        assert result.exit_code == 0, result.output
    assert outs[0].read_bytes() == outs[1].read_bytes()
    assert "nrs_change_mean" in result.stdout and "distance" in result.stdout
    fitted = load_params(outs[0])
    assert fitted.calibration is not None and fitted.calibration.evaluations == 3
    assert fitted.calibration.command.startswith(f"openidds cohort calibrate {study} --budget 3 --seed 2")
    assert str(fitted.calibration.date) == "2026-01-02"


def test_calibrate_over_several_cohorts_says_so(tmp_path):
    from openidds.cohort.params import load_params

    out = tmp_path / "k.json"
    result = runner.invoke(app, ["cohort", "calibrate", str(_small_study(tmp_path)), "--budget", "2", "--patients",
                                 "30", "--cohorts", "2", "--date", "2026-01-02", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "2 cohorts of 30 synthetic patients each" in " ".join(result.stdout.split())
    record = load_params(out).calibration
    assert record is not None and record.cohorts_per_evaluation == 2 and "--patients 30 --cohorts 2" in record.command
    refused = runner.invoke(app, ["cohort", "calibrate", "seed000", "--budget", "1", "--cohorts", "0"])
    assert refused.exit_code == 2 and "--cohorts" in refused.stderr


def test_calibrate_refusals(tmp_path):
    unknown = runner.invoke(app, ["cohort", "calibrate", "seed999", "--budget", "1"])
    assert unknown.exit_code == 2 and "seed000" in unknown.stderr
    impossible = _small_study(tmp_path, **{"value = 0.951": "value = 1.3"})
    refused = runner.invoke(app, ["cohort", "calibrate", str(impossible), "--budget", "1"])
    assert refused.exit_code == 2 and "nrs_improved_proportion" in refused.stderr
    other = runner.invoke(app, ["cohort", "calibrate", "seed000", "--budget", "1", "--params", "seed002"])
    assert other.exit_code == 2 and "params.study" in other.stderr
    date = runner.invoke(app, ["cohort", "calibrate", "seed000", "--budget", "1", "--date", "30/11/2026"])
    assert date.exit_code == 2 and "YYYY-MM-DD" in date.stderr
    nowhere = runner.invoke(app, ["cohort", "calibrate", "seed000", "--budget", "1", "--out",
                                  str(tmp_path / "none" / "fit.json")])
    assert nowhere.exit_code == 2 and "--out" in nowhere.stderr and "no folder" in nowhere.stderr  # before the fit
    folder = runner.invoke(app, ["cohort", "calibrate", str(_small_study(tmp_path)), "--budget", "1", "--patients",
                                 "20", "--out", str(tmp_path)])
    assert folder.exit_code == 2 and "a file that can be written" in folder.stderr


def test_calibrate_named_parameters_keeps_the_rest_and_the_history(tmp_path):
    """A refit of one parameter of a calibrated file: only it moves, and the run it started from is kept."""
    from openidds.cohort.params import load_params

    study = _small_study(tmp_path)
    first, second = tmp_path / "first.json", tmp_path / "second.json"
    result = runner.invoke(app, ["cohort", "calibrate", str(study), "--budget", "3", "--patients", "30",
                                 "--date", "2026-01-02", "--out", str(first)])
    assert result.exit_code == 0, result.output
    result = runner.invoke(app, ["cohort", "calibrate", str(study), "--budget", "4", "--patients", "30",
                                 "--params", str(first), "--parameter", "survival_median_months",
                                 "--date", "2026-01-03", "--out", str(second)])
    assert result.exit_code == 0, result.output
    before, after = load_params(first), load_params(second)
    assert before.calibration is not None and after.calibration is not None
    assert set(after.calibration.parameters) == {"survival_median_months"}
    assert "--parameter survival_median_months" in after.calibration.command
    assert after.calibration.previous == before.calibration
    assert after.course.pain == before.course.pain  # not named: the first run's values stay
    unknown = runner.invoke(app, ["cohort", "calibrate", str(study), "--budget", "1", "--parameter", "magic"])
    assert unknown.exit_code == 2 and "magic" in unknown.stderr and "survival_median_months" in unknown.stderr
