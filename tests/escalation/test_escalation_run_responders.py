"""The acknowledgement model of a simulated escalation run: the bundled example, its lognormal delays, office
hours in the policy's time zone, and every bad value refused naming the field, the value and what was expected."""

from __future__ import annotations

import datetime as dt
import math
import tomllib
from importlib import resources
from statistics import NormalDist
from typing import Any

import pytest

from openidds.cohort.escalation_run import load_responders
from openidds.escalation import Priority, ResponderError, Responders, StaffRole, parse_responders
from openidds.escalation.responders import Delay
from openidds.pump.alarms import AlarmKind

from .policies import example_policy

_TEXT = (resources.files("openidds.cohort") / "responders" / "example.toml").read_text(encoding="utf-8")


def _model(change: Any) -> str:
    """The example model's TOML with ``change`` applied to its data, written back as TOML (flat tables only)."""
    data = tomllib.loads(_TEXT)
    change(data)
    return _toml(data)


def _toml(data: dict[str, Any], prefix: str = "") -> str:
    scalars = [f"{key} = {_value(value)}" for key, value in data.items() if not isinstance(value, dict)]
    tables = [_toml(value, f"{prefix}{key}.") for key, value in data.items() if isinstance(value, dict)]
    head = f"[{prefix.rstrip('.')}]\n" if prefix and scalars else ""
    return head + "".join(f"{line}\n" for line in scalars) + "".join(tables)


def _value(value: Any) -> str:
    if isinstance(value, str):
        return f'"{value}"'
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, dt.time):
        return f'"{value.isoformat("minutes")}"'
    if isinstance(value, list):
        return "[" + ", ".join(_value(v) for v in value) + "]"
    return repr(value)


def test_the_bundled_example_covers_the_example_policy() -> None:
    model = load_responders("example")
    model.check_roles(tuple(t.role for t in example_policy().tiers))
    assert model.response(StaffRole.NURSE, Priority.HIGH).acknowledge_share == 0.95
    assert model == parse_responders(_model(lambda data: None))  # the test's TOML writer round-trips


def test_a_delay_has_the_median_and_interquartile_range_it_is_given() -> None:
    delay = Delay(median_minutes=20, iqr_minutes=40)
    z = NormalDist().inv_cdf(0.75)
    q1, q3 = math.exp(delay.mu - z * delay.sigma), math.exp(delay.mu + z * delay.sigma)
    assert math.exp(delay.mu) == pytest.approx(20)
    assert q3 - q1 == pytest.approx(40)


def test_office_hours_are_local_to_the_policy_time_zone() -> None:
    model, paris = load_responders("example"), example_policy().zone
    monday_0730_utc = dt.datetime(2026, 11, 30, 7, 30)  # 08:30 in Paris (CET, UTC+1)
    assert model.in_office(monday_0730_utc, paris)
    assert not model.in_office(dt.datetime(2026, 11, 30, 6, 30), paris)  # 07:30 in Paris
    assert not model.in_office(dt.datetime(2026, 11, 30, 17, 0), paris)  # 18:00: the end is excluded
    assert not model.in_office(dt.datetime(2026, 11, 28, 10, 0), paris)  # a Saturday
    nurse = model.response(StaffRole.NURSE, Priority.MEDIUM)
    assert model.delay(StaffRole.NURSE, Priority.MEDIUM, monday_0730_utc, paris) == nurse.office
    assert model.delay(StaffRole.NURSE, Priority.MEDIUM, dt.datetime(2026, 11, 28, 10, 0), paris) == nurse.night


def _set(path: str, value: Any) -> Any:
    def change(data: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        for part in parents:
            data = data[part]
        if value is None:
            del data[last]
        else:
            data[last] = value
    return change


@pytest.mark.parametrize(("path", "value", "field", "expected"), [
    ("roles.nurse.high.acknowledge_share", 1.5, "roles.nurse.high.acknowledge_share", "a number at most 1"),
    ("roles.nurse.high.office.median_minutes", 0, "roles.nurse.high.office.median_minutes", "greater than 0"),
    ("roles.physician.low.night.iqr_minutes", -5, "roles.physician.low.night.iqr_minutes", "greater than 0"),
    ("delivery_failures.email", 2, "delivery_failures.email", "a number at most 1"),
    ("delivery_failures.pager", 0.1, "delivery_failures.pager", "no such setting"),
    ("roles.nurse.source", None, "roles.nurse.source", "required"),
    ("roles.nurse.source", "", "roles.nurse.source", "at least 1 character"),
    ("office_hours.end", "07:00", "office_hours.end", "a time after the start (08:00)"),
    ("office_hours.days", ["mon", "someday"], "office_hours.days[1]", "'mon'"),
    ("roles.nurse.high.office", None, "roles.nurse.high.office", "required"),
    ("refill_visits.after_low_reservoir_hours", 0, "refill_visits.after_low_reservoir_hours", "greater than 0"),
    ("refill_visits.source", None, "refill_visits.source", "required"),
    ("refill_visits.after_missed_refill_hours", 5, "refill_visits.after_missed_refill_hours", "no such setting"),
])
def test_bad_values_are_refused_naming_field_value_and_expectation(path: str, value: Any, field: str,
                                                                   expected: str) -> None:
    with pytest.raises(ResponderError) as refused:
        parse_responders(_model(_set(path, value)))
    assert refused.value.field == field
    assert expected in refused.value.expected
    if value not in (None, ""):
        assert str(value) in str(refused.value.value) or isinstance(value, list)


def test_a_role_the_policy_notifies_and_the_model_lacks_is_refused() -> None:
    model = parse_responders(_model(_set("roles.clinic_lead", None)))
    with pytest.raises(ResponderError, match=r"roles='clinic_lead': expected a \[roles.clinic_lead\] block"):
        model.check_roles(tuple(t.role for t in example_policy().tiers))


def test_a_file_that_is_not_toml_or_not_found_is_refused(tmp_path: Any) -> None:
    with pytest.raises(ResponderError, match="a valid TOML document"):
        parse_responders("office_hours = [")
    with pytest.raises(ResponderError, match="an existing responders file"):
        load_responders(tmp_path / "missing.toml")
    with pytest.raises(ResponderError, match="one of the bundled responders example"):
        load_responders("exampel")
    assert isinstance(load_responders("example"), Responders)


def test_the_example_states_the_refill_visit_each_reservoir_alarm_leads_to() -> None:
    visits = load_responders("example").refill_visits
    assert visits is not None and "assumption" in visits.source
    assert visits.after(AlarmKind.LOW_RESERVOIR) == dt.timedelta(hours=24)
    assert visits.after(AlarmKind.EMPTY_RESERVOIR) == dt.timedelta(hours=6)
    assert visits.after(AlarmKind.ELECTIVE_REPLACEMENT) is None  # a refill does not answer it
    assert parse_responders(_model(_set("refill_visits", None))).refill_visits is None  # optional: none played
