"""Weekday flex steps and periodic doses in the programming review, on SQLite and PostgreSQL: a nurse proposes
them (the JSON API and the form take the same order), the programmer reviews them, a physician confirms and the
pump runs them; a bad weekday or periodic field is refused beside that field, nothing stored; a refill's new
program takes them too. In a real Chromium a nurse ticks the weekdays of a step and fills in a periodic dose, and a
physician confirms each."""

from __future__ import annotations

import html
import re
from fractions import Fraction
from typing import Any

import pytest
from fastapi.testclient import TestClient
from playwright.sync_api import Page
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from openidds.clinic.models import PumpProgram
from openidds.clinic.pump_states import read_pump_state
from openidds.programmer import CHECKLIST
from openidds.pump import Flex, FlexStep, Periodic, Pump
from openidds.web import Role

from .conftest import NOW, ChromiumPages, log_in_as, proposal_count

PROGRAM = "/api/patients/CJFH/P003/program"
PAGE = "/patients/CJFH/P003/program"
WEEKEND = {"flex": [{"start": "00:00", "dose": "2 mg/day"},
                    {"start": "08:00", "dose": "3 mg/day", "days": ["sat", "sun"]},
                    {"start": "20:00", "dose": "2 mg/day", "days": ["sat", "sun"]}],
           "concentration": "20 mg/mL", "note": "more at weekends, when he gardens"}
"""CJFH/P003's pump holds morphine 20 mg/mL at 2 mg/day: 3 mg/day from 08:00 to 20:00 on Saturdays and Sundays."""
PERIODIC = {"periodic": {"dose": "0.6 mg", "duration_min": 30, "every_h": 8, "offset_h": "6"},
            "concentration": "20 mg/mL", "note": "periodic doses, as in the trial"}
"""0.6 mg (0.03 mL) over 30 minutes every 8 hours from Monday 06:00: 1.8 mg/day."""


def _running(engine: Engine) -> Pump:
    stored = read_pump_state(engine, "CJFH", "P003")
    assert stored is not None
    return stored.state.replay()


def _propose_and_confirm(client: TestClient, order: dict[str, Any]) -> dict[str, Any]:
    """The order proposed by a nurse and confirmed by a physician (each soft finding accepted); the proposal as
    the review showed it."""
    token = log_in_as(client, Role.NURSE)
    proposed = client.post(PROGRAM + "/proposals", json=order, headers={"X-CSRF-Token": token})
    assert proposed.status_code == 201, proposed.text
    [proposal] = client.get(PROGRAM).json()["proposals"]
    soft = [f["id"] for f in proposal["review"]["findings"] if f["level"] == "soft"]
    token = log_in_as(client, Role.PHYSICIAN)
    done = client.post(f"{PROGRAM}/proposals/{proposal['id']}/confirm", headers={"X-CSRF-Token": token},
                       json={"concentration_again": "20 mg/mL", "overrides": {f: "discussed with him" for f in soft}})
    assert done.status_code == 200, done.text
    return dict(proposal)


def test_a_weekday_flex_program_is_reviewed_confirmed_and_run(pumped: Engine, client: TestClient) -> None:
    proposal = _propose_and_confirm(client, WEEKEND)
    assert proposal["review"]["program"] == ("flex 00:00 0.1 mL/day, 08:00 0.15 mL/day (sat/sun), "
                                             "20:00 0.1 mL/day (sat/sun)")
    assert proposal["order"]["flex"][1]["days"] == ["sat", "sun"]
    [row] = proposal["review"]["rows"]
    assert row["daily_new"] == "2.5 mg/day"  # the largest day: 12 h at 3 mg/day and 12 h at 2 mg/day
    pump = _running(pumped)
    assert pump.therapy is not None and pump.therapy.program == Flex((
        FlexStep("00:00", Fraction("0.1")), FlexStep("08:00", Fraction("0.15"), ("sat", "sun")),
        FlexStep("20:00", Fraction("0.1"), ("sat", "sun"))))
    with Session(pumped) as session:
        [stored] = session.scalars(select(PumpProgram).where(PumpProgram.started_at == NOW)).all()
    assert (stored.mode, stored.daily_dose_mg_per_day) == ("flex", 2.5)
    page = html.unescape(client.get(PAGE).text)
    assert "<dt>Program</dt><dd>flex 00:00 0.1 mL/day, 08:00 0.15 mL/day (sat/sun), 20:00 0.1 mL/day (sat/sun)" in page


