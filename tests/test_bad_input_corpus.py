"""The bad-input corpus: how every case runs through the real `openidds` command, and the tally over all of them.

Each family module (``test_bad_input_registry``, ``_database``, ``_stats``, ``_scenarios``) lists its cases;
:func:`run_case` writes the case's files in a fresh folder, runs the command with typer's CliRunner and judges the
outcome: the expected exit code (2 for a refusal, 1 for an import that found row errors), every expected text in
the output (the file or field, and what was expected), no traceback, and for registry cases the database's row
counts unchanged. ``test_the_tally`` runs the whole corpus once more and prints the figures docs/bad-input.md
quotes (``pytest -q -s tests/test_bad_input_corpus.py``).
"""

from __future__ import annotations

import collections
import importlib
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import create_engine, func, inspect, select, table
from typer.testing import CliRunner

from openidds.cli import app

GOOD = Path(__file__).resolve().parent / "data" / "clinic" / "good"
FAMILIES = ("registry", "database", "stats", "scenarios")
DB = "registry.sqlite"
"""The registry a registry case runs against: initialised and holding tests/data/clinic/good."""


@dataclass(frozen=True)
class Case:
    """One bad input: its files, the command (``{dir}`` is the case's folder), and what a clear refusal says."""

    name: str
    args: tuple[str, ...]
    says: tuple[str, ...]
    files: dict[str, bytes | Callable[[], bytes]] = field(default_factory=dict)
    exit_code: int = 2
    registry: bool = False
    never_says: tuple[str, ...] = ()
    """Texts the output must not show (a password)."""


@dataclass(frozen=True)
class Outcome:
    """How a case ended: ``problem`` is '' for a clear refusal, else the first thing that went wrong."""

    kind: str
    problem: str
    output: str


def _counts(path: Path) -> dict[str, int]:
    engine = create_engine(f"sqlite:///{path}")
    try:
        with engine.connect() as conn:
            return {name: conn.execute(select(func.count()).select_from(table(name))).scalar_one()
                    for name in inspect(conn).get_table_names()}
    finally:
        engine.dispose()


def registry_template(root: Path) -> Path:
    """An initialised registry holding the good example records, made once and copied for each case."""
    root.mkdir(parents=True, exist_ok=True)
    path = root / DB
    if not path.exists():
        runner = CliRunner()
        for args in (["registry", "init", "--db", str(path)],
                     ["registry", "import", str(GOOD), "--db", str(path), "--user", "corpus"]):
            result = runner.invoke(app, args)
            assert result.exit_code == 0, result.output
    return path


def run_case(case: Case, folder: Path, template: Path | None = None) -> Outcome:
    """Run ``case`` in ``folder`` (a registry case needs the ``template`` registry) and judge its outcome."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, content in case.files.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes(content() if callable(content) else content)
    db = folder / DB
    if case.registry:
        assert template is not None, f"{case.name}: a registry case needs the template registry"
        shutil.copy(template, db)
    before = _counts(db) if case.registry else {}
    given = {name: (folder / name).read_bytes() for name in case.files}
    result = CliRunner().invoke(app, [a.replace("{dir}", str(folder)) for a in case.args])
    output = result.output

    def outcome(kind: str, problem: str = "") -> Outcome:
        return Outcome(kind, problem, output)

    if result.exception is not None and not isinstance(result.exception, SystemExit):
        return outcome("traceback", f"{type(result.exception).__name__}: {result.exception}")
    if "Traceback" in output:
        return outcome("traceback", "a traceback was printed")
    if case.registry and _counts(db) != before:
        return outcome("partial write", "the registry's row counts changed")
    if any((folder / name).read_bytes() != data for name, data in given.items()):
        return outcome("partial write", "an input file changed")
    if result.exit_code == 0:
        return outcome("silent accept", "exit code 0")
    if result.exit_code != case.exit_code:
        return outcome("wrong exit", f"exit code {result.exit_code}, expected {case.exit_code}")
    flat = " ".join(output.split())
    missing = [text for text in case.says if text not in flat]
    if missing:
        return outcome("unclear", f"the message does not say {missing}")
    leaked = [text for text in case.never_says if text in output]
    if leaked:
        return outcome("leak", f"the message shows {leaked}")
    return outcome("refused")


def check(case: Case, folder: Path, template: Path | None = None) -> None:
    """Assert ``case`` is refused clearly (the family modules' parametrised tests)."""
    result = run_case(case, folder, template)
    assert result.kind == "refused", f"{case.name}: {result.problem}\n{result.output}"


def corpus() -> dict[str, list[Case]]:
    """Every family's cases."""
    return {family: importlib.import_module(f"tests.test_bad_input_{family}").CASES for family in FAMILIES}


def test_the_tally(tmp_path: Path) -> None:
    """Every case of every family once more, counted by how it ended: all must be clear refusals."""
    template = registry_template(tmp_path / "template")
    tally: dict[str, collections.Counter[str]] = {}
    problems = []
    for family, cases in corpus().items():
        tally[family] = collections.Counter()
        for i, case in enumerate(cases):
            result = run_case(case, tmp_path / family / str(i), template)
            tally[family][result.kind] += 1
            if result.problem:
                problems.append(f"{family}/{case.name}: {result.problem}")
    total: collections.Counter[str] = sum(tally.values(), collections.Counter())
    print("\nfamily       inputs  refused  tracebacks  silent accepts  partial writes")
    for family, counts in [*tally.items(), ("all", total)]:
        print(f"{family:<12} {counts.total():>6}  {counts['refused']:>7}  {counts['traceback']:>10}  "
              f"{counts['silent accept']:>14}  {counts['partial write']:>14}")
    assert not problems, problems
    assert total["refused"] == total.total() > 0
