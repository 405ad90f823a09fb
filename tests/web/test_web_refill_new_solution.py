"""A refill with a new solution, on SQLite and PostgreSQL: a new concentration (or drug, or admixture) changes the
rates, so the programmer asks for the dose again; the refill is then a programming change, stored as a proposal
that the programming review shows (limit findings, the new concentration entered again, a physician's
confirmation), and nothing reaches the stored pump until a physician confirms it."""

from __future__ import annotations

import html
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from openidds.clinic.models import ProgramProposal, PumpProgram, Refill
from openidds.clinic.pump_states import read_pump_state
from openidds.programmer import CHECKLIST
from openidds.web import Role

from .conftest import NOW, ChromiumPages, browser_log_in, fill_refill, log_in_as, user_name

REFILLS = "/api/patients/CJFH/P003/refills"
PROGRAM = "/api/patients/CJFH/P003/program"
EVERY_ITEM = [item for item, _ in CHECKLIST]
NEW = {"state_version": 1, "withdrawn_ml": "16", "prescriber": "Dr B", "prescribed": {"morphine": "25 mg/mL"},
       "concentration": {"morphine": "25 mg/mL"}, "concentration_again": {"morphine": "25 mg/mL"},
       "volume_ml": "20", "checklist": EVERY_ITEM, "therapy": {"dose": "2 mg/day"}}
"""CJFH/P003's pump holds morphine 20 mg/mL at 2 mg/day: refilled with 25 mg/mL, the same 2 mg/day is 0.08 mL/day."""


def _post(client: TestClient, path: str, body: dict[str, Any], role: Role = Role.NURSE) -> Any:
    token = log_in_as(client, role)
    return client.post(path, json=body, headers={"X-CSRF-Token": token})


def _written(engine: Engine) -> tuple[int, ...]:
    """The stored pump's version and the rows a refill or a program writes."""
    stored = read_pump_state(engine, "CJFH", "P003")
    assert stored is not None
    with engine.connect() as conn:
        return (stored.version, *(int(conn.execute(select(func.count()).select_from(model)).scalar_one())
                                  for model in (Refill, PumpProgram)))


def test_a_new_concentration_without_the_dose_again_is_refused_at_the_program(pumped: Engine,
                                                                              client: TestClient) -> None:
    before = _written(pumped)
    body = NEW | {"therapy": None}
    refused = _post(client, REFILLS, body)
    assert refused.status_code == 422 and refused.json()["error"]["field"] == "therapy"
    assert "the concentration changes, so the rates must be computed again" in refused.json()["error"]["message"]
    page = client.post("/patients/CJFH/P003/refill", data={
        "csrf_token": log_in_as(client, Role.NURSE), "action": "complete", "state_version": "1",
        "withdrawn_ml": "16", "prescriber": "Dr B", "prescribed.morphine": "25 mg/mL",
        "concentration.morphine": "25 mg/mL", "concentration_again.morphine": "25 mg/mL", "volume_ml": "20",
        "checklist": EVERY_ITEM, "program": "keep"})
    assert page.status_code == 422
    assert 'class="field-error" role="alert">therapy=' in page.text.replace("&#39;", "'")
    assert _written(pumped) == before


def test_a_refill_with_a_new_concentration_is_proposed_and_nothing_reaches_the_pump(pumped: Engine,
                                                                                   client: TestClient) -> None:
    before = _written(pumped)
    proposed = _post(client, REFILLS, NEW)
    assert proposed.status_code == 202, proposed.text
    assert proposed.json()["done"] is False and proposed.json()["proposal_id"] is not None
    assert _written(pumped) == before
    [proposal] = client.get(PROGRAM).json()["proposals"]
    assert proposal["kind"] == "refill" and proposal["id"] == proposed.json()["proposal_id"]
    assert proposal["order"]["concentration"] == {"morphine": "25 mg/mL"}
    [row] = proposal["review"]["rows"]
    assert (row["concentration_old"], row["concentration_new"]) == ("20 mg/mL", "25 mg/mL")
    assert row["daily_old"] == row["daily_new"] == "2 mg/day"  # the dose in mass per day is kept
    assert proposal["review"]["program"] == "continuous 0.08 mL/day"
    assert proposal["review"]["fill"] == {"solution": "morphine 25 mg/mL", "volume_ml": "20"}
    assert proposal["may_confirm"] is False and "a nurse may not confirm" in proposal["confirm_refusal"]


