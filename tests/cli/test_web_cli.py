"""`openidds web user add|list|unlock|role|disable|enable` and `web serve --example`'s preparation, on SQLite."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from tests.cli.invoke import invoke

from openidds.cli import web
from openidds.clinic import connect, import_batch, init_registry, patients, read_paths
from openidds.errors import OpenIDDSError
from openidds.state_key import ensure_key
from openidds.web.accounts import log_in
from openidds.web.server import prepare_example

GOOD = Path(__file__).resolve().parents[1] / "data" / "clinic" / "good"
NOW = dt.datetime(2026, 1, 5, 9, 0)


def _run(*args: str, stdin: str = "") -> tuple[int, str]:
    result = invoke(web.app, *args, stdin=stdin)
    return result.exit_code, result.output


@pytest.fixture(autouse=True)
def _state_key() -> None:
    """`web serve` checks the state key the environment names (tests/conftest.py's): made here when no test made it
    before, so that these tests pass in any order."""
    ensure_key(None)


@pytest.fixture
def db(tmp_path: Path) -> str:
    path = str(tmp_path / "clinic.sqlite")
    init_registry(connect(path))
    return path


def test_user_add_reads_the_password_from_stdin_and_the_user_logs_in(db: str) -> None:
    code, out = _run("user", "add", "ada", "--role", "administrator", "--password-stdin", "--db", db, "--json",
                     stdin="first admin passphrase\n")
    assert code == 0 and json.loads(out) == {"name": "ada", "role": "administrator"}
    assert log_in(connect(db), "ada", "first admin passphrase", NOW).user.name == "ada"


def test_user_add_prompts_twice_without_echo(db: str) -> None:
    code, out = _run("user", "add", "ada", "--role", "nurse", "--db", db,
                     stdin="typed passphrase\ntyped passphrase\n")
    assert code == 0 and "typed passphrase" not in out and "ada added as nurse" in out


def test_there_is_no_default_password(db: str) -> None:
    code, out = _run("user", "add", "ada", "--role", "administrator", "--password-stdin", "--db", db, stdin="")
    assert code == 2 and "password" in out and "at least 12 characters" in out
    assert json.loads(_run("user", "list", "--db", db, "--json")[1]) == []


def test_user_list_and_unlock(db: str) -> None:
    _run("user", "add", "nia", "--role", "nurse", "--password-stdin", "--db", db, stdin="nurse passphrase 1\n")
    assert json.loads(_run("user", "list", "--db", db, "--json")[1]) == [
        {"name": "nia", "role": "nurse", "failed_logins": 0, "locked_until": None, "disabled": False,
         "last_login_at": None}]
    assert "never" in _run("user", "list", "--db", db)[1]
    log_in(connect(db), "nia", "nurse passphrase 1", NOW)
    [listed] = json.loads(_run("user", "list", "--db", db, "--json")[1])
    assert dt.datetime.fromisoformat(listed["last_login_at"]) == NOW.replace(tzinfo=dt.UTC)
    assert f"{NOW:%Y-%m-%d %H:%M} UTC" in _run("user", "list", "--db", db)[1]
    assert _run("user", "unlock", "nia", "--db", db)[0] == 0
    code, out = _run("user", "unlock", "nobody", "--db", db)
    assert code == 2 and "existing user" in out


def test_user_role_disable_and_enable_keep_an_administrator(db: str) -> None:
    for name, role in (("ada", "administrator"), ("nia", "nurse")):
        _run("user", "add", name, "--role", role, "--password-stdin", "--db", db, stdin=f"{name} passphrase 12\n")
    assert json.loads(_run("user", "role", "nia", "physician", "--db", db, "--user", "ada", "--json")[1]) == {
        "name": "nia", "role": "physician"}
    code, out = _run("user", "role", "ada", "nurse", "--db", db, "--user", "root")
    assert code == 2 and "last enabled administrator" in out
    code, out = _run("user", "disable", "ada", "--db", db, "--user", "ada")
    assert code == 2 and "cannot disable or demote themselves" in out
    code, out = _run("user", "disable", "nia", "--db", db, "--user", "ada")
    assert code == 0 and "nia disabled" in out
    with pytest.raises(OpenIDDSError, match="an enabled account"):
        log_in(connect(db), "nia", "nia passphrase 12", NOW)
    code, out = _run("user", "disable", "nia", "--db", db, "--user", "ada")
    assert code == 2 and "already disabled" in out
    assert _run("user", "enable", "nia", "--db", db, "--user", "ada")[0] == 0
    assert log_in(connect(db), "nia", "nia passphrase 12", NOW).user.role.value == "physician"
    listed = json.loads(_run("user", "list", "--db", db, "--json")[1])
    assert [(u["name"], u["role"], u["disabled"]) for u in listed] == [("ada", "administrator", False),
                                                                       ("nia", "physician", False)]


def test_user_add_refuses_a_registry_that_does_not_exist(tmp_path: Path) -> None:
    code, out = _run("user", "add", "ada", "--role", "nurse", "--password-stdin", "--db", str(tmp_path / "no.sqlite"),
                     stdin="long enough passphrase\n")
    assert code == 2 and "registry init" in out
    assert not (tmp_path / "no.sqlite").exists()


def test_serve_example_loads_the_example_once_and_refuses_another_registry(tmp_path: Path) -> None:
    engine = connect(str(tmp_path / "example.sqlite"))
    assert prepare_example(engine) is True
    loaded = len(patients(engine))
    assert loaded > 100
    assert prepare_example(engine) is False and len(patients(engine)) == loaded
    other = connect(str(tmp_path / "other.sqlite"))
    init_registry(other)
    import_batch(other, read_paths([GOOD]), "test", source="good")
    with pytest.raises(OpenIDDSError, match="an empty registry to load the example clinic into"):
        prepare_example(other)


def test_serve_refuses_a_missing_escalation_policy_before_serving(db: str, tmp_path: Path) -> None:
    code, out = _run("serve", "--db", db, "--escalation-policy", str(tmp_path / "none.toml"))
    assert code == 2 and "--escalation-policy" in out and "an existing policy file" in out


def test_serve_installs_its_escalation_policy_file_once(db: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """`web serve --escalation-policy FILE` installs the file as the registry's current policy before serving;
    serving again with the same file adds no version (the served app escalates under the registry's policy)."""
    from openidds.clinic.escalation_policies import history
    from openidds.web import server

    served: list[tuple[object, ...]] = []
    monkeypatch.setattr(server, "serve", lambda *args: served.append(args))
    policy = Path(__file__).resolve().parents[2] / "docs" / "escalation-policy.toml"
    for _ in range(2):
        code, out = _run("serve", "--db", db, "--escalation-policy", str(policy))
        assert code == 0, out
    assert len(served) == 2
    [version] = history(connect(db))
    assert (version.number, version.source) == (1, "file escalation-policy.toml")


def test_serve_example_gives_researchers_the_example_seed_unless_another_is_given(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The example's researcher pages work out of the box (its published seed); a given seed wins."""
    from openidds.clinic.examples import EXAMPLE_RESEARCH_SEED
    from openidds.web import server

    served: list[tuple[object, ...]] = []
    monkeypatch.setattr(server, "serve", lambda *args: served.append(args))
    db = str(tmp_path / "example.sqlite")
    for extra in ((), ("--research-seed", "7")):
        code, out = _run("serve", "--example", "--db", db, *extra)
        assert code == 0, out
    assert [args[5] for args in served] == [EXAMPLE_RESEARCH_SEED, 7]
