"""Flex programs in the programming review, on SQLite and PostgreSQL: a nurse proposes day-part steps (start time
and daily dose), the programmer reviews them, a physician confirms and the pump runs the flex program; a bad step
is refused beside that step; the form's buttons add and remove a step without storing anything."""

from __future__ import annotations

import html
from fractions import Fraction
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from openidds.clinic.models import PumpProgram
from openidds.clinic.pump_states import read_pump_state
from openidds.pump import Flex
from openidds.web import Role

from .conftest import NOW, ChromiumPages, log_in_as, proposal_count

PROGRAM = "/api/patients/CJFH/P003/program"
PAGE = "/patients/CJFH/P003/program"
FLEX = {"flex": [{"start": "00:00", "dose": "2 mg/day"}, {"start": "08:00", "dose": "2.4 mg/day"},
                 {"start": "20:00", "dose": "2 mg/day"}],
        "concentration": "20 mg/mL", "note": "more in the day, when she is up"}
"""CJFH/P003's pump holds morphine 20 mg/mL at 2 mg/day: these steps give 2.4 mg/day from 08:00 to 20:00."""


def test_a_flex_program_is_proposed_reviewed_and_confirmed(pumped: Engine, client: TestClient) -> None:
    token = log_in_as(client, Role.NURSE)
    proposed = client.post(PROGRAM + "/proposals", json=FLEX, headers={"X-CSRF-Token": token})
    assert proposed.status_code == 201, proposed.text
    [proposal] = client.get(PROGRAM).json()["proposals"]
    review = proposal["review"]
    assert review["program"] == "flex 00:00 0.1 mL/day, 08:00 0.12 mL/day, 20:00 0.1 mL/day"
    assert [c["field"] for c in review["conversions"]] == ["flex[00:00].dose", "flex[08:00].dose",
                                                           "flex[20:00].dose", "patient_bolus.dose"]
    assert proposal["order"]["flex"] == [step | {"days": []} for step in FLEX["flex"]]
    soft = [f["id"] for f in review["findings"] if f["level"] == "soft"]
    token = log_in_as(client, Role.PHYSICIAN)
    done = client.post(f"{PROGRAM}/proposals/{proposal['id']}/confirm", headers={"X-CSRF-Token": token},
                       json={"concentration_again": "20 mg/mL", "overrides": {f: "pharmacy record seen" for f in soft}})
    assert done.status_code == 200, done.text
    stored = read_pump_state(pumped, "CJFH", "P003")
    assert stored is not None
    pump = stored.state.replay()
    assert pump.therapy is not None and isinstance(pump.therapy.program, Flex)
    assert [(s.start, Fraction(s.rate_ml_per_day)) for s in pump.therapy.program.steps] == [
        ("00:00", Fraction("0.1")), ("08:00", Fraction("0.12")), ("20:00", Fraction("0.1"))]
    with Session(pumped) as session:
        [row] = session.scalars(select(PumpProgram).where(PumpProgram.started_at == NOW)).all()
    assert row.mode == "flex" and row.drug == "morphine"


@pytest.mark.parametrize(("steps", "field", "expected"), [
    ([{"start": "00:00", "dose": "2 mg/day"}, {"start": "25:00", "dose": "2.4 mg/day"}], "flex[1].start", "HH:MM"),
    ([{"start": "00:00", "dose": "2 mcg/day"}, {"start": "08:00", "dose": "2.4 mg/day"}], "flex[0].dose",
     "mg/day"),
    ([{"start": "00:00", "dose": "2 mg/day"}, {"start": "08:00", "dose": "lots"}], "flex[1].dose", "lots"),
    ([{"start": "08:00", "dose": "2 mg/day"}, {"start": "08:00", "dose": "2.4 mg/day"}], "flex[1].start",
     "no other step"),
])
def test_a_bad_step_is_refused_beside_that_step(pumped: Engine, client: TestClient, steps: list[dict[str, str]],
                                                field: str, expected: str) -> None:
    token = log_in_as(client, Role.NURSE)
    response = client.post(PROGRAM + "/proposals", json=FLEX | {"flex": steps}, headers={"X-CSRF-Token": token})
    assert response.status_code == 422 and response.json()["form_field"] == field, response.text
    assert expected in response.json()["message"]
    form = {"csrf_token": token, "concentration": "20 mg/mL", "flex_start": [s["start"] for s in steps],
            "flex_dose": [s["dose"] for s in steps]}
    page = client.post(PAGE + "/proposals", data=form)
    assert page.status_code == 422
    i = int(field[5])
    row = html.unescape(page.text).split(f'id="step-{i}"')[1].split("</tr>")[0]
    assert f'class="field-error" role="alert">{response.json()["message"]}' in row
    assert proposal_count(pumped) == 0


