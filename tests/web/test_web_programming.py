"""The programming review on SQLite and PostgreSQL: a nurse proposes a dose change, the programmer's findings are
shown, a physician overrides the soft ones and confirms; only then the pump state changes and a programs row is
written. The proposer may not confirm, a role without the permission is refused, a stale confirmation is a 409,
and bad input is answered at its field, never with a 500."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from openidds.clinic.models import AuditEntry, ProgramProposal, PumpProgram
from openidds.clinic.pump_states import put_pump_state, read_pump_state
from openidds.pump import RequestPatientBolus
from openidds.web import Role

from .conftest import NOW, log_in_as, user_name

"""The pump clock of CJFH/P003's stored state: filled with morphine 20 mg/mL and programmed at 2 mg/day."""
PROGRAM = "/api/patients/CJFH/P003/program"
PROPOSAL = {"dose": "2.4 mg/day", "concentration": "20 mg/mL", "note": "pain NRS 7 at rest"}


def _propose(client: TestClient, role: Role, body: dict[str, Any] | None = None) -> int:
    token = log_in_as(client, role)
    response = client.post(PROGRAM + "/proposals", json=body or PROPOSAL, headers={"X-CSRF-Token": token})
    assert response.status_code == 201, response.text
    return int(response.json()["id"])


def _confirm(client: TestClient, proposal_id: int, body: dict[str, Any], role: Role = Role.PHYSICIAN) -> Any:
    token = log_in_as(client, role)
    return client.post(f"{PROGRAM}/proposals/{proposal_id}/confirm", json=body, headers={"X-CSRF-Token": token})


def _soft(client: TestClient, proposal_id: int) -> list[str]:
    view = client.get(PROGRAM).json()
    [proposal] = [p for p in view["proposals"] if p["id"] == proposal_id]
    return [f["id"] for f in proposal["review"]["findings"] if f["level"] == "soft"]