def test_a_periodic_program_is_reviewed_confirmed_and_run(pumped: Engine, client: TestClient) -> None:
    proposal = _propose_and_confirm(client, PERIODIC)
    assert proposal["review"]["program"] == "periodic 0.03 mL over 30 min every 8 h from Mon 06:00"
    assert proposal["order"]["periodic"] == {"dose": "0.6 mg", "duration_min": 30, "every_h": 8, "offset_h": "6"}
    assert [c["field"] for c in proposal["review"]["conversions"]] == ["periodic.dose", "patient_bolus.dose"]
    [row] = proposal["review"]["rows"]
    assert row["daily_new"] == "1.8 mg/day"
    pump = _running(pumped)
    assert pump.therapy is not None and pump.therapy.program == Periodic(Fraction("0.03"), 1800, 28800, 21600)
    with Session(pumped) as session:
        [stored] = session.scalars(select(PumpProgram).where(PumpProgram.started_at == NOW)).all()
    assert (stored.mode, stored.daily_dose_mg_per_day) == (None, 1.8)  # the registry's modes: continuous, flex
    page = html.unescape(client.get(PAGE).text)
    assert "<dt>Program</dt><dd>periodic 0.03 mL over 30 min every 8 h" in page


def _form(token: str, **more: Any) -> dict[str, Any]:
    return {"csrf_token": token, "concentration": "20 mg/mL", **more}


def test_the_form_posts_the_same_order_as_the_api(pumped: Engine, client: TestClient) -> None:
    token = log_in_as(client, Role.NURSE)
    posted = client.post(PAGE + "/proposals", data=_form(
        token, flex_start=["00:00", "08:00", "20:00"], flex_dose=["2 mg/day", "3 mg/day", "2 mg/day"],
        note=WEEKEND["note"], **{"flex[1].days": ["sat", "sun"], "flex[2].days": ["sat", "sun"]}),
        follow_redirects=False)
    assert posted.status_code == 303, posted.text
    token = log_in_as(client, Role.NURSE)
    posted = client.post(PAGE + "/proposals", data=_form(token, note=PERIODIC["note"], **{
        "periodic.dose": "0.6 mg", "periodic.duration_min": "30", "periodic.every_h": "8", "periodic.offset_h": "6"}),
        follow_redirects=False)
    assert posted.status_code == 303, posted.text
    weekend, periodic = client.get(PROGRAM).json()["proposals"]
    assert {k: v for k, v in weekend["order"].items() if k in WEEKEND} == WEEKEND | {
        "flex": [{"days": []} | step for step in WEEKEND["flex"]]}
    assert {k: v for k, v in periodic["order"].items() if k in PERIODIC} == PERIODIC
    assert weekend["order"]["periodic"] is None and periodic["order"]["flex"] == []
    page = html.unescape(client.get(PAGE).text)
    assert "Entered: flex steps: 00:00 2 mg/day every day; 08:00 3 mg/day sat/sun; 20:00 2 mg/day sat/sun" in page
    assert "Entered: periodic: 0.6 mg over 30 min every 8 h, the week's first 6 h after Monday 00:00" in page


def _beside(page: str, field: str) -> str:
    """The refusal shown beside the form field ``field``: in a flex step's row, or right after the field."""
    step = re.match(r"flex\[(\d+)\]", field)
    after = page.split(f'id="step-{step[1]}"')[1].split("</tr>")[0] if step else page.split(f'name="{field}"')[-1]
    found = re.search(r'class="field-error" role="alert">([^<]*)<', after)
    assert found is not None, f"no refusal after {field}"
    return found[1]