@pytest.mark.parametrize(("change", "field"), [
    ({"therapy": {"dose": "2 mcg/day"}}, "therapy.dose"),
    ({"therapy": {"dose": "2 mg/day", "drug": "baclofen"}}, "therapy.drug"),
    ({"therapy": {"flex": [{"start": "07:00", "dose": "2 mg/day"}, {"start": "31:00", "dose": "2 mg/day"}]}},
     "therapy.flex[1].start"),
    ({"checklist": EVERY_ITEM[:-1]}, "checklist"),
    ({"overrides": {"morphine.change": "the nurse's reason"}}, "overrides"),
    ({"concentration_again": {"morphine": "20 mg/mL"}}, "concentration_again"),
])
def test_a_bad_refill_with_a_new_program_is_refused_at_its_field(pumped: Engine, client: TestClient,
                                                                 change: dict[str, Any], field: str) -> None:
    before = _written(pumped)
    refused = _post(client, REFILLS, NEW | change)
    assert refused.status_code == 422 and refused.json()["error"]["field"] == field, refused.text
    with pumped.connect() as conn:
        assert conn.execute(select(func.count()).select_from(ProgramProposal)).scalar_one() == 0
    assert _written(pumped) == before


def test_a_physician_confirms_the_refill_with_the_new_concentration_entered_again(pumped: Engine,
                                                                                  client: TestClient) -> None:
    proposal_id = _post(client, REFILLS, NEW).json()["proposal_id"]
    confirm = f"{PROGRAM}/proposals/{proposal_id}/confirm"
    [proposal] = client.get(PROGRAM).json()["proposals"]
    soft = {f["id"]: "prescribed and checked" for f in proposal["review"]["findings"] if f["level"] == "soft"}
    assert _post(client, confirm, {"concentration_again": "25 mg/mL", "overrides": soft}).status_code == 403
    before = _written(pumped)
    mistyped = _post(client, confirm, {"concentration_again": "20 mg/mL", "overrides": soft}, Role.PHYSICIAN)
    assert mistyped.status_code == 422 and mistyped.json()["form_field"] == "concentration_again"
    assert "the morphine concentration of the new fill, 25 mg/mL" in mistyped.json()["message"]
    assert _written(pumped) == before
    done = _post(client, confirm, {"concentration_again": "25 mg/mL", "overrides": soft}, Role.PHYSICIAN)
    assert done.status_code == 200, done.text
    assert done.json()["kind"] == "refill" and done.json()["program"] == "continuous 0.08 mL/day"
    stored = read_pump_state(pumped, "CJFH", "P003")
    assert stored is not None and stored.version == 2 and stored.updated_by == user_name(Role.PHYSICIAN)
    assert stored.state.journal[-1].command.name == "refill"
    pump = stored.state.replay()
    assert pump.solution is not None and pump.solution.describe() == "morphine 25 mg/mL"
    session = [(line["kind"], line["who"]) for line in stored.state.sessions if line["at_s"] == stored.state.last_s()]
    nurse, physician = user_name(Role.NURSE), user_name(Role.PHYSICIAN)
    assert ("withdrawn", nurse) in session and ("proposed", nurse) in session and ("checklist", nurse) in session
    assert ("confirmed", physician) in session and ("transmitted", nurse) in session
    assert {who for kind, who in session if kind == "override"} == ({physician} if soft else set())
    with Session(pumped) as db:
        [refill] = db.scalars(select(Refill).where(Refill.refilled_at == NOW)).all()
        [program] = db.scalars(select(PumpProgram).where(PumpProgram.started_at == NOW)).all()
        status = db.get(ProgramProposal, proposal_id)
    assert (refill.concentration_mg_per_ml, refill.volume_added_ml, refill.withdrawn_residual_ml) == (25, 20, 16)
    assert (program.concentration_mg_per_ml, program.daily_dose_mg_per_day) == (25, 2)
    assert status is not None and (status.status, status.closed_by) == ("confirmed", physician)
    view = client.get("/api/patients/CJFH/P003/refill").json()
    assert view["observation"]["completed_by"] is None  # the post-refill observation has started


