"""The registry's pump states (table ``pump_states``) on SQLite and PostgreSQL: stored for the pump in place, audited,
replaced only by a state that continues the stored one; and the CLI import of a programmer's state file."""

from __future__ import annotations

import datetime as dt
import json
import os
from pathlib import Path

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session
from tests.cli.invoke import invoke
from tests.clinic.pump_state_builders import first_filled

from openidds.cli import registry
from openidds.clinic import import_batch, read_paths
from openidds.clinic.errors import RegistryError, UnknownRecord
from openidds.clinic.models import AuditEntry, ImplantPumpState
from openidds.clinic.pump_states import Outcome, put_pump_state, read_pump_state
from openidds.programmer import dump_state
from openidds.pump import RequestPatientBolus

START = dt.datetime(2023, 6, 1, 8, 0)


@pytest.fixture
def clinic(engine: Engine, data_dir: Path) -> Engine:
    import_batch(engine, read_paths([data_dir / "good"]), "test", source="good")
    return engine


def test_a_state_is_stored_for_the_pump_in_place_audited_and_read_back(clinic: Engine) -> None:
    state = first_filled(START)
    assert put_pump_state(clinic, "CJFH", "P003", state, "RN Import", source="p003.json") is Outcome.INSERTED
    stored = read_pump_state(clinic, "CJFH", "P003")
    assert stored is not None and stored.state == state and stored.version == 1 and stored.updated_by == "RN Import"
    with Session(clinic) as session:
        row = session.scalars(select(ImplantPumpState.implant_id)).one()
        entry = session.scalars(select(AuditEntry).where(AuditEntry.table_name == "pump_states")).one()
    assert entry.user_name == "RN Import" and entry.action == "insert" and entry.source == "p003.json"
    assert entry.after["implant_id"] == row and entry.after["state"]["journal"][0]["command"]["name"] == "refill"
    assert put_pump_state(clinic, "CJFH", "P003", state, "RN Import") is Outcome.UNCHANGED
    assert read_pump_state(clinic, "CJFH", "P001") is None


def test_a_state_that_continues_the_stored_one_replaces_it_and_no_other_does(clinic: Engine) -> None:
    state = first_filled(START)
    put_pump_state(clinic, "CJFH", "P003", state, "RN Import")
    later = state.with_sent(7200, RequestPatientBolus(), "patient", "pressed", "patient pressed")
    assert put_pump_state(clinic, "CJFH", "P003", later, "RN Import") is Outcome.UPDATED
    stored = read_pump_state(clinic, "CJFH", "P003")
    assert stored is not None and stored.version == 2 and len(stored.state.journal) == 2
    with pytest.raises(RegistryError, match="continues the one stored") as refused:
        put_pump_state(clinic, "CJFH", "P003", state, "RN Import")  # the older file
    assert refused.value.field == "state"
    with pytest.raises(RegistryError, match="continues the one stored"):
        put_pump_state(clinic, "CJFH", "P003", first_filled(START + dt.timedelta(days=1)), "RN Import")
    assert read_pump_state(clinic, "CJFH", "P003") == stored


def test_a_state_that_does_not_fit_the_implant_is_refused(clinic: Engine) -> None:
    with pytest.raises(RegistryError, match="40 mL") as other_size:
        put_pump_state(clinic, "CJFH", "P003", first_filled(START, reservoir_ml=20, volume_ml="18"), "RN Import")
    assert other_size.value.field == "pump.reservoir_ml"
    with pytest.raises(RegistryError, match="on or after the implant date"):
        put_pump_state(clinic, "CJFH", "P003", first_filled(dt.datetime(2023, 1, 1, 8)), "RN Import")
    with pytest.raises(UnknownRecord, match="pump in place"):  # P002 has exited
        put_pump_state(clinic, "CJFH", "P002", first_filled(START, reservoir_ml=20, volume_ml="18"), "RN Import")
    with pytest.raises(UnknownRecord, match="a patient in the registry"):
        put_pump_state(clinic, "CJFH", "P999", first_filled(START), "RN Import")
    with clinic.connect() as conn:
        assert conn.execute(select(ImplantPumpState)).all() == []


def test_cli_imports_a_signed_state_file_for_a_patient(clinic: Engine, tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    key = tmp_path / "state.key"
    key.write_bytes(os.urandom(32))
    key.chmod(0o600)
    path = tmp_path / "p003.json"
    path.write_text(dump_state(first_filled(START), key.read_bytes()), encoding="utf-8")
    db = clinic.url.render_as_string(hide_password=False)
    args = ("import", "--format", "pump-state", path, "--patient", "CJFH/P003", "--db", db,
            "--key-file", key, "--user", "RN Import", "--json")
    result = invoke(registry.app, *args)
    assert result.exit_code == 0, result.output
    assert json.loads(result.output) == {"inserted": {"pump_states": 1}}
    assert json.loads(invoke(registry.app, *args).output) == {"unchanged": {"pump_states": 1}}
    edited = path.read_text(encoding="utf-8").replace('"volume_ml": "20"', '"volume_ml": "30"')
    path.write_text(edited, encoding="utf-8")
    refused = invoke(registry.app, *args)
    assert refused.exit_code == 2 and "journal[0].command.volume_ml changed" in refused.output
    missing = invoke(registry.app, "import", "--format", "pump-state", path, "--db", db, "--key-file", key)
    assert missing.exit_code == 2 and "--patient SITE/ID" in missing.output