def test_a_dose_and_flex_steps_together_are_refused(pumped: Engine, client: TestClient) -> None:
    token = log_in_as(client, Role.NURSE)
    response = client.post(PROGRAM + "/proposals", json=FLEX | {"dose": "2 mg/day"}, headers={"X-CSRF-Token": token})
    assert response.status_code == 422 and response.json()["form_field"] == "dose"
    assert "one of a daily dose, flex steps, a periodic dose or stop" in response.json()["message"]


def _form(token: str, steps: list[tuple[str, str]], **more: Any) -> dict[str, Any]:
    return {"csrf_token": token, "concentration": "20 mg/mL", "flex_start": [s for s, _ in steps],
            "flex_dose": [d for _, d in steps], **more}


def test_the_step_buttons_add_and_remove_a_step_and_store_nothing(pumped: Engine, client: TestClient) -> None:
    token = log_in_as(client, Role.NURSE)
    added = client.post(PAGE + "/proposals", data=_form(token, [("00:00", "2 mg/day")], step_edit="add"))
    assert added.status_code == 200
    assert 'value="00:00"' in added.text and 'id="step-1"' in added.text and 'id="step-2"' not in added.text
    removed = client.post(PAGE + "/proposals", data=_form(token, [("00:00", "2 mg/day"), ("08:00", "2.4 mg/day"),
                                                                  ("20:00", "2 mg/day")], step_edit="remove-1"))
    assert removed.status_code == 200
    assert 'value="08:00"' not in removed.text and 'value="20:00"' in removed.text and 'id="step-2"' not in removed.text
    assert proposal_count(pumped) == 0


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_in_a_browser_a_nurse_builds_flex_steps_and_proposes_them(pumped: Engine, served: str,
                                                                  chromium_page: ChromiumPages) -> None:
    page = chromium_page(Role.NURSE, height=1000)
    page.goto(served + PAGE)
    for _ in range(3):
        page.get_by_role("button", name="Add a step").click()
        page.wait_for_load_state()
    for i, (start, dose) in enumerate([("00:00", "2 mg/day"), ("08:00", "2.4 mg/day"),
                                       ("26:00", "2 mg/day")], start=1):
        page.get_by_label(f"step {i} start").fill(start)
        page.get_by_label(f"step {i} daily dose").fill(dose)
    page.get_by_label("Concentration of that drug in the pump (first entry)").fill("20 mg/mL")
    page.get_by_role("button", name="Propose").click()
    page.wait_for_load_state()
    assert "HH:MM" in page.locator("#step-2 .field-error").inner_text()
    chromium_page.shot(page, "40-flex-step-refused")
    page.get_by_role("button", name="Remove step 3").click()
    page.wait_for_load_state()
    assert page.get_by_label("step 3 start").count() == 0
    page.get_by_label("Concentration of that drug in the pump (first entry)").fill("20 mg/mL")
    page.get_by_role("button", name="Propose").click()
    page.wait_for_load_state()
    proposal = page.locator("section.proposal").inner_text()
    assert "New program: flex 00:00 0.1 mL/day, 08:00 0.12 mL/day" in proposal
    chromium_page.shot(page, "41-flex-proposed")
    assert chromium_page.page_errors == []
