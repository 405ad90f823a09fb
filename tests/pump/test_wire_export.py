"""The pump log's export checked over its columns (``wire._checked_events``) against the wire schema's own
validation: it accepts a log only where ``PumpLog.model_validate`` accepts it and then gives the same events,
accepts every in-bounds log of the plain types a pump writes, and ``export_log`` accepts, refuses and says
exactly what the validation of every event does."""

from datetime import UTC, datetime
from enum import IntEnum, StrEnum
from types import MappingProxyType
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError
from tests.pump.builders import filled_pump

from openidds.errors import OpenIDDSError
from openidds.pump import Interrogate, PatientBolus, RequestPatientBolus, wire
from openidds.pump.events import COMPACT_FIELDS, EVENT_DATA, EventKind, EventLog

START = datetime(2026, 1, 5, 8, 0, tzinfo=UTC)


class Flow(StrEnum):
    """A str subclass, which pydantic converts to a plain str."""

    BASAL = "basal"


class Count(IntEnum):
    """An int subclass, which pydantic converts to a plain int."""

    ONE = 1


class Name(str):
    """A str subclass as a data field's name, equal to the plain name (pydantic converts it)."""


def _fields(kind: EventKind) -> tuple[list[str], list[str]]:
    record = EVENT_DATA[kind]
    required = sorted(getattr(record, "__required_keys__", ()))
    return required, sorted(getattr(record, "__optional_keys__", ()))


VALUES = st.one_of(st.none(), st.integers(-5, 5), st.text(max_size=3), st.booleans())


@st.composite
def row(draw: st.DrawFn) -> tuple:
    """A row as a pump keeps it, of the plain types a pump writes, every value within the wire's bounds."""
    t_s, reason = draw(st.integers(0, wire.MAX_SECONDS)), draw(st.text(max_size=3))
    kind = draw(st.sampled_from(list(EventKind)))
    if kind is EventKind.DELIVERY:
        tip = draw(st.one_of(st.none(), st.lists(st.tuples(st.sampled_from(["morphine", "bupivacaine"]),
                                                          st.integers(0, 9)), max_size=2).map(tuple)))
        drawn: tuple = (t_s, kind, reason, draw(st.integers(0, 9)), draw(st.integers(0, 9)), draw(st.integers(0, 9)),
                        tip)
        if tip is None or draw(st.booleans()):  # a full row: its truth, and its dose when its tip is mixed
            drawn += (draw(st.integers(0, 9)), draw(st.sampled_from(["csf", "tissue"])),
                      {"morphine": draw(st.integers(0, 9))} if tip is None else None)
        return drawn
    if kind in COMPACT_FIELDS:
        return (t_s, kind, reason, *(draw(VALUES) for _ in COMPACT_FIELDS[kind]))
    required, optional = _fields(kind)
    names = required + draw(st.lists(st.sampled_from(optional), unique=True) if optional else st.just([]))
    return t_s, kind, reason, {name: draw(VALUES) for name in names}


def _with_data(changed: Any) -> Any:
    return lambda r: (*r[:3], changed(r[3])) if type(r[3]) is dict else r


CHANGES: dict[str, tuple[bool, Any]] = {
    # name: (whether the changed row is still of the plain types, the change)
    "t_s 0": (True, lambda r: (0, *r[1:])),
    "t_s at its bound": (True, lambda r: (wire.MAX_SECONDS, *r[1:])),
    "t_s past its bound": (True, lambda r: (wire.MAX_SECONDS + 1, *r[1:])),
    "t_s negative": (True, lambda r: (-1, *r[1:])),
    "t_s a bool": (False, lambda r: (True, *r[1:])),
    "t_s an int subclass": (False, lambda r: (Count.ONE, *r[1:])),
    "t_s a float": (False, lambda r: (1.0, *r[1:])),
    "kind as text": (False, lambda r: (r[0], r[1].value, *r[2:])),
    "kind unknown": (False, lambda r: (r[0], "colour", *r[2:])),
    "reason a str subclass": (False, lambda r: (*r[:2], Flow.BASAL, *r[3:])),
    "reason an int": (False, lambda r: (*r[:2], 1, *r[3:])),
    "data with an unknown field": (True, _with_data(lambda d: d | {"colour": 1})),
    "data without a field": (True, _with_data(lambda d: dict(list(d.items())[1:]))),
    "data with a name a str subclass": (False, _with_data(lambda d: {Name(k): v for k, v in d.items()})),
    "data with an int key": (False, _with_data(lambda d: d | {1: 1})),
    "data a mapping": (False, _with_data(MappingProxyType)),
    "data a list": (False, _with_data(list)),
    "data none": (False, _with_data(lambda d: None)),
}


