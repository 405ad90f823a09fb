"""A pump log uploaded in the browser or through the API, on SQLite and PostgreSQL: imported for the chosen implant
as `openidds registry import --format pump-log` imports it (only new events added, the alarm record derived, an
escalation raised when the server escalates), every bad event listed and nothing written on refusal."""

from __future__ import annotations

import datetime as dt
import html
import json
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select
from tests.escalation.policies import installed

from openidds.clinic import ImportRejected, escalations, import_pump_log
from openidds.clinic import models as m
from openidds.web import Role
from openidds.web.app import create_app

from .conftest import GOOD, NOW, RESEARCH_SEED, TODAY, ChromiumPages, board_policy, log_in_as, user_name

LOG = GOOD.parent / "pump_log.json"
REPLACEMENT = {"site": "CJFH", "patient_id": "P003", "implant_date": "2023-01-20"}
"""P003's second pump (a replacement, in place): the test clinic holds no event of it."""


def _log_for_the_replacement(tmp_path: Path) -> Path:
    """The test pump log as the replacement pump would export it: its clock started on its implant day, and a
    low-reservoir alarm on day 150 (2023-06-19) that is still open."""
    raw: dict[str, Any] = json.loads(LOG.read_text())
    raw["clock_start"] = "2023-01-20T10:00:00Z"
    last = raw["events"][-1]["seq"]
    raw["events"].append({"seq": last + 1, "t_s": 150 * 86400, "kind": "alarm", "reason": "reservoir low",
                          "data": {"alarm": "low_reservoir", "severity": "non-critical"}})
    path = tmp_path / "replacement.json"
    path.write_text(json.dumps(raw))
    return path


def _counts(engine: Engine) -> tuple[int, ...]:
    with engine.connect() as conn:
        return tuple(int(conn.execute(select(func.count()).select_from(model)).scalar_one())
                     for model in (m.PumpEvent, m.ClinicAlarm, m.EscalationState, m.AuditEntry))


def _upload(client: TestClient, path: Path, token: str, api: bool = True, **implant: str) -> Any:
    fields = {"format": "pump-log", **(implant or REPLACEMENT)}
    files = [("log", (path.name, path.read_bytes(), "application/json"))]
    if api:
        return client.post("/api/import", data=fields, files=files, headers={"X-CSRF-Token": token})
    return client.post("/import", data={"csrf_token": token, **fields}, files=files)


def _replacement_alarms(engine: Engine) -> list[m.ClinicAlarm]:
    with engine.connect() as conn:
        return list(conn.execute(select(m.ClinicAlarm).join(m.Implant).where(
            m.Implant.implant_date == dt.date(2023, 1, 20))).all())


def test_a_pump_log_is_imported_for_its_implant_and_its_alarm_reaches_the_record(client: TestClient,
                                                                                clinic: Engine,
                                                                                tmp_path: Path) -> None:
    token = log_in_as(client, Role.DATA_MANAGER)
    path = _log_for_the_replacement(tmp_path)
    response = _upload(client, path, token, api=False)
    assert response.status_code == 200, response.text
    assert 'id="imported"' in response.text and "<td>pump_events</td><td>6</td>" in response.text
    assert 'id="alarms-updated"' in response.text
    [alarm] = _replacement_alarms(clinic)
    assert (alarm.kind, alarm.state, alarm.source, alarm.priority) == ("low_reservoir", "open", "pump log", "medium")
    assert alarm.raised_at == dt.datetime(2023, 6, 19, 10)
    with clinic.connect() as conn:
        users = set(conn.execute(select(m.AuditEntry.user_name).where(m.AuditEntry.source == path.name)).scalars())
    assert users == {user_name(Role.DATA_MANAGER)}
    before = _counts(clinic)
    again = _upload(client, path, token)
    assert again.status_code == 200 and again.json()["inserted"] == {"pump_events": 0}
    assert _counts(clinic) == before


def test_a_refused_log_lists_every_bad_event_as_the_command_line_does_and_writes_nothing(
        client: TestClient, clinic: Engine, tmp_path: Path) -> None:
    token = log_in_as(client, Role.DATA_MANAGER)
    before = _counts(clinic)
    with pytest.raises(ImportRejected) as expected:  # its clock starts before the replacement was implanted
        import_pump_log(clinic, LOG, "CJFH", "P003", dt.date(2023, 1, 20), "cli")
    assert expected.value.findings
    page = _upload(client, LOG, token, api=False)
    assert page.status_code == 422 and "nothing was written" in page.text
    shown = html.unescape(page.text)
    for finding in expected.value.findings:
        assert f"<td>{finding.location}</td><td>{finding.severity}</td><td>{finding.rule}</td>" \
               f"<td>{finding.record}</td><td>{finding.message}</td>" in shown
    api = _upload(client, LOG, token)
    assert api.status_code == 422
    assert api.json()["findings"] == [f.to_dict() for f in expected.value.findings]
    assert _counts(clinic) == before


