"""The example clinic's pumps in the web app: the virtual clinic's own programmer states, loaded with the example,
are what the refill and programming pages work on, so that a nurse can refill an overdue pump of the example as
`openidds web serve --example` serves it."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from openidds.clinic import connect
from openidds.clinic.examples import EXAMPLE_CUTOFF, EXAMPLE_PUMP_STATES, load_example
from openidds.clinic.models import Implant, Patient, Refill
from openidds.clinic.pump_states import read_pump_state
from openidds.programmer import CHECKLIST
from openidds.web import Role
from openidds.web.accounts import add_user
from openidds.web.app import create_app

from .conftest import form_token, log_in

NOW = dt.datetime.combine(EXAMPLE_CUTOFF, dt.time(9))
SECRET = "example clinic passphrase"
OVERDUE = ("VIRTUAL-01", "S00117")
"""A patient of the example whose refill is overdue on the clinic day (due 2025-06-13, by its reservoir)."""


@pytest.fixture(scope="module")
def example(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    """The example registry as `openidds web serve --example` loads it, with a nurse and a physician."""
    engine = connect(str(tmp_path_factory.mktemp("example") / "example.sqlite"))
    load_example(engine)
    for name, role in (("nina", Role.NURSE), ("phil", Role.PHYSICIAN)):
        add_user(engine, name, role, SECRET, NOW, "test")
    yield engine
    engine.dispose()


@pytest.fixture
def client(example: Engine) -> Iterator[TestClient]:
    with TestClient(create_app(example, today=EXAMPLE_CUTOFF, clock=lambda: NOW)) as test_client:
        yield test_client


def _token(client: TestClient, name: str) -> str:
    client.cookies.clear()
    assert log_in(client, name, SECRET).status_code == 303
    return form_token(client.get("/me").text)


def test_every_pump_in_place_of_the_example_opens_on_the_refill_and_programming_pages(
        example: Engine, client: TestClient) -> None:
    _token(client, "nina")
    patients = sorted((p.parent.parent.name, p.parent.name) for p in EXAMPLE_PUMP_STATES.glob("*/*/*.json"))
    assert OVERDUE in patients
    for site, patient_id in patients:
        view = client.get(f"/api/patients/{site}/{patient_id}/refill")
        assert view.status_code == 200, (site, patient_id, view.text)
        assert view.json()["observation"]["completed_by"] == "Synthetic nurse"
        assert client.get(f"/api/patients/{site}/{patient_id}/program").status_code == 200
    page = client.get(f"/patients/{'/'.join(OVERDUE)}/refill").text
    assert "Withdraw the residual" in page and "No pump state is stored" not in page


def test_a_nurse_refills_the_overdue_pump_of_the_example(example: Engine, client: TestClient) -> None:
    """The pump the virtual clinic left, refilled through the web app with its own expected residual and
    solution: the state moves on and the registry gets the refill row."""
    site, patient_id = OVERDUE
    api = f"/api/patients/{site}/{patient_id}"
    token = _token(client, "nina")
    view = client.get(api + "/refill").json()
    [drug] = view["drugs"]
    solution = {drug["drug"]: drug["concentration"]}
    body = {"state_version": view["pump"]["version"], "withdrawn_ml": view["expected_ml"], "prescriber": "Dr Example",
            "prescribed": solution, "concentration": solution, "concentration_again": solution,
            "volume_ml": "38.6", "checklist": [item for item, _ in CHECKLIST]}
    checked = client.post(api + "/refill/check", json=body, headers={"X-CSRF-Token": token}).json()
    assert checked["error"] is None, checked
    body["overrides"] = {f["id"]: "accepted for the example" for f in checked["review"]["findings"]
                         if f["level"] == "soft"}
    done = client.post(api + "/refills", json=body, headers={"X-CSRF-Token": token})
    assert done.status_code == 201, done.text
    stored = read_pump_state(example, site, patient_id)
    assert stored is not None and stored.version == view["pump"]["version"] + 1 and stored.updated_by == "nina"
    with Session(example) as session:
        last = session.scalars(select(Refill).join(Implant).join(Patient)
                               .where(Patient.patient_code == patient_id).order_by(Refill.refilled_at.desc())).first()
    assert last is not None and last.refilled_at.date() == EXAMPLE_CUTOFF and last.volume_added_ml == 38.6
