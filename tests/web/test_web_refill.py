"""The refill page and API on SQLite and PostgreSQL: the programmer's refill workflow on the stored pump. A flagged
discrepancy needs an acknowledgement; a completed refill writes the state and the registry's refill row in one
transaction; the observation is signed off at its end; a stale form is a 409; bad input is answered at its
field and stores nothing."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from openidds.clinic.models import AuditEntry, Implant, Patient, Refill
from openidds.clinic.pump_states import read_pump_state
from openidds.programmer import CHECKLIST
from openidds.web import Role
from openidds.web.app import create_app

from .conftest import NOW, TODAY, log_in_as, user_name

"""CJFH/P003's stored pump: 20 mL of morphine 20 mg/mL at 2 mg/day (0.1 mL/day) from this moment."""
API = "/api/patients/CJFH/P003/refill"
EVERY_ITEM = [item for item, _ in CHECKLIST]
REFILL = {"state_version": 1, "withdrawn_ml": "13", "prescriber": "Dr B", "prescribed": {"morphine": "20 mg/mL"},
          "concentration": {"morphine": "20 mg/mL"}, "concentration_again": {"morphine": "20 mg/mL"},
          "volume_ml": "20", "checklist": EVERY_ITEM,
          "overrides": {"morphine.compounded": "compounded by the hospital pharmacy, record seen"}}
"""A refill 39 days after the fill: 16.096 mL expected, 13 mL withdrawn (3.1 mL less: over the 2 mL floor)."""


def _post(client: TestClient, path: str, body: dict[str, Any], role: Role = Role.NURSE) -> Any:
    token = log_in_as(client, role)
    return client.post(path, json=body, headers={"X-CSRF-Token": token})


def _refills(engine: Engine) -> list[Refill]:
    with Session(engine) as session:
        return list(session.scalars(select(Refill).join(Implant).join(Patient)
                                    .where(Patient.patient_code == "P003").order_by(Refill.refilled_at)))


def test_the_page_shows_expected_residual_threshold_trend_and_checklist(pumped: Engine, client: TestClient) -> None:
    log_in_as(client, Role.NURSE)
    view = client.get(API).json()
    assert view["expected_ml"] == "16.096" and view["threshold"].startswith("2.000 mL (2 mL floor for a 40 mL pump")
    assert view["drugs"] == [{"drug": "morphine", "concentration": "20 mg/mL"}]
    assert [(h["refilled_at"], h["discrepancy_ml"], h["flagged"]) for h in view["history"]] == [
        ("2023-03-20T10:00", -0.2, False)]
    assert [c["id"] for c in view["checklist"]] == EVERY_ITEM
    assert view["observation"] == {"until": "2023-06-01T08:35", "due": True, "completed_by": "RN Fill"}
    page = client.get("/patients/CJFH/P003/refill").text
    assert "Expected residual: <strong>16.096 mL</strong>" in page and "Complete the refill" in page


def test_a_flagged_discrepancy_needs_an_acknowledgement_then_the_refill_is_stored(pumped: Engine,
                                                                                  client: TestClient) -> None:
    checked = _post(client, API + "/check", REFILL | {"checklist": []})
    assert checked.status_code == 200
    result = checked.json()
    assert result["discrepancy"]["difference_ml"] == "-3.096181" and result["discrepancy"]["flagged"]
    assert "over-delivery" in result["discrepancy"]["suggests"] and result["flagged"]
    assert result["error"]["field"] == "acknowledgement" and result["review"] is None
    refused = _post(client, "/api/patients/CJFH/P003/refills", REFILL)
    assert refused.status_code == 422 and refused.json()["error"]["field"] == "acknowledgement"
    assert len(_refills(pumped)) == 1 and read_pump_state(pumped, "CJFH", "P003").version == 1  # type: ignore[union-attr]

    acknowledged = REFILL | {"acknowledgement": "pocket checked: no swelling; patient alert, no overdose signs"}
    review = _post(client, API + "/check", acknowledged | {"checklist": []}).json()
    assert review["error"] is None and review["missing_checklist"] == EVERY_ITEM
    assert {f["id"] for f in review["review"]["findings"] if f["level"] == "soft"} == {"morphine.compounded"}
    done = _post(client, "/api/patients/CJFH/P003/refills", acknowledged)
    assert done.status_code == 201, done.text
    assert done.json()["done"] and done.json()["observe_until"] == "2023-07-10T09:30"
    assert done.json()["state_version"] == 2

    stored = read_pump_state(pumped, "CJFH", "P003")
    assert stored is not None and stored.updated_by == user_name(Role.NURSE)
    assert [e.command.name for e in stored.state.journal] == ["refill", "refill"]
    kinds = [line["kind"] for line in stored.state.sessions]
    assert kinds[-3:] == ["confirmed", "transmitted", "observation_started"] and "discrepancy_acknowledged" in kinds
    new = _refills(pumped)[-1]
    assert (new.refilled_at, new.drug, new.concentration_mg_per_ml, new.volume_added_ml) == (NOW, "morphine", 20.0,
                                                                                              20.0)
    assert (new.expected_residual_ml, new.withdrawn_residual_ml, new.discrepancy_ml) == (16.096181, 13.0, -3.096181)
    assert new.next_refill_due is not None and new.next_refill_due > TODAY
    with Session(pumped) as session:
        written = {(e.table_name, e.action) for e in session.scalars(
            select(AuditEntry).where(AuditEntry.source == "openidds web: refill"))}
    assert written == {("pump_states", "update"), ("refills", "insert")}
    view = client.get(API).json()
    assert view["history"][-1]["flagged"] and view["observation"] == {"until": "2023-07-10T09:30", "due": False,
                                                                      "completed_by": None}
    again = _post(client, "/api/patients/CJFH/P003/refills", acknowledged)
    assert again.status_code == 409 and "changed by nurse-1 at 2023-07-10 09:00, reload" in again.json()["message"]


