"""`openidds report` end to end: a CSV, a Parquet file and a real SQLite registry in, files out, refusals."""

import hashlib
import json
from pathlib import Path

import pandas as pd
import pytest
import typer
from typer.testing import CliRunner

from openidds.cli import registry, report
from openidds.clinic import analysis_dataset, connect, vocabulary
from openidds.outcomes.report import COLUMNS
from tests.outcomes.synthetic_cohort import synthetic_cohort

CLINIC = Path(__file__).resolve().parents[1] / "data" / "clinic"
runner = CliRunner()


def _run(app, *args: str):
    result = runner.invoke(app, list(args))
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result


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
    return json.loads(result.output), out


def test_a_csv_gives_the_report_files(first_run):
    summary, out = first_run
    written = _tree(out)
    assert set(written) == set(summary["files"])
    assert {"report.html", "report.pdf", "report.json", "figures/figure-2-overall-survival.png",
            "figures/figure-2-overall-survival.svg"} <= set(written)
    for name, data in written.items():
        assert summary["files"][name] == {"bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()}
    assert summary["n_patients"] == 80 and [s["key"] for s in summary["sections"]][:2] == ["cohort", "pain"]


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
    summary = json.loads(result.output)
    sections = {s["key"]: s for s in summary["sections"]}
    assert summary["n_patients"] == 3
    assert sections["survival"]["figures"] == ["figure-2-overall-survival"]
    assert [key for key, s in sections.items() if s["omitted"]] == []
    engine = connect(db)
    try:
        exported = set(analysis_dataset(engine).columns)
    finally:
        engine.dispose()
    assert {c.name for c in COLUMNS} <= exported  # the contract is the registry's analysis dataset
    codes = {c.name: c.codes for c in COLUMNS}
    assert (codes["satisfaction"], codes["satisfaction_respondent"], codes["exit_reason"]) == \
        (vocabulary.SATISFACTION, vocabulary.RESPONDENTS, vocabulary.EXIT_REASONS)


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
    assert result.exit_code == 2 and "either a DATASET file or --db" in result.output
    result = _run(report.app, str(dataset), "--db", str(tmp_path / "x.sqlite"), "--out", str(tmp_path / "out"))
    assert result.exit_code == 2 and "input='both'" in result.output
    result = _run(report.app, str(tmp_path / "missing.csv"), "--out", str(tmp_path / "out"))
    assert result.exit_code == 2
    uninitialised = _run(report.app, "--db", str(tmp_path / "empty.sqlite"), "--out", str(tmp_path / "out"))
    assert uninitialised.exit_code == 2 and "registry init" in uninitialised.output
