"""What every `openidds` command shares: light imports, one error exit, output that is not cut, files whole."""

import json
import os
import stat
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from typer.testing import CliRunner

from openidds.cli import app
from openidds.cli.errors import choose, fail
from openidds.cli.output import PIPED_WIDTH, write_files
from openidds.errors import OpenIDDSError

DATA = Path(__file__).resolve().parents[1] / "data" / "clinic"
HEAVY = ("pandas", "numpy", "scipy", "matplotlib", "sqlalchemy", "alembic", "pyarrow", "fhir")
runner = CliRunner()


def test_the_command_and_its_help_import_no_heavy_library(tmp_path):
    """`import openidds.cli`, `openidds --help`, `program --help` and a programmer step load none of the
    statistics, database or FHIR libraries (checked in a fresh interpreter's sys.modules)."""
    script = textwrap.dedent(f"""
        import json, sys
        from typer.testing import CliRunner
        import openidds.cli
        loaded = {{"import": sorted({{m.split(".")[0] for m in sys.modules}} & set({HEAVY!r}))}}
        runner = CliRunner()
        for args in (["--help"], ["program", "--help"], ["program", "init", {str(tmp_path / "p.json")!r},
                     "--start", "2026-01-05T08:00"], ["program", "show", {str(tmp_path / "p.json")!r}]):
            result = runner.invoke(openidds.cli.app, args)
            assert result.exit_code == 0, result.output
            loaded[" ".join(args[:2])] = sorted({{m.split(".")[0] for m in sys.modules}} & set({HEAVY!r}))
        print(json.dumps(loaded))
    """)
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    loaded = json.loads(run.stdout)
    assert set(loaded) == {"import", "--help", "program --help", "program init", "program show"}
    assert all(modules == [] for modules in loaded.values()), loaded


@pytest.mark.parametrize("args", [
    ["registry", "patients"],
    ["registry", "check"],
    ["registry", "refills-due"],
    ["registry", "export", "analysis", "out.csv"],
    ["registry", "export", "fhir", "out.json"],
    ["registry", "import", str(DATA / "good")],
])
def test_a_command_on_a_missing_registry_creates_no_file(tmp_path, monkeypatch, args):
    """Also without --db (the default file in the current folder): the folder stays empty."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("OPENIDDS_DB", raising=False)
    for db in (["--db", "nothere.sqlite"], []):
        result = runner.invoke(app, [*args, *db])
        assert result.exit_code == 2
        assert "openidds registry init --db" in result.output and "no file" in result.output
        assert list(tmp_path.iterdir()) == []


def test_piped_output_is_not_cut_to_80_columns():
    """Through a pipe rich would cut every line to 80 columns; tables get 240 and text is not wrapped."""
    script = "from openidds.cli.output import console; console().print('x' * 200); print(console().width)"
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True,
                         env={**os.environ, "COLUMNS": "", "TERM": "dumb"})
    first, width = run.stdout.splitlines()
    assert first == "x" * 200 and int(width) == PIPED_WIDTH


def test_written_files_are_readable_like_any_new_file(tmp_path):
    """Report files (and state files) go through a temporary file renamed into place, with the mode of any
    new file (0666 less the umask), not the temporary file's owner-only 0600; nothing is left behind."""
    old = os.umask(0o022)
    try:
        write_files(tmp_path, {"report.html": b"<html/>", "figures/km.png": b"png"})
    finally:
        os.umask(old)
    assert {stat.S_IMODE(p.stat().st_mode) for p in (tmp_path / "report.html", tmp_path / "figures" / "km.png")} \
        == {0o644}
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["figures", "km.png", "report.html"]


def test_one_error_exit_for_every_command(capsys):
    """fail() prints the field, value and expectation and how to go on, exit 2; --json gets an object."""
    exit_ = fail(OpenIDDSError("--kind", "x", "priming or bridge"), next_step="try --kind priming")
    assert exit_.exit_code == 2
    err = capsys.readouterr().err
    assert "error: --kind='x': expected priming or bridge" in err and "next: try --kind priming" in err
    fail(OpenIDDSError("--kind", "x", "priming or bridge"), as_json=True)
    assert json.loads(capsys.readouterr().out)["field"] == "--kind"
    with pytest.raises(OpenIDDSError, match="did you mean 'bridge'"):
        choose("--kind", "bridg", ["priming", "bridge"])
