"""The pump state file: journal of accepted commands, replayed deterministically, signed with the clinic's key."""

import codecs
import json
from datetime import UTC, datetime

import pytest

from openidds.programmer import ProgrammerError, PumpState, dump_state, load_state, priming_bolus, to_command, to_entry
from openidds.programmer.state_file import FORMAT, SENT, decode_state
from openidds.pump import Refill, RequestPatientBolus, SetTherapy, Solution
from openidds.pump.wire import WIRE_VERSION, PumpLog

from .conftest import DAY, program, start_order

KEY = bytes(range(32))
OTHER_KEY = bytes(range(1, 33))


def build() -> PumpState:
    state = PumpState(start=datetime(2026, 1, 5, 8, 0))
    pump = state.replay()
    fill = Refill(Solution.of({"morphine": "10"}), "18.6")
    state = state.with_sent(0, fill, "RN C", "implant fill", "implant")
    state = state.with_sent(60, priming_bolus(pump.spec, pump.catheter).command(), "Dr B", "priming bolus")
    pump = state.replay()
    program(pump, 3600, start_order())
    state = state.with_sent(3600, SetTherapy(pump.therapy), "Dr B", "start dose")
    return state.with_sent(7200, RequestPatientBolus(), "patient", "bolus started")


def edited(text: str, edit) -> str:
    data = json.loads(text)
    edit(data)
    return json.dumps(data, indent=2)


def refusal(text: str, key: bytes = KEY) -> ProgrammerError:
    with pytest.raises(ProgrammerError) as error:
        load_state(text, "pump.json", key=key)
    return error.value


def test_roundtrip_and_deterministic_replay():
    """STATE-REPLAY-1: dump -> load gives the same state, and replay gives a byte-identical pump log."""
    state = build()
    text = dump_state(state, KEY)
    again = load_state(text, key=KEY)
    assert dump_state(again, KEY) == text
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


def test_each_sent_command_stamps_its_transmitted_line():
    state = build()
    sent = [line for line in state.sessions if line["kind"] == SENT]
    assert [(line["at_s"], line["command"]["name"]) for line in sent] == [
        (e.at_s, e.command.name) for e in state.journal]
    assert sent[3]["who"] == "patient" and sent[3]["session"] == "patient@7200"


def test_a_session_that_sent_a_command_needs_one_transmitted_line():
    opened = {"at_s": 0, "kind": "opened", "who": "Dr B", "reason": "interrogated", "data": {}}
    with pytest.raises(ProgrammerError, match="one 'transmitted' line"):
        PumpState(start=datetime(2026, 1, 5, 8, 0)).with_session([opened], RequestPatientBolus())
    state = build()
    with pytest.raises(ProgrammerError, match="at or after the last journal entry"):
        state.with_sent(10, RequestPatientBolus(), "patient", "pressed")


def test_a_changed_value_is_named_by_its_path():
    """STATE-TAMPER-1: a hand-edited rate, concentration or 24-hour limit is refused, naming what changed."""
    text = dump_state(build(), KEY)

    def rate(d):
        d["journal"][2]["command"]["therapy"]["program"]["rate_ml_per_day"] = "0.6"

    def concentration(d):
        d["journal"][0]["command"]["solution_mg_per_ml"]["morphine"] = "20"

    def limit(d):
        d["journal"][2]["command"]["therapy"]["max_mg_per_24h"]["morphine"] = "60"

    def reservoir(d):
        d["pump"]["reservoir_ml"] = 40

    assert refusal(edited(text, rate)).value == "journal[2].command.therapy.program.rate_ml_per_day changed"
    assert refusal(edited(text, concentration)).value == "journal[0].command.solution_mg_per_ml.morphine changed"
    assert refusal(edited(text, limit)).value == "journal[2].command.therapy.max_mg_per_24h.morphine changed"
    assert refusal(edited(text, reservoir)).value == "pump.reservoir_ml changed"
    assert "--key-file it was signed with" in refusal(edited(text, rate)).expected


def test_deleted_lines_and_entries_are_named():
    """STATE-TAMPER-1: a deleted session line or journal entry is refused, naming its place as signed."""
    text = dump_state(build(), KEY)
    assert refusal(edited(text, lambda d: d["sessions"].pop(1))).value == "sessions[1] (as signed) removed"
    assert refusal(edited(text, lambda d: d["journal"].pop(3))).value == "journal[3] (as signed) removed"