def test_nurse_proposes_physician_overrides_and_confirms(pumped: Engine, client: TestClient) -> None:
    proposal_id = _propose(client, Role.NURSE)
    with Session(pumped) as session:
        assert session.scalars(select(PumpProgram).where(PumpProgram.started_at == NOW)).all() == []
    stored = read_pump_state(pumped, "CJFH", "P003")
    assert stored is not None and stored.version == 1  # nothing reached the pump model

    log_in_as(client, Role.PHYSICIAN)
    view = client.get(PROGRAM).json()
    assert view["pump"]["program"].startswith("continuous") and view["pump"]["version"] == 1
    [proposal] = view["proposals"]
    assert proposal["proposed_by"] == user_name(Role.NURSE) and proposal["may_confirm"] and not proposal["stale"]
    [row] = proposal["review"]["rows"]
    assert (row["daily_old"], row["daily_new"], row["change_percent"]) == ("2 mg/day", "2.4 mg/day", "20.00")
    levels = {f["id"]: f["level"] for f in proposal["review"]["findings"]}
    assert levels["morphine.change"] == "info" and levels["morphine.compounded"] == "soft"
    soft = _soft(client, proposal_id)

    unconfirmed = _confirm(client, proposal_id, {"concentration_again": "20 mg/mL"})
    assert unconfirmed.status_code == 422 and unconfirmed.json()["field"] == "override"
    assert {f["id"] for f in unconfirmed.json()["findings"]} == set(soft)
    mistyped = _confirm(client, proposal_id, {"concentration_again": "2 mg/mL",
                                              "overrides": {f: "compounded by the hospital pharmacy" for f in soft}})
    assert mistyped.status_code == 422 and mistyped.json()["form_field"] == "concentration_again"
    assert "the morphine concentration in the pump, 20 mg/mL" in mistyped.json()["message"]
    assert read_pump_state(pumped, "CJFH", "P003").version == 1  # type: ignore[union-attr]

    done = _confirm(client, proposal_id, {"concentration_again": "20 mg/mL",
                                          "overrides": {f: "compounded by the hospital pharmacy" for f in soft}})
    assert done.status_code == 200, done.text
    assert done.json() | {"program": "-"} == {"kind": "program", "program": "-", "at": NOW.isoformat(),
                                             "state_version": 2,
                                             "proposed_by": user_name(Role.NURSE),
                                             "confirmed_by": user_name(Role.PHYSICIAN)}
    stored = read_pump_state(pumped, "CJFH", "P003")
    assert stored is not None and stored.version == 2 and stored.updated_by == user_name(Role.PHYSICIAN)
    assert [e.command.name for e in stored.state.journal] == ["refill", "set_therapy"]
    session = [(line["kind"], line["who"]) for line in stored.state.sessions
               if line["session"] == f"{user_name(Role.PHYSICIAN)}@{stored.state.journal[-1].at_s}"]
    assert session == [("opened", user_name(Role.PHYSICIAN)), ("proposed", user_name(Role.NURSE)),
                       ("reviewed", user_name(Role.PHYSICIAN)),
                       *[("override", user_name(Role.PHYSICIAN))] * len(soft),
                       ("confirmed", user_name(Role.PHYSICIAN)), ("transmitted", user_name(Role.PHYSICIAN))]
    after = client.get(PROGRAM).json()
    assert after["pump"]["doses"][0]["daily"] == "2.4 mg/day"
    overrides = [line for line in after["log"] if line["kind"] == "override" and line["at"] == "2023-07-10T09:00"]
    assert [(o["who"], o["reason"], o["at"]) for o in overrides] == [
        (user_name(Role.PHYSICIAN), "compounded by the hospital pharmacy", "2023-07-10T09:00")] * len(soft)
    assert after["log"][0]["kind"] == "transmitted"  # newest first
    with Session(pumped) as session:
        [program] = session.scalars(select(PumpProgram).where(PumpProgram.started_at == NOW)).all()
        assert (program.drug, program.daily_dose_mg_per_day, program.concentration_mg_per_ml, program.mode) == (
            "morphine", 2.4, 20.0, "continuous")
        closed = session.get_one(ProgramProposal, proposal_id)
        assert (closed.status, closed.closed_by, closed.closed_at) == ("confirmed", user_name(Role.PHYSICIAN), NOW)
        authors = {(e.table_name, e.user_name) for e in session.scalars(
            select(AuditEntry).where(AuditEntry.source == "openidds web: programming review"))}
    assert authors == {("program_proposals", user_name(Role.NURSE)), ("program_proposals", user_name(Role.PHYSICIAN)),
                       ("pump_states", user_name(Role.PHYSICIAN)), ("pump_programs", user_name(Role.PHYSICIAN))}
    again = _confirm(client, proposal_id, {"concentration_again": "20 mg/mL"})
    assert again.status_code == 409 and "it was confirmed by" in again.json()["message"]


def test_the_proposer_may_not_confirm_and_a_nurse_may_not_confirm(pumped: Engine, client: TestClient) -> None:
    proposal_id = _propose(client, Role.PHYSICIAN)
    log_in_as(client, Role.PHYSICIAN)
    [proposal] = client.get(PROGRAM).json()["proposals"]
    assert not proposal["may_confirm"] and "second clinician" in proposal["confirm_refusal"]
    overrides = {f: "pharmacy record seen" for f in _soft(client, proposal_id)}
    own = _confirm(client, proposal_id, {"concentration_again": "20 mg/mL", "overrides": overrides})
    assert own.status_code == 403 and own.json()["field"] == "confirmed_by" and "second clinician" in own.text
    nurse = _confirm(client, proposal_id, {"concentration_again": "20 mg/mL"}, Role.NURSE)
    assert nurse.status_code == 403 and nurse.json()["value"] == "nurse"
    for role in (Role.RESEARCHER, Role.DATA_MANAGER, Role.ADMINISTRATOR):
        token = log_in_as(client, role)
        assert client.post(PROGRAM + "/proposals", json=PROPOSAL, headers={"X-CSRF-Token": token}).status_code == 403
        assert client.get(PROGRAM).status_code == 403
    assert read_pump_state(pumped, "CJFH", "P003").version == 1  # type: ignore[union-attr]


