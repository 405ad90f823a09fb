"""`openidds stats` end to end on the shipped datasets, through typer's CliRunner."""

import json
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from openidds.cli import stats
from openidds.cli.tables import read_table
from openidds.errors import OpenIDDSError

DATA = Path(__file__).resolve().parents[1] / "data"
runner = CliRunner()


def run(*args: str):
    return runner.invoke(stats.app, [str(a) for a in args])


def test_km_json_carries_estimates_cis_and_method():
    result = run("km", DATA / "aml.csv", "--at", "12", "--at", "36", "--json")
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    fit = out["fits"][0]
    assert fit["median"] == {"time": 27.0, "lower": 18.0, "upper": 45.0}
    assert fit["method"]["conf_type"] == "log" and fit["method"]["variance"] == "Greenwood"
    assert round(fit["survival_at"][0]["survival"], 3) == 0.739 and round(fit["survival_at"][1]["upper"], 3) == 0.569
    assert out["logrank"] is None


def test_km_by_group_prints_tables_and_logrank():
    result = run("km", DATA / "lung.csv", "--event", "2", "--censored", "1", "--group", "sex", "--at", "365")
    assert result.exit_code == 0, result.output
    assert "270.00" in result.output and "426.00" in result.output
    assert "Log-rank: chi-square 10.33, df 1" in result.output and "Greenwood" in result.output


def test_km_group_json_has_nan_upper_limit_as_null():
    out = json.loads(run("km", DATA / "aml.csv", "--group", "x", "--conf-type", "log-log", "--json").output)
    medians = {f["group"]: f["median"] for f in out["fits"]}
    assert medians["Maintained"]["upper"] is None and medians["Nonmaintained"]["upper"] == 33.0
    assert out["logrank"]["df"] == 1


def test_cif_reads_at_times_with_method_and_gray_test():
    result = run("cif", DATA / "bmt.csv", "--time", "ftime", "--cause", "1", "--at", "12", "--variance", "aalen",
                 "--conf-type", "log-log", "--group", "dis", "--json")
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    assert out["gray"]["statistic"] == pytest.approx(1.30, abs=0.005)
    assert all(f["method"]["variance"] == "aalen" for f in out["fits"])
    overall = json.loads(run("cif", DATA / "bmt.csv", "--time", "ftime", "--at", "12", "--json").output)
    row = overall["fits"][0]["incidence_at"][0]
    assert round(row["incidence"], 4) == 0.2728 and round(row["lower"], 4) == 0.1557


def test_cif_table_is_readable():
    result = run("cif", DATA / "bmt.csv", "--time", "ftime", "--cause", "2", "--at", "12", "--at", "24")
    assert result.exit_code == 0 and "0.341" in result.output and "0.446" in result.output
    assert "delta method" in result.output


def test_paired_on_parquet_with_two_follow_ups(tmp_path):
    frame = pd.DataFrame({
        "nrs_0": [8, 7, 9, 6, 8, 7, 10, 9, 8, 7, 6, 9, 8, 7, 8, 9, 7, 8, 6, 9],
        "nrs_6m": [4, 5, 6, 6, 3, 4, 5, 7, 8, 3, 4, 5, 2, 7, 4, 6, 5, 3, 6, 4],
        "nrs_12m": [None] * 10 + [4, 5, 2, 7, 4, 6, 5, 3, 6, 4],
    })
    path = tmp_path / "nrs.parquet"
    frame.to_parquet(path)
    result = run("paired", path, "--before", "nrs_0", "--after", "nrs_6m", "--after", "nrs_12m", "--json")
    assert result.exit_code == 0, result.output
    six, twelve = json.loads(result.output)["comparisons"]
    assert round(six["t_test"]["statistic"], 4) == 6.9254 and six["signed_rank"]["statistic_v"] == 136
    assert (twelve["n_pairs"], twelve["n_excluded"]) == (10, 10)
    assert six["improved"][0]["method"].startswith("exact Clopper-Pearson")
    table = run("paired", path, "--before", "nrs_0", "--after", "nrs_6m")
    assert table.exit_code == 0 and "16/20 (80.0%)" in table.output


def test_describe_table_and_json():
    result = run("describe", DATA / "veteran.csv", "--continuous", "karno", "--categorical", "celltype", "--by", "trt")
    assert result.exit_code == 0, result.output
    assert "All (n = 137)" in result.output and "48 (35.0%)" in result.output
    out = json.loads(run("describe", DATA / "veteran.csv", "--continuous", "age", "--json").output)
    assert out["variables"][0]["groups"]["All"]["n"] == 137


@pytest.mark.parametrize(("args", "message"), [
    (("km", DATA / "aml.csv", "--time", "months"), "months"),
    (("km", DATA / "aml.csv", "--event", "2"), "rows [1, 2, 4"),
    (("describe", DATA / "aml.csv"), "at least one"),
    (("cif", DATA / "bmt.csv", "--time", "ftime", "--variance", "jackknife"), "variance"),
    (("cif", DATA / "bmt.csv", "--time", "ftime", "--cause", "3"), "cause=3: expected a status code that occurs"),
    (("cif", DATA / "bmt.csv", "--time", "ftime", "--competing", "0"), "competing=0"),
])
def test_bad_input_exits_with_a_named_error(args, message):
    result = run(*args)
    assert result.exit_code == 2
    assert message in result.output.replace("\n", "")


