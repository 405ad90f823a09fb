"""Data entry of visits, complications and exits on SQLite and PostgreSQL: bad input gives each field's message
(the import's) beside the field and writes nothing, a stale edit from a second session gets 409 naming who
changed the record and when, and each kind is entered only by the roles that may."""

from __future__ import annotations

import html as html_text
import re

from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select

from openidds.clinic import models as m
from openidds.clinic.entry import RecordKind, patient_records
from openidds.web import Role
from openidds.web.app import create_app

from .conftest import NOW, TODAY, log_in_as, user_name

VISITS = "/patients/CJFH/P001/records/visits"


def _rows(engine: Engine, model: type[m.Base]) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(model)).scalar_one())


def _audit_rows(engine: Engine) -> int:
    return _rows(engine, m.AuditEntry)


def _field_error(html: str, name: str) -> str:
    found = re.search(rf'<span class="field-error" id="e-{name}">([^<]*)</span>', html)
    assert found, html
    return html_text.unescape(found.group(1))


def _visit(engine: Engine, visit_date: str) -> tuple[int, int, dict[str, str]]:
    record = next(r for r in patient_records(engine, "CJFH", "P001")[RecordKind.VISIT]
                  if r.values["visit_date"].isoformat() == visit_date)
    return record.record_id, record.version, record.texts()