def test_a_confirmation_against_a_changed_pump_state_is_a_409(pumped: Engine, client: TestClient) -> None:
    proposal_id = _propose(client, Role.NURSE)
    stored = read_pump_state(pumped, "CJFH", "P003")
    assert stored is not None
    pressed = stored.state.with_sent(3 * 86400, RequestPatientBolus(), "patient", "pressed", "patient pressed")
    put_pump_state(pumped, "CJFH", "P003", pressed, "RN Other")
    log_in_as(client, Role.PHYSICIAN)
    [proposal] = client.get(PROGRAM).json()["proposals"]
    assert proposal["stale"] and not proposal["may_confirm"]
    overrides = {f: "pharmacy record seen" for f in _soft(client, proposal_id)}
    stale = _confirm(client, proposal_id, {"concentration_again": "20 mg/mL", "overrides": overrides})
    assert stale.status_code == 409
    assert "changed by RN Other at" in stale.json()["message"] and "reload" in stale.json()["message"]
    assert read_pump_state(pumped, "CJFH", "P003").version == 2  # type: ignore[union-attr]
    token = log_in_as(client, Role.NURSE)
    withdrawn = client.post(f"{PROGRAM}/proposals/{proposal_id}/withdraw", json={"why": "stale: proposing again"},
                            headers={"X-CSRF-Token": token})
    assert withdrawn.status_code == 200 and client.get(PROGRAM).json()["proposals"] == []


@pytest.mark.parametrize(("body", "field"), [
    (PROPOSAL | {"dose": "2.4 mcg/day"}, "dose"),
    (PROPOSAL | {"dose": "lots"}, "dose"),
    (PROPOSAL | {"concentration": "25 mg/mL"}, "concentration"),
    (PROPOSAL | {"drug": "baclofen"}, "drug"),
    (PROPOSAL | {"dose": "4 mg/day"}, ""),  # +100 %: a hard finding of the clinic's cap
    (PROPOSAL | {"bolus": "set", "bolus_dose": ""}, "bolus_dose"),
    (PROPOSAL | {"stop": True}, "dose"),
])
def test_bad_proposals_are_refused_at_their_field(pumped: Engine, client: TestClient, body: dict[str, Any],
                                                  field: str) -> None:
    token = log_in_as(client, Role.NURSE)
    response = client.post(PROGRAM + "/proposals", json=body, headers={"X-CSRF-Token": token})
    assert response.status_code == 422 and response.json()["form_field"] == field, response.text
    if field == "":
        assert [f["id"] for f in response.json()["findings"]] == ["morphine.change"]
    page = client.post("/patients/CJFH/P003/program/proposals", data=body | {"csrf_token": token,
                                                                           "stop": "on" if body.get("stop") else ""})
    message = response.json()["message"]
    placed = f'class="field-error" role="alert">{message}' if field else 'class="refusal" role="alert"'
    assert page.status_code == 422 and placed in page.text.replace("&#39;", "'"), page.text
    assert client.get(PROGRAM).json()["proposals"] == []


def test_the_page_shows_the_review_and_hides_what_a_role_may_not_do(pumped: Engine, client: TestClient) -> None:
    proposal_id = _propose(client, Role.NURSE)
    page = client.get("/patients/CJFH/P003/program").text
    assert "Propose" in page and "Confirm and send" not in page and "a nurse may not confirm" in page
    log_in_as(client, Role.PHYSICIAN)
    page = client.get("/patients/CJFH/P003/program").text
    assert f"Proposal {proposal_id} by {user_name(Role.NURSE)}" in page and "Confirm and send to the pump" in page
    assert "2 mg/day → <strong>2.4 mg/day</strong>" in page and "morphine.compounded" in page
    assert "No pump state is stored" in client.get("/patients/CJFH/P001/program").text