@st.composite
def rows(draw: st.DrawFn) -> tuple[list[tuple], bool]:
    """A pump's rows, any kind in any order, then now and then one value changed (past a bound, or of a type
    a pump does not write); and whether every value is of the plain types."""
    drawn = draw(st.lists(row(), max_size=6))
    change = draw(st.sampled_from([None, *CHANGES]))
    if change is None or not drawn:
        return drawn, True
    plain, changed = CHANGES[change]
    at = draw(st.integers(0, len(drawn) - 1))
    drawn[at] = changed(drawn[at])
    return drawn, plain


def _log(drawn: list[tuple]) -> EventLog:
    log = EventLog()
    log.rows.extend(drawn)
    return log


def _validated(log: EventLog) -> tuple[wire.ExportedEvent, ...]:
    return wire.PumpLog.model_validate({"wire_version": wire.WIRE_VERSION, "clock_start": START,
                                        "events": [event.to_dict() for event in log]}).events


@settings(max_examples=400)
@given(rows())
def test_the_checks_over_columns_accept_exactly_what_each_events_validation_accepts(drawn):
    rows_, plain = drawn
    log = _log(rows_)
    checked = wire._checked_events(log)
    try:
        validated = _validated(log)
    except ValidationError:
        assert checked is None
        return
    if plain:
        assert checked is not None
    if checked is None:
        return
    assert checked == validated
    for ours, theirs in zip(checked, validated, strict=True):
        assert ours.__dict__ == theirs.__dict__
        assert [type(value) for value in ours.__dict__.values()] == [type(value) for value in theirs.__dict__.values()]
        assert ours.model_fields_set == theirs.model_fields_set
        assert ours.model_dump_json() == theirs.model_dump_json()
        assert [type(key) for key in ours.data] == [type(key) for key in theirs.data]
    for event, row in zip(checked, rows_, strict=True):
        assert event.data is not row[3]  # a data dict of its own: the log's rows are never handed out


@given(rows())
def test_export_log_says_what_the_validation_of_every_event_says(drawn):
    """A pump's log (checked over its columns) and the same events as a plain sequence (validated one by one)
    give the same wire log, or the same refusal."""
    rows_, _ = drawn
    log = _log(rows_)
    try:
        expected = wire.export_log(list(log), START, {"totals": 1})
    except OpenIDDSError as refused:
        with pytest.raises(OpenIDDSError) as ours:
            wire.export_log(log, START, {"totals": 1})
        assert (ours.value.field, ours.value.value, ours.value.expected) == (refused.field, refused.value,
                                                                                refused.expected)
        return
    exported = wire.export_log(log, START, {"totals": 1})
    assert exported == expected
    assert exported.model_dump_json() == expected.model_dump_json()


def test_a_pumps_log_exports_as_its_validation_and_its_events_stay_apart():
    """A real pump's log: the same wire log as validated event by event; each event its own copy of the data, and
    a copy of one event with a field changed leaves the others' fields set alone."""
    pump = filled_pump(bolus=PatientBolus("0.03", 600, 7200, 4))
    pump.execute(3600, RequestPatientBolus())
    pump.execute(7200, Interrogate())
    exported = wire.export_log(pump.log, START)
    assert exported == wire.export_log(list(pump.log), START)
    assert exported.model_dump_json() == wire.export_log(list(pump.log), START).model_dump_json()
    assert {event.kind for event in exported.events} >= {EventKind.DELIVERY, EventKind.BOLUS_STARTED,
                                                         EventKind.BOLUS_ENDED, EventKind.INTERROGATION}
    first, second = exported.events[:2]
    first.data["colour"] = "red"
    assert "colour" not in pump.log.rows[0][3] and "colour" not in wire.export_log(pump.log, START).events[0].data
    changed = second.model_copy(update={"reason": "changed"})
    assert changed.reason == "changed" and second.reason != "changed"
    assert first.model_fields_set == set(wire.ExportedEvent.model_fields)