def test_the_observation_is_signed_off_at_its_end_not_before(pumped: Engine, client: TestClient) -> None:
    assert _post(client, "/api/patients/CJFH/P003/refills",
                 REFILL | {"acknowledgement": "checked", "withdrawn_ml": "16"}).status_code == 201
    early = _post(client, API + "/observation", {"state_version": 2, "note": "no signs of overdose"})
    assert early.status_code == 422 and "at or after 2023-07-10T09:30" in early.json()["message"]
    later = NOW + dt.timedelta(minutes=31)
    with TestClient(create_app(pumped, today=TODAY, clock=lambda: later)) as after:
        assert _post(after, API + "/observation", {"state_version": 2, "note": ""}).status_code == 422
        signed = _post(after, API + "/observation", {"state_version": 2, "note": "no signs of overdose"})
        assert signed.status_code == 200 and signed.json() == {"signed_off_by": user_name(Role.NURSE)}
        assert after.get(API).json()["observation"]["completed_by"] == user_name(Role.NURSE)
        twice = _post(after, API + "/observation", {"state_version": 3, "note": "again"})
        assert twice.status_code == 422 and twice.json()["field"] == "observation"


@pytest.mark.parametrize(("change", "field"), [
    ({"withdrawn_ml": "lots"}, "withdrawn_ml"),
    ({"withdrawn_ml": "41"}, "withdrawn_ml"),
    ({"concentration_again": {"morphine": "25 mg/mL"}}, "concentration_again"),
    ({"concentration": {"morphine": "25 mg/mL"}, "concentration_again": {"morphine": "25 mg/mL"}}, "concentration"),
    ({"concentration": {"morphine": "20 mcg/mL"}, "concentration_again": {"morphine": "20 mcg/mL"}}, "concentration"),
    ({"volume_ml": "45"}, "fill"),
    ({"checklist": EVERY_ITEM[:-1]}, "checklist"),
    ({"overrides": {}}, "override"),
    ({"prescribed": {"morfine": "20 mg/mL"}}, "concentration"),
])
def test_bad_input_is_refused_at_its_field_and_nothing_is_stored(pumped: Engine, client: TestClient,
                                                                 change: dict[str, Any], field: str) -> None:
    body = REFILL | {"withdrawn_ml": "16"} | change
    response = _post(client, "/api/patients/CJFH/P003/refills", body)
    assert response.status_code == 422 and response.json()["error"]["field"] == field, response.text
    assert len(_refills(pumped)) == 1 and read_pump_state(pumped, "CJFH", "P003").version == 1  # type: ignore[union-attr]
    token = log_in_as(client, Role.NURSE)
    form = {"csrf_token": token, "action": "complete", "state_version": "1", "withdrawn_ml": body["withdrawn_ml"],
            "prescriber": body["prescriber"], "volume_ml": body["volume_ml"],
            **{f"{name}.{drug}": text for name in ("prescribed", "concentration", "concentration_again", "overrides")
               for drug, text in body[name].items()}}
    page = client.post("/patients/CJFH/P003/refill", data=form | {"checklist": body["checklist"]})
    assert page.status_code == 422 and 'class="field-error" role="alert"' in page.text


def test_roles_and_a_stale_form(pumped: Engine, client: TestClient) -> None:
    for role in (Role.RESEARCHER, Role.DATA_MANAGER, Role.ADMINISTRATOR):
        assert _post(client, "/api/patients/CJFH/P003/refills", REFILL, role).status_code == 403
        assert client.get(API).status_code == 403
    stale = _post(client, API + "/check", REFILL | {"state_version": 7}, Role.PHYSICIAN)
    assert stale.status_code == 409 and "changed by RN Import at" in stale.json()["message"]
    token = log_in_as(client, Role.NURSE)
    page = client.post("/patients/CJFH/P003/refill", data={"csrf_token": token, "action": "check", "state_version": "7",
                                                            "withdrawn_ml": "16"})
    assert page.status_code == 422  # the form's own check: fields missing, shown beside them
    unknown = client.get("/api/patients/CJFH/P001/refill").json()
    assert unknown["pump"] is None and unknown["expected_ml"] is None
    assert _post(client, "/api/patients/CJFH/P001/refills", REFILL).status_code == 404
