"""A programmer's pump state file uploaded on the import page or through the API, on SQLite and PostgreSQL:
checked against the clinic's state key the server was started with, stored for the chosen implant as `openidds
registry import --format pump-state` stores it (audited as the data manager, unchanged when uploaded again), and
then the pump the programming page works on; refused, with nothing written, when it was changed, signed with
another key, or when the server holds no key."""

from __future__ import annotations

import datetime as dt
import html
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select
from tests.clinic.pump_state_builders import first_filled

from openidds.clinic import models as m
from openidds.clinic.pump_states import read_pump_state
from openidds.errors import OpenIDDSError
from openidds.programmer import dump_state
from openidds.state_key import KEY_FILE_ENV
from openidds.web import Role
from openidds.web.app import create_app
from openidds.web.server import state_key_file

from .conftest import NOW, RESEARCH_SEED, TODAY, log_in_as, user_name

KEY = bytes(range(32))
START = dt.datetime(2023, 6, 1, 8, 0)
IMPLANT = {"site": "CJFH", "patient_id": "P003", "implant_date": "2023-01-20"}
"""P003's pump in place (its replacement, implanted 2023-01-20)."""


@pytest.fixture
def keyed(clinic: Engine) -> Iterator[TestClient]:
    """The app on the test clinic, started with the clinic's state key."""
    app = create_app(clinic, today=TODAY, clock=lambda: NOW, research_seed=RESEARCH_SEED, state_key=KEY)
    with TestClient(app) as client:
        yield client


def _upload(client: TestClient, text: str, token: str, api: bool = True, name: str = "p003.json") -> Any:
    files = [("state", (name, text.encode("utf-8"), "application/json"))]
    if api:
        return client.post("/api/import", data={"format": "pump-state", **IMPLANT}, files=files,
                           headers={"X-CSRF-Token": token})
    return client.post("/import", data={"csrf_token": token, "format": "pump-state", **IMPLANT}, files=files)


def _stored(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(m.ImplantPumpState)).scalar_one())


def test_a_signed_state_file_is_stored_for_its_implant_and_becomes_the_pump_the_clinic_programs(
        keyed: TestClient, clinic: Engine) -> None:
    state = first_filled(START)
    token = log_in_as(keyed, Role.DATA_MANAGER)
    response = _upload(keyed, dump_state(state, KEY), token)
    assert response.status_code == 200, response.text
    assert response.json()["inserted"] == {"pump_states": 1}
    stored = read_pump_state(clinic, "CJFH", "P003")
    assert stored is not None and stored.state == state and stored.updated_by == user_name(Role.DATA_MANAGER)
    with clinic.connect() as conn:
        entry = conn.execute(select(m.AuditEntry).where(m.AuditEntry.table_name == "pump_states")).one()
    assert (entry.user_name, entry.action, entry.source) == (user_name(Role.DATA_MANAGER), "insert", "p003.json")
    page = _upload(keyed, dump_state(state, KEY), token, api=False)
    assert page.status_code == 200 and 'id="imported"' in page.text and "pump_states" in page.text
    assert _stored(clinic) == 1  # the same file again changes nothing
    log_in_as(keyed, Role.NURSE)
    program = keyed.get("/api/patients/CJFH/P003/program").json()
    assert program["pump"] is not None and "morphine" in str(program["pump"])


@pytest.mark.parametrize("tamper", ["edited", "other key", "not a state"])
def test_a_changed_or_foreign_state_file_is_refused_beside_its_reason_and_nothing_is_written(
        keyed: TestClient, clinic: Engine, tamper: str) -> None:
    signed = dump_state(first_filled(START), KEY)
    text = {"edited": signed.replace('"volume_ml": "20"', '"volume_ml": "30"'),
            "other key": dump_state(first_filled(START), bytes(32)),
            "not a state": '{"format": "something else"}'}[tamper]
    token = log_in_as(keyed, Role.DATA_MANAGER)
    api = _upload(keyed, text, token)
    assert api.status_code == 422 and api.json()["field"], api.text
    page = _upload(keyed, text, token, api=False)
    assert page.status_code == 422 and "Not imported." in page.text
    if tamper == "edited":
        assert "journal[0].command.volume_ml changed" in html.unescape(page.text)
    assert _stored(clinic) == 0


def test_a_server_without_the_state_key_refuses_a_state_file_and_says_how_to_start_one(
        client: TestClient, clinic: Engine) -> None:
    token = log_in_as(client, Role.DATA_MANAGER)
    assert 'id="no-state-key"' in client.get("/import").text
    refused = _upload(client, dump_state(first_filled(START), KEY), token)
    assert refused.status_code == 422 and refused.json()["field"] == "state key"
    assert "openidds web serve --key-file" in refused.json()["message"]
    assert _stored(clinic) == 0


def test_only_the_data_manager_uploads_a_state_file(keyed: TestClient, clinic: Engine) -> None:
    for role in (Role.NURSE, Role.PHYSICIAN, Role.RESEARCHER):
        token = log_in_as(keyed, role)
        assert _upload(keyed, dump_state(first_filled(START), KEY), token).status_code == 403
    assert _stored(clinic) == 0


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_the_server_finds_its_key_file_as_the_programmer_does_and_refuses_an_unusable_one(
        clinic: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv(KEY_FILE_ENV, raising=False)
    assert state_key_file(None) is None  # no key anywhere: uploads are refused, the server starts
    key = tmp_path / "clinic.key"
    key.write_bytes(KEY)
    key.chmod(0o600)
    assert state_key_file(key) == key
    monkeypatch.setenv(KEY_FILE_ENV, str(key))
    assert state_key_file(None) == key
    key.chmod(0o644)
    with pytest.raises(OpenIDDSError, match="chmod 600") as shared:
        state_key_file(key)
    assert shared.value.field == "--key-file"
    with pytest.raises(OpenIDDSError, match="state key file") as missing:
        state_key_file(tmp_path / "none.key")
    assert missing.value.field == "--key-file"