def test_a_new_drug_is_listed_in_the_form_and_its_program_proposed(pumped: Engine, client: TestClient) -> None:
    token = log_in_as(client, Role.NURSE)
    shown = client.post("/patients/CJFH/P003/refill", data={"csrf_token": token, "action": "drugs",
                                                            "drugs": "hydromorphone", "state_version": "1"})
    assert shown.status_code == 200
    assert 'name="concentration.hydromorphone"' in shown.text and 'name="concentration.morphine"' not in shown.text
    body = NEW | {"prescribed": {"hydromorphone": "2 mg/mL"}, "concentration": {"hydromorphone": "2 mg/mL"},
                  "concentration_again": {"hydromorphone": "2 mg/mL"},
                  "therapy": {"dose": "0.4 mg/day", "bolus": "none"}}
    proposed = _post(client, REFILLS, body)
    assert proposed.status_code == 202, proposed.text
    [proposal] = client.get(PROGRAM).json()["proposals"]
    assert [r["drug"] for r in proposal["review"]["rows"]] == ["hydromorphone"]
    assert proposal["review"]["fill"]["solution"] == "hydromorphone 2 mg/mL"


def test_in_a_browser_a_nurse_proposes_a_new_concentration_and_a_physician_confirms(
        pumped: Engine, served: str, chromium_page: ChromiumPages) -> None:
    page = chromium_page(Role.NURSE, height=1000)
    page.goto(served + "/patients/CJFH/P003/refill")
    fill_refill(page, withdrawn_ml="16", concentration="25 mg/mL")
    assert "the rates must be computed again" in page.locator("fieldset.program .field-error").inner_text()
    chromium_page.shot(page, "50-refill-new-concentration-needs-dose")
    page.get_by_label("enter the program again").check()
    assert page.get_by_label("Daily dose (continuous)").input_value() == "2 mg/day"
    for _, text in CHECKLIST:
        page.get_by_label(text).check()
    page.get_by_role("button", name="Check").click()
    page.wait_for_load_state()
    assert "20 mg/mL → 25 mg/mL" in page.locator("table.review").inner_text()
    chromium_page.shot(page, "51-refill-new-concentration-review")
    page.get_by_role("button", name="Complete the refill").click()
    page.wait_for_load_state()
    assert "/program" in page.url
    assert "Refill with a new program" in page.locator("section.proposal h3").inner_text()
    chromium_page.shot(page, "52-refill-proposed")
    page.get_by_role("button", name="Log out").click()
    browser_log_in(page, served, Role.PHYSICIAN)
    page.goto(served + "/patients/CJFH/P003/program")
    page.get_by_label("morphine concentration of the new fill, entered again").fill("25 mg/mL")
    for override in page.locator("form.confirm input[name^='overrides.']").all():
        override.fill("prescribed and checked against the pharmacy record")
    chromium_page.shot(page, "53-physician-confirms-refill")
    page.get_by_role("button", name="Confirm and send to the pump").click()
    page.wait_for_load_state()
    assert "morphine 25 mg/mL" in page.locator("dl.pump").inner_text()
    page.goto(served + "/patients/CJFH/P003/refill")
    assert "Observe the patient" in page.locator("section.observation").inner_text()
    chromium_page.shot(page, "54-refill-sent-observation")
    assert chromium_page.page_errors == []


def test_the_refill_form_edits_the_new_program_s_flex_steps_and_shows_a_step_s_refusal_beside_it(
        pumped: Engine, client: TestClient) -> None:
    token = log_in_as(client, Role.NURSE)
    form = {"csrf_token": token, "state_version": "1", "withdrawn_ml": "16", "prescriber": "Dr B",
            "prescribed.morphine": "25 mg/mL", "concentration.morphine": "25 mg/mL",
            "concentration_again.morphine": "25 mg/mL", "volume_ml": "20", "checklist": EVERY_ITEM,
            "program": "change", "therapy.flex_start": ["07:00"], "therapy.flex_dose": ["2 mg/day"]}
    added = client.post("/patients/CJFH/P003/refill", data=form | {"step_edit": "add"})
    assert added.status_code == 200 and 'id="therapy-step-1"' in added.text and 'value="07:00"' in added.text
    refused = client.post("/patients/CJFH/P003/refill", data=form | {
        "action": "complete", "therapy.flex_start": ["07:00", "31:00"], "therapy.flex_dose": ["2 mg/day"] * 2})
    assert refused.status_code == 422
    row = html.unescape(refused.text).split('id="therapy-step-1"')[1].split("</tr>")[0]
    assert 'class="field-error" role="alert">program.steps[1].start=' in row
    with pumped.connect() as conn:
        assert conn.execute(select(func.count()).select_from(ProgramProposal)).scalar_one() == 0