def test_non_numeric_time_error_names_file_rows(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("time,status\n5,1\nsoon,0\n7,1\n-2,1\n")
    result = run("km", path)
    assert result.exit_code == 2 and "'time'" in result.output and "rows [2]" in result.output
    path.write_text("time,status\n5,1\n6,0\n7,1\n-2,1\n")
    assert "rows [4]" in run("km", path).output


def test_unsupported_file_type_refused(tmp_path):
    path = tmp_path / "data.xlsx"
    path.write_bytes(b"x")
    result = run("km", path)
    assert result.exit_code == 2 and ".csv or .parquet" in result.output


def test_plot_writes_identical_png_and_svg(tmp_path):
    for name in ("a", "b"):
        result = run("km", DATA / "lung.csv", "--event", "2", "--censored", "1", "--group", "sex", "--at", "0",
                     "--at", "365", "--at", "730", "--plot", tmp_path / name)
        assert result.exit_code == 0, result.output
    for fmt in ("png", "svg"):
        assert (tmp_path / f"a.{fmt}").read_bytes() == (tmp_path / f"b.{fmt}").read_bytes()
    result = run("cif", DATA / "bmt.csv", "--time", "ftime", "--at", "12", "--plot", tmp_path / "cif")
    assert result.exit_code == 0 and (tmp_path / "cif.svg").stat().st_size > 0
    result = run("cif", DATA / "bmt.csv", "--time", "ftime", "--at", "12", "--plot", tmp_path / "named.png")
    assert result.exit_code == 0 and (tmp_path / "named.svg").exists() and not (tmp_path / "named.png.png").exists()


@pytest.mark.parametrize("suffix", [".csv", ".parquet", ".pq", ".CSV"])
def test_the_shared_reader_labels_rows_as_data_rows(tmp_path, suffix):
    frame = pd.DataFrame({"time": [5.0, 6.0, 7.0], "status": [1, 0, 1]})
    path = tmp_path / f"data{suffix}"
    frame.to_csv(path, index=False) if suffix.lower() == ".csv" else frame.to_parquet(path, index=False)
    table = read_table(path)
    assert list(table.index) == [1, 2, 3]
    pd.testing.assert_frame_equal(table.reset_index(drop=True), frame)


def test_the_shared_reader_names_the_callers_field(tmp_path):
    path = tmp_path / "data.json"
    path.write_text("{}")
    with pytest.raises(OpenIDDSError, match=r"file=.*data\.json.*\.csv or \.parquet"):
        read_table(path)
    with pytest.raises(OpenIDDSError, match="dataset="):
        read_table(path, "dataset")


@pytest.fixture(scope="module")
def export(tmp_path_factory):
    """The registry's own analysis export of the bundled example registry, as `registry export` writes it."""
    from openidds.clinic import analysis_dataset, connect, write_dataset
    from openidds.clinic.examples import load_example

    folder = tmp_path_factory.mktemp("export")
    engine = connect(folder / "example.sqlite")
    load_example(engine, pump_logs=False)  # the analysis export reads no pump log
    path = write_dataset(analysis_dataset(engine), folder / "analysis.csv")
    engine.dispose()
    return path


def test_km_finds_overall_survival_in_the_analysis_export(export):
    days = json.loads(run("km", export, "--json").output)
    assert (days["endpoint"], days["time"], days["status"], days["unit"]) == ("os", "os_days", "death", "days")
    months = json.loads(run("km", export, "--unit", "months", "--json").output)
    assert months["fits"][0]["median"]["time"] == pytest.approx(days["fits"][0]["median"]["time"] / 30.4375)
    table = run("km", export, "--unit", "months")
    assert "Overall survival" in table.output and "months of 30.4375 days" in table.output


def test_cif_finds_the_complication_endpoint_and_reads_one_year_in_either_unit(export):
    days = json.loads(run("cif", export, "--json").output)
    assert (days["endpoint"], days["time"]) == ("complication", "complication_days")
    months = json.loads(run("cif", export, "--unit", "months", "--json").output)
    assert days["fits"][0]["incidence_at"][0]["time"] == 365 and months["fits"][0]["incidence_at"][0]["time"] == 12
    other = json.loads(run("cif", export, "--endpoint", "reoperation", "--json").output)
    assert (other["time"], other["status"]) == ("reoperation_days", "reoperation_status")


@pytest.mark.parametrize(("args", "message"), [
    (("--endpoint", "reoperaton"), "did you mean 'reoperation'?"),
    (("--time", "os_dys"), "did you mean 'os_days'?"),
    (("--group", "cancer"), "did you mean 'cancer_type'?"),
])
def test_mistyped_names_suggest_the_nearest(export, args, message):
    result = run("km", export, *args)
    assert result.exit_code == 2 and message in result.output


def test_a_file_without_time_and_status_says_which_columns_it_has():
    result = run("km", DATA / "bmt.csv")
    assert result.exit_code == 2
    assert "dis, ftime, status" in result.output and "--time and --status" in result.output


def test_plots_are_labelled_with_the_endpoint_and_readable_ticks(export, tmp_path):
    assert stats.time_ticks(28.9, stats.TimeUnit.months) == [0, 6, 12, 18, 24]
    assert stats.time_ticks(900, stats.TimeUnit.days) == [0, 180, 360, 540, 720, 900]
    result = run("cif", export, "--unit", "months", "--plot", tmp_path / "cif")
    assert result.exit_code == 0
    svg = (tmp_path / "cif.svg").read_text()
    assert "Cumulative incidence: Complication" in svg and "Months since first implant" in svg


def test_cif_refusals_in_json_name_the_field():
    result = run("cif", DATA / "bmt.csv", "--time", "ftime", "--cause", "3", "--json")
    assert result.exit_code == 2
    error = json.loads(result.output)
    assert (error["field"], error["value"]) == ("cause", 3) and "occurs in status" in error["expected"]
