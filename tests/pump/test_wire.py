"""The pump's wire format: every command and fault round-trips, numbers follow the units rule, names agree
with the log, and the exported log checks each event's fields against its kind."""

from datetime import UTC, datetime
from fractions import Fraction

import pytest
from pydantic import TypeAdapter, ValidationError

from openidds.errors import OpenIDDSError
from openidds.pump import (
    BatteryReset,
    BolusKind,
    CancelBolus,
    Catheter,
    CatheterLeak,
    CatheterOcclusion,
    CommandRefused,
    Continuous,
    Flex,
    FlexStep,
    Interrogate,
    MotorStall,
    MriExposure,
    PatientBolus,
    Periodic,
    Pump,
    Refill,
    RequestPatientBolus,
    ReviseCatheter,
    SelfTestError,
    SetLowReservoirAlarm,
    SetTherapy,
    Solution,
    StartBolus,
    Stopped,
    Therapy,
    wire,
)

COMMANDS = [
    SetTherapy(Therapy(Continuous("0.3"), {"morphine": "6"}, PatientBolus("0.03", 600, 7200, 4))),
    SetTherapy(Therapy(Flex((FlexStep("07:00", "0.4"), FlexStep("09:00", "0.5", ("sat", "sun")))), {"morphine": "7"})),
    SetTherapy(Therapy(Periodic("0.05", 1800, 21600, 3600), {"morphine": "7"})),
    SetTherapy(Therapy(Stopped(), {"morphine": "1"})),
    Refill(Solution.of({"morphine": "10", "bupivacaine": "7.5"}), "18.6", Solution.of({"morphine": "11.5",
                                                                                       "bupivacaine": "7.5"})),
    SetLowReservoirAlarm("2.5"),
    StartBolus(BolusKind.BRIDGE, "0.41", 3600),
    CancelBolus(), RequestPatientBolus(), Interrogate(),
    ReviseCatheter(Catheter(length_cm=60, volume_ml="0.12", tip_level="T8")),
]
FAULTS = [MotorStall(None), MotorStall(60), MriExposure(2700, 3600), CatheterOcclusion(), CatheterLeak(),
          BatteryReset(), SelfTestError(critical=True)]
COMMAND = TypeAdapter(wire.Command)
FAULT = TypeAdapter(wire.Fault)


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: type(c).__name__)
def test_every_command_round_trips_through_json(command):
    model = wire.command_to_wire(command)
    again = COMMAND.validate_json(COMMAND.dump_json(model))
    assert again == model and wire.command_to_wire(again.to_pump()) == model


@pytest.mark.parametrize("fault", FAULTS, ids=lambda f: type(f).__name__)
def test_every_fault_has_its_wire_name_in_the_log(fault):
    pump = Pump()
    pump.inject(0, fault)
    logged = pump.log.last().data
    model = FAULT.validate_python(logged)  # the log's fault record is the wire's fault
    assert model.to_pump() == fault and logged["name"] == type(model).model_fields["name"].default


def test_a_refusal_names_the_command_by_its_wire_name():
    pump = Pump()
    with pytest.raises(CommandRefused):
        pump.execute(0, StartBolus(BolusKind.CLINICIAN, "0.1", 600))
    assert pump.log.last().data["command"] == "start_bolus" == wire.StartBolus.model_fields["name"].default


@pytest.mark.parametrize("bad", [".5", "1e-1", "1,5", 0.5, True, None, "abc"])
def test_numbers_follow_the_units_rule(bad):
    with pytest.raises(ValidationError, match="volume_ml"):
        COMMAND.validate_python({"name": "start_bolus", "kind": "clinician", "volume_ml": bad, "duration_s": 600})


def test_numbers_are_exact_in_and_decimal_strings_out():
    model = COMMAND.validate_python({"name": "set_low_reservoir_alarm", "low_reservoir_ml": "2.50"})
    assert model.low_reservoir_ml == Fraction(5, 2)
    assert COMMAND.dump_python(model, mode="json") == {"name": "set_low_reservoir_alarm", "low_reservoir_ml": "2.5"}


def test_seconds_are_whole_and_unknown_fields_refused():
    with pytest.raises(ValidationError):
        COMMAND.validate_python({"name": "start_bolus", "kind": "clinician", "volume_ml": "1", "duration_s": "600"})
    with pytest.raises(ValidationError):
        COMMAND.validate_python({"name": "start_bolus", "kind": "clinician", "volume_ml": "1", "duration_min": 10})


def test_the_exported_log_checks_each_kind_and_its_version():
    pump = Pump()
    pump.execute(0, COMMANDS[4])
    log = wire.export_log(pump.log, datetime(2026, 1, 5, 8, 0))
    assert log.clock_start == datetime(2026, 1, 5, 8, 0, tzinfo=UTC) and log.at(60) == datetime(2026, 1, 5, 8, 1)
    data = log.model_dump(mode="json")
    assert wire.PumpLog.model_validate(data) == log
    data["events"][1]["data"]["colour"] = "red"
    with pytest.raises(ValidationError, match="colour"):
        wire.PumpLog.model_validate(data)
    with pytest.raises(ValidationError, match="wire version 1"):
        wire.PumpLog.model_validate(log.model_dump(mode="json") | {"wire_version": 2})


def test_an_export_past_the_wire_formats_bounds_is_refused_naming_field_value_and_bound():
    """Not a raw pydantic error: the project's error, with the event's place in the log, its time and the bound."""
    pump = Pump()
    pump.execute(wire.MAX_SECONDS + 5, Interrogate())
    with pytest.raises(OpenIDDSError) as refused:
        wire.export_log(pump.log, datetime(2010, 1, 4, 8, 0))
    assert not isinstance(refused.value, ValidationError)
    assert refused.value.field.startswith("pump log events[") and refused.value.field.endswith("].t_s")
    assert refused.value.value == wire.MAX_SECONDS + 5
    assert "from 0 to 316224000 s" in refused.value.expected and "its own implant" in refused.value.expected


@pytest.mark.parametrize("kind, data, accepted", [
    ("fault", {"name": "motor_stall"}, True),
    ("fault", {"name": "motor_stall", "duration_s": 60}, True),
    ("fault", {"duration_s": 60}, False),  # an optional field in place of the required one
    ("fault", {"name": "motor_stall", "colour": "red"}, False),
    ("alarm_cleared", {"alarm": "low_reservoir"}, True),
    ("alarm_cleared", {"colour": "red"}, False),
    ("alarm_cleared", {}, False),
    ("interrogation", {}, True),
    ("interrogation", {"colour": "red"}, False),
])
def test_an_events_data_has_exactly_the_fields_of_its_kind(kind, data, accepted):
    event = {"seq": 0, "t_s": 0, "kind": kind, "reason": "", "data": data}
    if accepted:
        assert wire.ExportedEvent.model_validate(event).data == data
    else:
        with pytest.raises(ValidationError, match=f"a {kind} event's data has the fields"):
            wire.ExportedEvent.model_validate(event)
