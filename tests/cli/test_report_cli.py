"""`openidds report` end to end: a CSV, a Parquet file, a real SQLite registry and the bundled example registry in,
files out, refusals."""

import hashlib
import json
from pathlib import Path

import pandas as pd
import pytest
import typer
from tests.cli.invoke import invoke
from tests.outcomes.synthetic_cohort import synthetic_cohort

from openidds.cli import registry, report
from openidds.clinic import analysis_dataset, connect, vocabulary
from openidds.clinic.examples import EXAMPLE_CUTOFF, EXAMPLE_FOLDER
from openidds.cohort.params import load_params
from openidds.cohort.simulate import simulate
from openidds.cohort.study import load_study
from openidds.outcomes.report import COLUMNS, fingerprint

CLINIC = Path(__file__).resolve().parents[1] / "data" / "clinic"


def _run(app, *args: str):
    return invoke(app, *args)


def _tree(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def dataset(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("data") / "analysis.csv"
    synthetic_cohort(80, seed=11).to_csv(path, index=False)
    return path


@pytest.fixture(scope="module")
def first_run(dataset, tmp_path_factory) -> tuple[dict, Path]:
    """``openidds report DATASET --out DIR --json`` with the sub-app mounted as the lead mounts it."""
    root = typer.Typer()
    root.add_typer(report.app, name="report")
    root.command("other")(lambda: None)
    out = tmp_path_factory.mktemp("first")
    result = _run(root, "report", str(dataset), "--out", str(out), "--json")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout), out


def test_a_csv_gives_the_report_files(first_run):
    summary, out = first_run
    written = _tree(out)
    assert set(written) == set(summary["files"])
    assert {"report.html", "report.pdf", "report.json", "figures/figure-3-overall-survival.png",
            "figures/figure-3-overall-survival.svg", "tables/table-01.csv"} <= set(written)
    for name, data in written.items():
        assert summary["files"][name] == {"bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()}
    assert summary["n_patients"] == 80 and [s["key"] for s in summary["sections"]][:3] == ["summary", "flow", "cohort"]
    assert summary["warnings"] == ["column ecog (ECOG performance status; Table 1) is not in the dataset, so it is "
                                   "reported as not recorded"]


def test_an_absent_or_misspelled_column_is_a_warning_line_on_stderr(tmp_path):
    path = tmp_path / "renamed.csv"
    synthetic_cohort(30, seed=13).rename(columns={"last_nrs": "last_nsr"}).to_csv(path, index=False)
    result = _run(report.app, str(path), "--out", str(tmp_path / "out"))
    assert result.exit_code == 0
    lines = " ".join(result.stderr.split()).split("warning: ")[1:]
    assert [line.split(" ")[1] for line in lines] == ["ecog", "last_nrs"]
    assert "the dataset has 'last_nsr': rename it to last_nrs if that is the same thing" in lines[1]
    assert "warning" not in result.stdout


def test_the_same_data_as_shuffled_parquet_gives_the_same_bytes(dataset, first_run, tmp_path):
    parquet = tmp_path / "analysis.parquet"
    pd.read_csv(dataset).sample(frac=1.0, random_state=3).to_parquet(parquet, index=False)
    result = _run(report.app, str(parquet), "--out", str(tmp_path / "out"))
    assert result.exit_code == 0 and "Overall survival" in result.output and "report.pdf" in result.output
    assert _tree(tmp_path / "out") == _tree(first_run[1])


def test_a_registry_database_is_reported_and_holds_every_contract_column(tmp_path):
    db = str(tmp_path / "clinic.sqlite")
    assert _run(registry.app, "init", "--db", db).exit_code == 0
    assert _run(registry.app, "import", str(CLINIC / "good"), "--db", db, "--user", "amy").exit_code == 0
    result = _run(report.app, "--db", db, "--out", str(tmp_path / "out"), "--json")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    sections = {s["key"]: s for s in summary["sections"]}
    assert summary["n_patients"] == 3 and summary["warnings"] == []
    assert sections["survival"]["figures"] == ["figure-3-overall-survival"]
    assert [key for key, s in sections.items() if s["omitted"]] == []
    engine = connect(db)
    try:
        exported = set(analysis_dataset(engine).columns)
    finally:
        engine.dispose()
    assert {c.name for c in COLUMNS} <= exported  # the contract is the registry's analysis dataset
    assert report.DEFAULT_TITLE in (tmp_path / "out" / "report.html").read_text(encoding="utf-8")
    codes = {c.name: c.codes for c in COLUMNS}
    assert (codes["satisfaction"], codes["satisfaction_respondent"], codes["exit_reason"],
            codes["dissatisfaction_reason"], codes["last_opioid_change"]) == \
        (vocabulary.SATISFACTION, vocabulary.RESPONDENTS, vocabulary.EXIT_REASONS, vocabulary.DISSATISFACTION_REASONS,
         vocabulary.OPIOID_CHANGES)


def test_bad_data_is_refused_with_its_row_and_nothing_is_written(tmp_path):
    frame = synthetic_cohort(20, seed=12)
    frame.loc[6, "nrs_6m"] = 12
    path = tmp_path / "bad.csv"
    frame.to_csv(path, index=False)
    result = _run(report.app, str(path), "--out", str(tmp_path / "out"))
    assert result.exit_code == 2
    assert "nrs_6m" in result.output and "rows [7]" in result.output and "values from 0 to 10" in result.output
    assert not (tmp_path / "out").exists()


def test_input_must_be_one_dataset_or_one_registry(dataset, tmp_path):
    result = _run(report.app, "--out", str(tmp_path / "out"))
    assert result.exit_code == 2 and "exactly one of a DATASET file, --db" in result.output.replace("\n", " ")
    result = _run(report.app, str(dataset), "--db", str(tmp_path / "x.sqlite"), "--out", str(tmp_path / "out"))
    assert result.exit_code == 2 and "input='DATASET and --db'" in result.output
    result = _run(report.app, str(dataset), "--example", "--out", str(tmp_path / "out"))
    assert result.exit_code == 2 and "input='DATASET and --example'" in result.output
    assert not (tmp_path / "out").exists()
    result = _run(report.app, str(tmp_path / "missing.csv"), "--out", str(tmp_path / "out"))
    assert result.exit_code == 2
    uninitialised = _run(report.app, "--db", str(tmp_path / "empty.sqlite"), "--out", str(tmp_path / "out"))
    assert uninitialised.exit_code == 2 and "registry init" in uninitialised.output


def test_a_dataset_of_another_file_type_is_refused(tmp_path):
    path = tmp_path / "analysis.xlsx"
    path.write_bytes(b"x")
    result = _run(report.app, str(path), "--out", str(tmp_path / "out"))
    assert result.exit_code == 2 and "dataset=" in result.output and ".csv or .parquet" in result.output
    assert not (tmp_path / "out").exists()


# The bundled example registry: `openidds report --example`, the command of the README.

@pytest.fixture(scope="module")
def example_runs(tmp_path_factory) -> tuple[Path, Path, str, dict]:
    """``openidds report --example`` run twice, each into a new folder (the second with --json)."""
    first = tmp_path_factory.mktemp("example-1") / "report"
    second = tmp_path_factory.mktemp("example-2") / "report"
    shown = _run(report.app, "--example", "--out", str(first))
    assert shown.exit_code == 0, shown.output
    printed = _run(report.app, "--example", "--out", str(second), "--json")
    assert printed.exit_code == 0, printed.output
    assert shown.stderr == ""  # the registry's dataset holds every column: no warning
    return first, second, shown.output, json.loads(printed.stdout)


@pytest.fixture(scope="module")
def example_registry(tmp_path_factory) -> str:
    """The example files imported by ``openidds registry import`` into a new SQLite registry."""
    db = str(tmp_path_factory.mktemp("registry") / "example.sqlite")
    assert _run(registry.app, "init", "--db", db).exit_code == 0
    imported = _run(registry.app, "import", str(EXAMPLE_FOLDER), "--db", db, "--user", "tester", "--json")
    assert imported.exit_code == 0, imported.output
    return db


def test_the_example_command_writes_the_report_and_says_where(example_runs):
    first, _, output, summary = example_runs
    written = _tree(first)
    assert {"report.html", "report.pdf", "report.json", "figures/figure-3-overall-survival.png",
            "figures/figure-4-cumulative-incidence.svg", "tables/table-02.csv"} <= set(written)
    lines = output.splitlines()
    assert f"Report:  {first.resolve() / 'report.html'}" in lines
    assert f"PDF:     {first.resolve() / 'report.pdf'}" in lines
    html = written["report.html"].decode("utf-8")
    assert report.EXAMPLE_TITLE in html and summary["n_patients"] == 220
    assert [s["key"] for s in summary["sections"] if s["omitted"]] == []


def test_the_example_report_has_the_same_bytes_every_run(example_runs):
    first, second, _, summary = example_runs
    assert _tree(first) == _tree(second)
    assert summary["out"] == str(second.resolve())


def test_the_example_files_import_cleanly_and_pass_the_registry_check(example_registry):
    for today in (EXAMPLE_CUTOFF.isoformat(), None):
        result = _run(registry.app, "check", "--db", example_registry, "--json",
                      *(("--today", today) if today else ()))
        findings = json.loads(result.output)
        assert result.exit_code == 0 and findings["errors"] == 0, findings
    rules = {f["rule"] for f in findings["findings"]}
    # patients who died or missed their visits before any follow-up NRS; refills overdue (on the clinic day: the
    # patients who missed their appointment; later: every pump in place); a catheter occlusion's flagged refill
    assert rules == {"follow-up-nrs", "refill-overdue", "refill-discrepancy"}
    again = _run(registry.app, "import", str(EXAMPLE_FOLDER), "--db", example_registry, "--user", "tester", "--json")
    assert again.exit_code == 0 and not any(json.loads(again.output)["inserted"].values())


def test_the_example_command_reports_what_a_registry_import_holds(example_registry, example_runs):
    """--example goes through the real import and --db paths: same dataset as importing the files by hand."""
    engine = connect(example_registry)
    try:
        frame = analysis_dataset(engine)
    finally:
        engine.dispose()
    assert fingerprint(frame) == example_runs[3]["dataset_sha256"]
    counts = {name: sum(1 for _ in (EXAMPLE_FOLDER / name).open()) - 1 for name in ("patients.csv", "exits.csv")}
    assert len(frame) == counts["patients.csv"] and int(frame["exit_status"].sum()) == counts["exits.csv"]


def test_the_example_is_shaped_like_the_seed_studies(example_runs):
    """Loosely the 193-patient review (seed 000), whose model parameters the example clinic's patients are drawn
    from: short survival, NRS about 7.4 falling by about 4, a minority with complications, some reoperations; most
    exits are deaths (seed 002)."""
    results = {s["key"]: s["results"] for s in json.loads((example_runs[0] / "report.json").read_text())["sections"]}
    median = results["survival"]["median"]["time"]
    nrs = results["pain"]["last_nrs"]
    incidence = {label: r["incidence_at"][0]["incidence"]
                 for label, r in results["complications"]["cumulative_incidence"].items()}
    assert 2.5 < median < 5.0
    assert 7.0 < nrs["before_mean"] < 8.0 and 3.5 < nrs["t_test"]["mean_difference"] < 5.0
    assert 0.10 < incidence["Any complication"] < 0.25
    # reoperations include the replacements of pumps whose battery showed its ERI early, so they can outnumber the
    # severe complications
    assert 0 < incidence["Severe complication (grade ≥ 3)"] < incidence["Any complication"]
    assert 0 < incidence["Reoperation, revision or explant"] < incidence["Any complication"]
    assert results["exits"]["reasons"]["counts"][0] > 0.8 * results["exits"]["exited"]


def test_a_simulated_cohort_is_titled_synthetic_without_a_title(tmp_path):
    """A registry written by ``openidds cohort run`` (every site VIRTUAL-...) gets the synthetic title by default;
    a given --title still wins."""
    db = str(tmp_path / "cohort.sqlite")
    simulate(load_study("seed000"), load_params("seed000"), 1, db, patients=12)
    assert _run(report.app, "--db", db, "--out", str(tmp_path / "out")).exit_code == 0
    html = (tmp_path / "out" / "report.html").read_text(encoding="utf-8")
    assert report.SYNTHETIC_TITLE in html and report.DEFAULT_TITLE not in html
    assert _run(report.app, "--db", db, "--out", str(tmp_path / "titled"), "--title", "Cohort 1").exit_code == 0
    assert "Cohort 1" in (tmp_path / "titled" / "report.html").read_text(encoding="utf-8")


def test_a_missing_registry_is_refused_and_never_created(tmp_path):
    """`report --db` only reads: a registry that does not exist is refused with how to create it, and no file
    (registry or report folder) is left behind."""
    db = tmp_path / "nothere.sqlite"
    result = _run(report.app, "--db", str(db), "--out", str(tmp_path / "out"))
    assert result.exit_code == 2 and "openidds registry init" in result.output
    assert not db.exists() and not (tmp_path / "out").exists()