@pytest.mark.parametrize(("more", "field", "says"), [
    ({"flex_start": ["00:00", "08:00"], "flex_dose": ["2 mg/day", "3 mg/day"], "flex[1].days": ["sat", "sunday"]},
     "flex[1].days", "Input should be 'mon'"),
    ({"flex_start": ["08:00", "08:00"], "flex_dose": ["2 mg/day", "3 mg/day"], "flex[0].days": ["sat"]},
     "flex[1].start", "a start that no other step has on sat"),
    ({"periodic.dose": "0.6 mg", "periodic.duration_min": "30", "periodic.every_h": "0"}, "periodic.every_h",
     "greater than or equal to 1"),
    ({"periodic.dose": "0.6 mg", "periodic.every_h": "8"}, "periodic.duration_min", "required"),
    ({"periodic.dose": "0.6 mg", "periodic.duration_min": "30", "periodic.every_h": "8",
      "periodic.offset_h": "9"}, "periodic.offset_h", "fewer hours than the interval, 8 h"),
    ({"periodic.dose": "600 mcg", "periodic.duration_min": "30", "periodic.every_h": "8"}, "periodic.dose",
     "a dose in mg"),
    ({"periodic.dose": "0.6 mg", "periodic.duration_min": "30", "periodic.every_h": "8", "dose": "2 mg/day"},
     "dose", "one of a daily dose, flex steps, a periodic dose or stop"),
])
def test_a_bad_schedule_is_refused_beside_its_field_and_nothing_is_stored(
        pumped: Engine, client: TestClient, more: dict[str, Any], field: str, says: str) -> None:
    token = log_in_as(client, Role.NURSE)
    page = client.post(PAGE + "/proposals", data=_form(token, **more))
    assert page.status_code == 422
    text = html.unescape(page.text)
    assert says in _beside(text, field)
    assert proposal_count(pumped) == 0
    if field.startswith("periodic."):
        assert 'value="0.6 mg"' in text or 'value="600 mcg"' in text  # the entry is shown again as posted


def test_a_refill_s_new_program_may_be_periodic(pumped: Engine, client: TestClient) -> None:
    token = log_in_as(client, Role.NURSE)
    body = {"state_version": 1, "withdrawn_ml": "16", "prescriber": "Dr B", "prescribed": {"morphine": "25 mg/mL"},
            "concentration": {"morphine": "25 mg/mL"}, "concentration_again": {"morphine": "25 mg/mL"},
            "volume_ml": "20", "checklist": [item for item, _ in CHECKLIST],
            "therapy": {"periodic": {"dose": "0.5 mg", "duration_min": 20, "every_h": 12}}}
    refused = client.post("/api/patients/CJFH/P003/refills", headers={"X-CSRF-Token": token},
                          json=body | {"therapy": {"periodic": body["therapy"]["periodic"] | {"every_h": 200}}})
    assert refused.status_code == 422
    proposed = client.post("/api/patients/CJFH/P003/refills", json=body, headers={"X-CSRF-Token": token})
    assert proposed.status_code == 202, proposed.text
    [proposal] = client.get(PROGRAM).json()["proposals"]
    assert proposal["kind"] == "refill"
    assert proposal["review"]["program"] == "periodic 0.02 mL over 20 min every 12 h from Mon 00:00"
    form = {"csrf_token": token, "action": "complete", "state_version": "1", "withdrawn_ml": "16",
            "prescriber": "Dr B", "prescribed.morphine": "25 mg/mL", "concentration.morphine": "25 mg/mL",
            "concentration_again.morphine": "25 mg/mL", "volume_ml": "20", "checklist": body["checklist"],
            "program": "change", "therapy.periodic.dose": "0.5 mg", "therapy.periodic.duration_min": "20",
            "therapy.periodic.every_h": "12", "therapy.periodic.offset_h": "12"}
    page = client.post("/patients/CJFH/P003/refill", data=form)
    assert page.status_code == 422
    assert "fewer hours than the interval, 12 h" in _beside(html.unescape(page.text), "therapy.periodic.offset_h")


# ---------------------------------------------------------------------- in a browser