@pytest.mark.parametrize(("implant", "name", "content", "message"), [
    ({"site": "CJFH", "patient_id": "P003"}, "log.json", None, "implant_date=None: expected the implant"),
    ({**REPLACEMENT, "implant_date": "20/01/2023"}, "log.json", None, "a date as YYYY-MM-DD"),
    (REPLACEMENT, "log.csv", None, "a .json file"),
    (REPLACEMENT, "log.json", b"{not json", "valid JSON"),
    ({**REPLACEMENT, "patient_id": "P999"}, "log.json", None, "P999"),
])
def test_a_request_that_is_no_pump_log_import_is_refused_with_its_reason(
        client: TestClient, clinic: Engine, tmp_path: Path, implant: dict[str, str], name: str,
        content: bytes | None, message: str) -> None:
    token = log_in_as(client, Role.DATA_MANAGER)
    path = tmp_path / name
    path.write_bytes(content if content is not None else _log_for_the_replacement(tmp_path).read_bytes())
    before = _counts(clinic)
    page = _upload(client, path, token, api=False, **implant)
    assert page.status_code == 422 and message in html.unescape(page.text), page.text
    assert 'id="refused"' in page.text
    api = _upload(client, path, token, **implant)
    assert api.status_code == 422 and message in api.json()["message"]
    assert _counts(clinic) == before


def test_only_the_data_manager_uploads_a_pump_log(client: TestClient, clinic: Engine, tmp_path: Path) -> None:
    path = _log_for_the_replacement(tmp_path)
    before = _counts(clinic)
    for role in Role:
        if role is not Role.DATA_MANAGER:
            token = log_in_as(client, role)
            assert _upload(client, path, token).status_code == 403
    assert _counts(clinic) == before


def test_on_a_server_that_escalates_an_imported_alarm_starts_its_escalation(clinic: Engine,
                                                                            tmp_path: Path) -> None:
    engine = installed(clinic, board_policy())
    with TestClient(create_app(engine, today=TODAY, clock=lambda: NOW, research_seed=RESEARCH_SEED)) as client:
        token = log_in_as(client, Role.DATA_MANAGER)
        assert _upload(client, _log_for_the_replacement(tmp_path), token).status_code == 200
    [alarm] = _replacement_alarms(clinic)
    standing = escalations.standings(clinic, [alarm.id], NOW)[alarm.id]
    assert (standing.phase.value, standing.tier, standing.holders) == ("notified", 0, (user_name(Role.NURSE),))


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_in_a_browser_the_data_manager_uploads_a_pump_log_and_sees_the_report(
        clinic: Engine, served: str, chromium_page: ChromiumPages, tmp_path: Path) -> None:
    good = _log_for_the_replacement(tmp_path)
    page = chromium_page(Role.DATA_MANAGER, height=1000)
    page.goto(served + "/import")
    page.get_by_label("A pump's exported event log").check()
    page.set_input_files("#log", str(LOG))
    page.get_by_label("Site").fill("CJFH")
    page.get_by_label("Patient ID").fill("P003")
    page.get_by_label("Implant date").fill("2023-01-20")
    page.get_by_role("button", name="Import").click()
    page.wait_for_load_state()
    assert "nothing was written" in page.locator("#refused").inner_text()
    assert page.locator("#findings tbody tr").count() >= 1
    assert page.get_by_label("Patient ID").input_value() == "P003"
    chromium_page.shot(page, "30-pump-log-refused")
    page.set_input_files("#log", str(good))
    page.get_by_role("button", name="Import").click()
    page.wait_for_load_state()
    assert "pump_events" in page.locator("#imported + table").inner_text()
    chromium_page.shot(page, "31-pump-log-imported")
    page.get_by_role("link", name="alarm board").click()
    page.wait_for_load_state()
    assert "low reservoir" in page.locator("main").inner_text().lower()
    chromium_page.shot(page, "32-pump-log-alarm-on-board")
    assert chromium_page.page_errors == []
