"""The pump state file: journal of accepted commands, replayed deterministically."""

from datetime import UTC, datetime

import pytest

from openidds.programmer import ProgrammerError, PumpState, dump_state, load_state, priming_bolus, to_command, to_entry
from openidds.programmer.state_file import FORMAT
from openidds.pump import Refill, RequestPatientBolus, SetTherapy, Solution
from openidds.pump.wire import WIRE_VERSION, PumpLog

from .conftest import DAY, program, start_order


def build() -> PumpState:
    state = PumpState(start=datetime(2026, 1, 5, 8, 0))
    pump = state.replay()
    fill = Refill(Solution.of({"morphine": "10"}), "18.6")
    state = state.with_entry(0, fill, "implant")
    state = state.with_entry(60, priming_bolus(pump.spec, pump.catheter).command())
    pump = state.replay()
    program(pump, 3600, start_order())
    state = state.with_entry(3600, SetTherapy(pump.therapy))
    return state.with_entry(7200, RequestPatientBolus())


def test_roundtrip_and_deterministic_replay():
    """STATE-REPLAY-1: dump -> load gives the same state, and replay gives a byte-identical pump log."""
    state = build()
    text = dump_state(state)
    again = load_state(text)
    assert dump_state(again) == text
    a, b = state.replay(), again.replay()
    a.advance(10 * DAY)
    b.advance(10 * DAY)
    assert a.log.to_json() == b.log.to_json()
    assert a.therapy == b.therapy


def test_commands_survive_the_entry_format():
    state = build()
    for entry in state.journal:
        assert to_entry(entry.at_s, to_command(entry), entry.note) == entry


def test_the_journal_is_wire_commands_and_the_pump_log_exports_in_the_wire_format():
    state = build()
    assert [e.command.name for e in state.journal] == ["refill", "start_bolus", "set_therapy", "request_patient_bolus"]
    log = state.pump_log(at_s=DAY)
    assert log.wire_version == WIRE_VERSION and log.clock_start == datetime(2026, 1, 5, 8, 0, tzinfo=UTC)
    replayed = state.replay()
    replayed.advance(DAY)
    assert [e.to_event() for e in PumpLog.model_validate_json(log.model_dump_json()).events] == list(replayed.log)


def test_an_old_format_file_is_refused_saying_what_to_do():
    old = '{"format": "openidds-pump-state/1", "start": "2026-01-05T08:00:00", "journal": []}'
    with pytest.raises(ProgrammerError, match="openidds program init") as error:
        load_state(old, "pump.json")
    assert error.value.field == "pump.json.format" and FORMAT in error.value.expected


def test_bad_files_are_named():
    with pytest.raises(ProgrammerError, match="valid JSON"):
        load_state("{", "pump.json")
    with pytest.raises(ProgrammerError, match=r"journal\.0"):
        load_state('{"start": "2026-01-05T08:00:00", "journal": [{"at_s": 5}]}', "pump.json")
    with pytest.raises(ProgrammerError, match="reservoir_ml"):
        load_state('{"start": "2026-01-05T08:00:00", "pump": {"reservoir_ml": 30}}', "pump.json")
    state = build()
    with pytest.raises(ProgrammerError, match="at or after the last journal entry"):
        state.with_entry(10, RequestPatientBolus())
