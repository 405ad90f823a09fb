"""`openidds alarms` from outside: raise, escalate (one pass against a real SMTP server), acknowledge, show; install
a policy file as the registry's current version; bad input refused with exit code 2."""

from __future__ import annotations

import json
from pathlib import Path

from tests.cli.invoke import invoke

from openidds.cli import app

from .policies import EXAMPLE
from .receivers import smtp_server


def _policy_on_port(tmp_path: Path, port: int) -> Path:
    path = tmp_path / "policy.toml"
    path.write_text(EXAMPLE.read_text().replace("port = 8025", f"port = {port}"))
    return path


def test_raise_escalate_acknowledge_show(tmp_path: Path) -> None:
    db = tmp_path / "registry.sqlite"
    assert invoke(app, "registry", "init", "--db", db).exit_code == 0
    with smtp_server() as (port, mailbox):
        policy = _policy_on_port(tmp_path, port)
        raised = invoke(app, "alarms", "raise", "12", "--kind", "empty_reservoir", "--priority", "high",
                        "--policy", policy, "--db", db, "--json")
        assert raised.exit_code == 0, raised.output
        assert json.loads(raised.output)["phase"] == "notified"
        passed = invoke(app, "alarms", "escalate", "--once", "--db", db, "--json")  # the registry's policy
        assert passed.exit_code == 0, passed.output
        assert json.loads(passed.output)["delivered"] == 2
        assert len(mailbox.messages) == 1
    acked = invoke(app, "alarms", "ack", "12", "--db", db, "--user", "nurse_day")
    assert acked.exit_code == 0 and "acknowledged by nurse_day" in acked.output
    shown = json.loads(invoke(app, "alarms", "show", "12", "--db", db, "--json").output)
    assert [e["kind"] for e in shown["log"]] == ["raised", "notified", "delivered", "delivered", "acknowledged"]


def test_check_shows_who_is_on_call_and_quiet_hours() -> None:
    night = json.loads(invoke(app, "alarms", "check", "--policy", EXAMPLE, "--at", "2026-12-01T02:00Z",
                              "--json").output)
    assert [t["on_call"] for t in night["tiers"]] == [["nurse_night"], ["dr_oncall"], ["lead"]]
    assert night["quiet_until"] == "2026-12-01T06:00:00Z"
    day = invoke(app, "alarms", "check", "--policy", EXAMPLE, "--at", "2026-12-01T12:00")
    assert day.exit_code == 0 and "policy OK" in day.output and "nurse_day" in day.output
    bad = invoke(app, "alarms", "check", "--policy", EXAMPLE, "--at", "tonight")
    assert bad.exit_code == 2 and "--at='tonight'" in bad.output


def test_bad_input_is_refused(tmp_path: Path) -> None:
    db = tmp_path / "registry.sqlite"
    invoke(app, "registry", "init", "--db", db)
    bad = tmp_path / "bad.toml"
    bad.write_text('timezone = "UTC"\ntiers = []\n')
    cases = [  # the first ones before any policy is installed
        (["alarms", "escalate", "--once", "--db", db], "escalation policy=None: expected an installed policy"),
        (["alarms", "raise", "3", "--kind", "x", "--priority", "low", "--db", db], "expected an installed policy"),
        (["alarms", "escalate", "--once", "--policy", bad, "--db", db], "people=None: expected a value"),
        (["alarms", "escalate", "--once", "--policy", tmp_path / "p.yaml", "--db", db], "a .toml or .json"),
        (["alarms", "raise", "3", "--kind", "x", "--priority", "urgent", "--policy", EXAMPLE, "--db", db],
         "--priority='urgent': expected one of high, medium, low"),
        (["alarms", "raise", "3", "--kind", "x", "--priority", "low", "--contact", "carer", "--policy", EXAMPLE,
          "--db", db], "CHANNEL:ADDRESS"),
        (["alarms", "ack", "99", "--db", db], "alarm_id=99: expected an alarm whose escalation was started"),
    ]
    for args, message in cases:
        result = invoke(app, *args)
        assert result.exit_code == 2, (args, result.output)
        assert message in result.output, result.output


def test_install_policy_adds_a_version_only_when_the_policy_changes(tmp_path: Path) -> None:
    db = tmp_path / "registry.sqlite"
    invoke(app, "registry", "init", "--db", db)
    first = invoke(app, "alarms", "install-policy", EXAMPLE, "--db", db, "--user", "lead", "--json")
    assert first.exit_code == 0, first.output
    assert json.loads(first.output) | {"installed_at": None} == {
        "number": 1, "installed_by": "lead", "source": "file escalation-policy.toml", "installed_at": None}
    again = invoke(app, "alarms", "install-policy", EXAMPLE, "--db", db, "--user", "lead")
    assert again.exit_code == 0 and "escalation policy version 1 is current" in again.output
    changed = tmp_path / "changed.toml"
    changed.write_text(EXAMPLE.read_text().replace("high = 10, medium = 60", "high = 5, medium = 60", 1))
    second = json.loads(invoke(app, "alarms", "install-policy", changed, "--db", db, "--json").output)
    assert (second["number"], second["source"]) == (2, "file changed.toml")