def _confirm(page: Page, served: str, chromium_page: ChromiumPages, shot: str) -> None:
    """A physician (logged in on ``page``) confirms the open proposal: the concentration again, a reason for each
    soft finding."""
    page.goto(served + PAGE)
    proposal = page.locator("section.proposal")
    proposal.get_by_label("concentration in the pump, entered again").fill("20 mg/mL")
    for why in proposal.get_by_label(re.compile("^Why accept")).all():
        why.fill("discussed with the patient")
    chromium_page.shot(page, shot)
    proposal.get_by_role("button", name="Confirm and send to the pump").click()
    page.wait_for_load_state()


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_in_a_browser_weekday_steps_and_a_periodic_dose_are_proposed_and_confirmed(
        pumped: Engine, served: str, chromium_page: ChromiumPages) -> None:
    nurse = chromium_page(Role.NURSE, height=1000)
    nurse.goto(served + PAGE)
    nurse.get_by_label("Daily dose (continuous)").fill("")
    for _ in range(3):
        nurse.get_by_role("button", name="Add a step").click()
        nurse.wait_for_load_state()
    for i, (start, dose) in enumerate([("00:00", "2 mg/day"), ("08:00", "3 mg/day"), ("20:00", "2 mg/day")],
                                      start=1):
        nurse.get_by_label(f"step {i} start").fill(start)
        nurse.get_by_label(f"step {i} daily dose").fill(dose)
    for i in (2, 3):
        nurse.get_by_label(f"step {i} on Sat").check()
        nurse.get_by_label(f"step {i} on Sun").check()
    nurse.get_by_label("Concentration of that drug in the pump (first entry)").fill("20 mg/mL")
    nurse.get_by_label("Why", exact=True).fill("more at weekends")
    chromium_page.shot(nurse, "50-weekday-steps-entered")
    nurse.get_by_role("button", name="Propose").click()
    nurse.wait_for_load_state()
    proposal = nurse.locator("section.proposal").inner_text()
    assert "Entered: flex steps: 00:00 2 mg/day every day; 08:00 3 mg/day sat/sun" in proposal
    assert "New program: flex 00:00 0.1 mL/day, 08:00 0.15 mL/day (sat/sun)" in proposal
    chromium_page.shot(nurse, "51-weekday-steps-proposed")

    physician = chromium_page(Role.PHYSICIAN, height=1000)
    _confirm(physician, served, chromium_page, "52-weekday-steps-to-confirm")
    assert "(sat/sun)" in physician.locator("dl.pump").inner_text()
    assert physician.locator("section.proposal").count() == 0

    nurse.goto(served + PAGE)
    nurse.get_by_label("Each dose").fill("0.6 mg")
    nurse.get_by_label("Each over (min)").fill("30")
    nurse.get_by_label("Every (h)").fill("8")
    nurse.get_by_label("First dose of the week").fill("9")
    nurse.get_by_label("Concentration of that drug in the pump (first entry)").fill("20 mg/mL")
    nurse.get_by_role("button", name="Propose").click()
    nurse.wait_for_load_state()
    assert "fewer hours than the interval" in nurse.locator(
        "input[name='periodic.offset_h'] + .field-error").inner_text()
    chromium_page.shot(nurse, "53-periodic-refused")
    nurse.get_by_label("First dose of the week").fill("6")
    nurse.get_by_label("Concentration of that drug in the pump (first entry)").fill("20 mg/mL")
    nurse.get_by_role("button", name="Propose").click()
    nurse.wait_for_load_state()
    assert "New program: periodic 0.03 mL over 30 min every 8 h" in nurse.locator(
        "section.proposal").inner_text()

    _confirm(physician, served, chromium_page, "54-periodic-to-confirm")
    assert "periodic 0.03 mL over 30 min every 8 h" in physician.locator("dl.pump").inner_text()
    chromium_page.shot(physician, "55-periodic-running")
    assert chromium_page.page_errors == []
    pump = _running(pumped)
    assert pump.therapy is not None and pump.therapy.program == Periodic(Fraction("0.03"), 1800, 28800, 21600)