def test_a_nurse_adds_a_visit_and_it_is_audited_with_her_name(client: TestClient, clinic: Engine) -> None:
    token = log_in_as(client, Role.NURSE)
    form = client.get(f"{VISITS}/new")
    assert form.status_code == 200 and 'name="nrs"' in form.text and "Pain NRS (0-10)" in form.text
    response = client.post(f"{VISITS}/new", data={"csrf_token": token, "visit_date": "2023-07-10",
                                                  "visit_type": "follow_up", "nrs": "2", "systemic_opioid": "0"},
                           follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/patients/CJFH/P001/records"
    record_id, version, texts = _visit(clinic, "2023-07-10")
    assert version == 1 and texts["nrs"] == "2" and texts["systemic_opioid"] == "0"
    with clinic.connect() as conn:
        entry = conn.execute(select(m.AuditEntry.user_name, m.AuditEntry.at, m.AuditEntry.action).where(
            m.AuditEntry.table_name == "visits", m.AuditEntry.record_id == record_id)).one()
    assert tuple(entry) == (user_name(Role.NURSE), NOW, "insert")
    assert "2023-07-10" in client.get("/patients/CJFH/P001/records").text


def test_bad_visit_values_give_each_field_the_import_message_and_write_nothing(client: TestClient,
                                                                              clinic: Engine) -> None:
    token = log_in_as(client, Role.NURSE)
    before = (_rows(clinic, m.Visit), _audit_rows(clinic))
    response = client.post(f"{VISITS}/new", data={"csrf_token": token, "visit_date": "2023-02-30",
                                                  "visit_type": "house_call", "nrs": "11", "eq5d_vas": "abc",
                                                  "ome_mg_per_day": "60 mg"})
    assert response.status_code == 422
    html = response.text
    assert _field_error(html, "visit_date") == "visit_date='2023-02-30': expected a real calendar date as YYYY-MM-DD"
    assert _field_error(html, "visit_type").startswith("visit_type='house_call': expected one of baseline, follow_up")
    assert _field_error(html, "nrs") == "nrs=11: expected a value from 0 to 10"
    assert _field_error(html, "eq5d_vas") == "eq5d_vas='abc': expected a whole number"
    assert "ome_mg_per_day='60 mg': expected a number in mg/d" in _field_error(html, "ome_mg_per_day")
    assert 'value="house_call" selected' in html and 'value="60 mg"' in html  # the entries are kept to correct
    assert (_rows(clinic, m.Visit), _audit_rows(clinic)) == before


def test_a_rule_across_fields_is_shown_beside_its_field(client: TestClient, clinic: Engine) -> None:
    token = log_in_as(client, Role.PHYSICIAN)
    before = (_rows(clinic, m.Visit), _audit_rows(clinic))
    response = client.post(f"{VISITS}/new", data={"csrf_token": token, "visit_date": "2023-07-10",
                                                  "visit_type": "follow_up", "systemic_opioid": "0",
                                                  "ome_mg_per_day": "30"})
    assert response.status_code == 422
    assert _field_error(response.text, "ome_mg_per_day") == "ome_mg_per_day > 0 but systemic_opioid = 0"
    required = client.post(f"{VISITS}/new", data={"csrf_token": token, "visit_type": "follow_up"})
    assert _field_error(required.text, "visit_date") == "visit_date is required"
    assert (_rows(clinic, m.Visit), _audit_rows(clinic)) == before


def test_a_visit_already_recorded_is_refused_not_overwritten(client: TestClient, clinic: Engine) -> None:
    token = log_in_as(client, Role.NURSE)
    _, version, texts = _visit(clinic, "2022-10-01")
    response = client.post(f"{VISITS}/new", data={**texts, "nrs": "9", "csrf_token": token})
    assert response.status_code == 422 and "already recorded: edit it instead" in _field_error(response.text,
                                                                                               "visit_date")
    assert _visit(clinic, "2022-10-01")[1:] == (version, texts)


def test_complication_and_exit_forms_check_the_import_rules(client: TestClient, clinic: Engine) -> None:
    token = log_in_as(client, Role.PHYSICIAN)
    base = "/patients/CJFH/P003/records"
    death = client.post(f"{base}/complications/new", data={"csrf_token": token, "kind": "fever",
                                                           "onset_date": "2023-05-01", "grade": "5",
                                                           "action": "medical"})
    assert death.status_code == 422
    assert _field_error(death.text, "grade") == "grade 5 if and only if the complication led to death"
    early = client.post(f"{base}/exits/new", data={"csrf_token": token, "exit_date": "2022-01-01",
                                                   "reason": "transfer_of_care"})
    assert early.status_code == 422 and "is after the exit 2022-01-01" in early.text
    exits_before = _rows(clinic, m.Exit)
    ok = client.post(f"{base}/exits/new", data={"csrf_token": token, "exit_date": "2023-07-09",
                                                "reason": "transfer_of_care"}, follow_redirects=False)
    assert ok.status_code == 303 and _rows(clinic, m.Exit) == exits_before + 1
    again = client.post(f"{base}/exits/new", data={"csrf_token": token, "exit_date": "2023-07-09",
                                                   "reason": "transfer_of_care"})
    assert again.status_code == 422 and "already has an exit" in again.text


def test_a_stale_edit_from_a_second_session_gets_409_with_who_and_when(clinic: Engine) -> None:
    later = NOW.replace(minute=30)
    with TestClient(create_app(clinic, today=TODAY, clock=lambda: NOW)) as first, \
            TestClient(create_app(clinic, today=TODAY, clock=lambda: later)) as second:
        first_token = log_in_as(first, Role.NURSE)
        second_token = log_in_as(second, Role.PHYSICIAN)
        record_id, version, texts = _visit(clinic, "2022-10-01")
        url = f"{VISITS}/{record_id}"
        assert f'name="version" value="{version}"' in first.get(url).text
        assert f'name="version" value="{version}"' in second.get(url).text
        saved = second.post(url, data={**texts, "nrs": "4", "version": str(version), "csrf_token": second_token},
                            follow_redirects=False)
        assert saved.status_code == 303
        stale = first.post(url, data={**texts, "nrs": "2", "version": str(version), "csrf_token": first_token})
        assert stale.status_code == 409
        assert f"changed by {user_name(Role.PHYSICIAN)} at 2023-07-10 09:30 UTC" in stale.text
        assert "reload" in stale.text.lower() and 'value="2"' in stale.text
        assert _visit(clinic, "2022-10-01")[1:] == (version + 1, {**texts, "nrs": "4"})  # never overwritten

        api = first.put(f"/api/patients/CJFH/P001/records/visits/{record_id}", json={
            "version": version, "values": {**texts, "nrs": "1"}}, headers={"X-CSRF-Token": first_token})
        assert api.status_code == 409 and api.json()["error"] == "StaleEdit", api.text
        assert f"changed by {user_name(Role.PHYSICIAN)} at 2023-07-10 09:30 UTC" in api.json()["message"]
        fresh = first.put(f"/api/patients/CJFH/P001/records/visits/{record_id}", json={
            "version": version + 1, "values": {**texts, "nrs": "1"}}, headers={"X-CSRF-Token": first_token})
        assert fresh.status_code == 200 and fresh.json()["version"] == version + 2


def test_the_api_refuses_bad_values_with_each_field_message(client: TestClient, clinic: Engine) -> None:
    token = log_in_as(client, Role.NURSE)
    before = _audit_rows(clinic)
    response = client.post("/api/patients/CJFH/P001/records/complications",
                           json={"values": {"kind": "fever", "onset_date": "2023-06-01", "grade": "0",
                                            "action": "medical"}}, headers={"X-CSRF-Token": token})
    assert response.status_code == 422
    assert response.json()["errors"] == {"grade": "grade=0: expected a value from 1 to 5"}
    assert _audit_rows(clinic) == before
    created = client.post("/api/patients/CJFH/P001/records/complications",
                          json={"values": {"kind": "fever", "onset_date": "2023-06-01", "grade": "1",
                                           "action": "medical"}}, headers={"X-CSRF-Token": token})
    assert created.status_code == 201 and created.json()["version"] == 1


def test_each_kind_is_entered_only_by_the_roles_that_may(client: TestClient, clinic: Engine) -> None:
    allowed = {RecordKind.VISIT: {Role.NURSE, Role.PHYSICIAN}, RecordKind.COMPLICATION: {Role.NURSE, Role.PHYSICIAN},
               RecordKind.EXIT: {Role.PHYSICIAN, Role.DATA_MANAGER}}
    for role in Role:
        token = log_in_as(client, role)
        for kind, roles in allowed.items():
            before = _audit_rows(clinic)
            form = client.get(f"/patients/CJFH/P001/records/{kind.value}/new")
            post = client.post(f"/patients/CJFH/P001/records/{kind.value}/new", data={"csrf_token": token})
            expected = 200 if role in roles else 403
            assert form.status_code == expected, (role, kind)
            assert post.status_code == (422 if role in roles else 403), (role, kind)
            assert _audit_rows(clinic) == before


def test_an_unknown_patient_or_record_is_404(client: TestClient) -> None:
    log_in_as(client, Role.NURSE)
    assert client.get("/patients/CJFH/P999/records").status_code == 404
    assert client.get("/patients/CJFH/P999/records/visits/new").status_code == 404
    assert client.get(f"{VISITS}/99999").status_code == 404
    other = client.get("/api/patients/CJFH/P002/records").json()["visits"][0]["id"]
    assert client.get(f"{VISITS}/{other}").status_code == 404  # P002's visit is not P001's
