"""The policy file: the example loads, and bad configuration is refused naming the field, the value and what was
expected (ESC-POLICY-1)."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from openidds.escalation import PolicyError, PolicyFormat, StaffRole, parse_policy, policy_from

from .policies import EXAMPLE, example_data, example_policy


def test_the_example_policy_loads_from_toml_and_json() -> None:
    policy = parse_policy(EXAMPLE.read_text(), PolicyFormat.of_name(EXAMPLE.name))
    assert [t.role for t in policy.tiers] == [StaffRole.NURSE, StaffRole.PHYSICIAN, StaffRole.CLINIC_LEAD]
    assert parse_policy(json.dumps(example_data()), PolicyFormat.JSON) == policy


def test_the_rota_says_who_is_on_call_in_local_time() -> None:
    policy = example_policy()
    # Paris is UTC+1 in winter: 06:30 UTC is 07:30 local (day nurse), 05:30 UTC is 06:30 local (night nurse)
    assert policy.on_call(StaffRole.NURSE, dt.datetime(2026, 12, 1, 6, 30)) == ("nurse_day",)
    assert policy.on_call(StaffRole.NURSE, dt.datetime(2026, 12, 1, 5, 30)) == ("nurse_night",)
    # summer time: UTC+2, so 05:30 UTC is already 07:30 local
    assert policy.on_call(StaffRole.NURSE, dt.datetime(2026, 7, 1, 5, 30)) == ("nurse_day",)


def test_quiet_hours_end_at_the_next_local_morning() -> None:
    policy = example_policy()
    assert policy.quiet_until(dt.datetime(2026, 12, 1, 22, 30)) == dt.datetime(2026, 12, 2, 6, 0)
    assert policy.quiet_until(dt.datetime(2026, 12, 2, 2, 0)) == dt.datetime(2026, 12, 2, 6, 0)
    assert policy.quiet_until(dt.datetime(2026, 12, 2, 12, 0)) is None


def _refused(data: object) -> PolicyError:
    with pytest.raises(PolicyError) as caught:
        policy_from(data)
    return caught.value


def test_an_empty_rota_is_refused() -> None:
    data = example_data()
    data["rota"] = []
    error = _refused(data)
    assert (error.field, error.value) == ("rota", [])
    assert "at least one shift" in error.expected


def test_a_timeout_of_zero_is_refused() -> None:
    data = example_data()
    data["tiers"][1]["timeout_minutes"]["high"] = 0
    error = _refused(data)
    assert (error.field, error.value) == ("tiers[1].timeout_minutes.high", 0)
    assert "greater than 0" in error.expected


def test_an_unknown_transport_is_refused() -> None:
    data = example_data()
    data["tiers"][0]["channels"] = ["board", "pager"]
    error = _refused(data)
    assert (error.field, error.value) == ("tiers[0].channels[1]", "pager")
    assert "'email', 'webhook' or 'board'" in error.expected


def test_a_role_nobody_holds_at_some_hour_is_refused() -> None:
    data = example_data()
    data["rota"] = [s for s in data["rota"] if s["person"] != "nurse_night"]
    error = _refused(data)
    assert (error.field, error.value) == ("tiers[0].role", "nurse")
    assert "nobody is at mon 00:00 (Europe/Paris)" in error.expected


def test_a_weekend_gap_is_found_to_the_minute() -> None:
    data = example_data()
    for shift in data["rota"]:
        if shift["person"] == "dr_oncall":
            shift["days"] = ["mon", "tue", "wed", "thu", "fri", "sat"]
            shift["end"] = "23:59"
    data["rota"].append({"role": "physician", "person": "lead", "days": ["sun"], "start": "00:00", "end": "23:00"})
    error = _refused(data)
    assert "nobody is at mon 23:59" in error.expected


def test_a_person_without_an_address_for_their_tier_is_refused() -> None:
    data = example_data()
    del data["people"]["dr_oncall"]["webhook"]
    error = _refused(data)
    assert (error.field, error.value) == ("people.dr_oncall.webhook", None)
    assert "tiers[1] (physician) notifies by webhook" in error.expected


@pytest.mark.parametrize(("change", "field", "value"), [
    (lambda d: d.update(timezone="Mars/Olympus"), "timezone", "Mars/Olympus"),
    (lambda d: d["quiet_hours"].update(end="22:00"), "quiet_hours.end", "22:00"),
    (lambda d: d.pop("transports"), "transports.email", None),
    (lambda d: d["patient_notices"].update(channels=["board"]), "patient_notices.channels", "board"),
    (lambda d: d["rota"][0].update(person="nobody"), "rota[0].person", "nobody"),
    (lambda d: d.update(tiers=[]), "tiers", []),
    (lambda d: d["tiers"].append(d["tiers"][0]), "tiers[3].role", "nurse"),
    (lambda d: d.update(escalate_to="everyone"), "escalate_to", "everyone"),
    (lambda d: d["transports"]["webhook"].update(timeout_s=600), "transports.webhook.timeout_s", 600),
    (lambda d: d["patient_notices"]["alarms"].update(refill_soon="call"), "patient_notices.alarms.refill_soon",
     "refill_soon"),
])
def test_other_bad_settings_are_refused(change: object, field: str, value: object) -> None:
    data = example_data()
    assert callable(change)
    change(data)
    error = _refused(data)
    assert (error.field, error.value) == (field, value)
    assert error.expected


def test_a_file_that_is_not_toml_or_json_is_refused() -> None:
    with pytest.raises(PolicyError) as caught:
        PolicyFormat.of_name("policy.yaml")
    assert caught.value.field == "--policy"
    with pytest.raises(PolicyError, match="a valid toml document"):
        parse_policy("tiers = [", PolicyFormat.TOML)


def test_two_shifts_of_one_role_that_overlap_are_refused() -> None:
    """One person holds a role at a time: a day shift that runs into the night shift is refused at the later
    shift, naming the earlier one and the first minute both cover (Europe/Paris local time)."""
    data = example_data()
    data["rota"][0]["end"] = "20:00"  # nurse_day 07:00-20:00, nurse_night from 19:00
    error = _refused(data)
    assert (error.field, error.value) == ("rota[1].start", "19:00")
    assert "rota[0] (nurse_day, 07:00-20:00)" in error.expected and "both cover mon 19:00" in error.expected


def test_a_night_shift_wrapping_past_sunday_overlaps_monday_morning() -> None:
    data = example_data()
    data["rota"][1]["days"] = ["sun"]  # sun 19:00 to mon 07:00
    data["rota"].append({"role": "nurse", "person": "nurse_night", "days": ["mon"], "start": "06:00", "end": "07:00"})
    data["rota"].append({"role": "nurse", "person": "nurse_night", "days": ["tue", "wed", "thu", "fri", "sat"],
                         "start": "19:00", "end": "07:00"})
    data["rota"][0]["days"] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
    error = _refused(data)
    assert error.field == "rota[4].start" and "both cover mon 06:00" in error.expected


def test_a_policy_round_trips_through_its_json_form() -> None:
    """What the registry stores (the policy as JSON values) reads back as the same policy."""
    policy = example_policy()
    assert policy_from(json.loads(json.dumps(policy.model_dump(mode="json")))) == policy