def test_another_key_is_told_apart_from_an_edit():
    error = refusal(dump_state(build(), OTHER_KEY))
    assert error.value == "checksum" and "signed with another key" in error.expected


def test_a_file_without_a_checksum_is_refused_saying_what_to_do():
    text = edited(dump_state(build(), KEY), lambda d: d.pop("checksum"))
    for key in (KEY, None):
        with pytest.raises(ProgrammerError, match="openidds program init") as error:
            load_state(text, "pump.json", key=key)
        assert error.value.field == "pump.json.checksum"


def test_a_journal_entry_without_its_transmitted_line_is_refused():
    """STATE-TAMPER-2: every journal entry was sent in a session (checked even when the signature holds)."""
    state = build()
    unlinked = state.model_copy(update={"sessions": state.sessions[:2]})
    error = refusal(dump_state(unlinked, KEY))
    assert error.field == "pump.json.journal[2]" and error.value == "set_therapy at_s=3600"
    moved = [line | {"at_s": 3601} if line.get("command", {}).get("name") == "set_therapy" else line
             for line in state.sessions]
    error = refusal(dump_state(state.model_copy(update={"sessions": tuple(moved)}), KEY))
    assert error.field == "pump.json.journal[2]"


@pytest.mark.parametrize("old", ["openidds-pump-state/1", "openidds-pump-state/2"])
def test_an_old_format_file_is_refused_saying_what_to_do(old):
    text = f'{{"format": "{old}", "start": "2026-01-05T08:00:00", "journal": []}}'
    with pytest.raises(ProgrammerError, match="openidds program init") as error:
        load_state(text, "pump.json", key=KEY)
    assert error.value.field == "pump.json.format" and FORMAT in error.value.expected


def test_bad_files_are_named():
    with pytest.raises(ProgrammerError, match="valid JSON"):
        load_state("{", "pump.json")
    with pytest.raises(ProgrammerError, match="a JSON object"):
        load_state("[]", "pump.json")
    checksum = json.loads(dump_state(PumpState(start=datetime(2026, 1, 5, 8, 0)), KEY))["checksum"]
    with pytest.raises(ProgrammerError, match=r"journal\.0"):
        load_state(json.dumps({"start": "2026-01-05T08:00:00", "journal": [{"at_s": 5}], "checksum": checksum}),
                   "pump.json")
    with pytest.raises(ProgrammerError, match="reservoir_ml"):
        load_state(json.dumps({"start": "2026-01-05T08:00:00", "pump": {"reservoir_ml": 30}, "checksum": checksum}),
                   "pump.json")
    with pytest.raises(ProgrammerError, match="malformed"):
        load_state('{"start": "2026-01-05T08:00:00", "checksum": {"hmac_sha256": 5}}', "pump.json")
    with pytest.raises(ProgrammerError, match="32 bytes"):
        dump_state(build(), b"short")


@pytest.mark.parametrize("encode", [lambda t: codecs.BOM_UTF8 + t.encode("utf-8"), lambda t: t.encode("utf-16"),
                                    lambda t: codecs.BOM_UTF16_BE + t.encode("utf-16-be")],
                         ids=["utf-8-bom", "utf-16", "utf-16-be"])
def test_a_byte_order_mark_is_read(encode):
    """STATE-ENCODING-1."""
    text = dump_state(build(), KEY)
    assert load_state(decode_state(encode(text)), key=KEY) == load_state(text, key=KEY)


def test_a_byte_outside_utf8_is_refused_with_its_line_and_position():
    """STATE-ENCODING-1."""
    data = dump_state(build(), KEY).replace('"RN C"', '"RN Ç"').encode("latin-1")
    line = next(i for i, text in enumerate(data.split(b"\n"), 1) if b"\xc7" in text)
    column = data.split(b"\n")[line - 1].index(b"\xc7") + 1
    with pytest.raises(ProgrammerError) as error:
        decode_state(data, "pump.json")
    assert error.value.field == "pump.json"
    assert error.value.value.startswith(f"byte 0xc7 at line {line}, byte {column} ")
    assert "save it again as UTF-8" in error.value.expected
