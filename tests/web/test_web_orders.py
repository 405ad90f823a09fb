"""The order schema the programming review and a refill's new program share (web/orders.py): weekday flex steps and
periodic doses turned into the programmer's order, each refusal (the schema's, the programmer's, the pump's) named
by the field it is shown beside; and the one reader of a posted order form."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from starlette.datastructures import FormData
from tests.clinic.pump_state_builders import first_filled

from openidds.drugs import default_library
from openidds.errors import OpenIDDSError
from openidds.programmer import FlexDose, PeriodicDose, ProgrammingSession, StoppedDose
from openidds.pump import Flex, Periodic, Pump
from openidds.pump.programs import WEEKDAYS
from openidds.web.forms import parse_input
from openidds.web.orders import OrderInput, order_error, order_from_form, therapy_order
from openidds.weekday import Weekday

PLACE = "program"


@pytest.fixture(scope="module")
def pump() -> Pump:
    """A morphine 20 mg/mL pump at 2 mg/day with a 0.2 mg patient bolus."""
    return first_filled(dt.datetime(2023, 6, 1, 8, 0)).replay()


def _order(data: dict[str, Any], pump: Pump) -> Any:
    entry = parse_input(OrderInput, data)
    return therapy_order(entry, pump, ("morphine",), default_library())


def _refused(data: dict[str, Any], pump: Pump, prefix: str = "") -> tuple[str, str]:
    """Where a refusal of ``data`` is shown (its form field) and its message: the schema's, or the order's."""
    entry = None
    try:
        entry = parse_input(OrderInput, data)
        order = therapy_order(entry, pump, ("morphine",), default_library())
        ProgrammingSession(pump, 40 * 86400, "Dr Test", library=default_library()).edit(order)
    except OpenIDDSError as error:
        placed = order_error(error, entry, (), prefix)
        return placed.field, placed.message
    raise AssertionError(f"{data} was not refused")


def test_the_form_s_weekdays_are_the_pump_s() -> None:
    assert tuple(day.value for day in Weekday) == WEEKDAYS


def test_weekday_steps_become_the_programmer_s_flex_steps_on_those_days(pump: Pump) -> None:
    order = _order({"flex": [{"start": "00:00", "dose": "2 mg/day"},
                             {"start": "08:00", "dose": "3 mg/day", "days": ["sat", "sun"]},
                             {"start": "20:00", "dose": "2 mg/day", "days": ["sat", "sun"]}]}, pump)
    assert isinstance(order.program, FlexDose)
    assert [(s.start, str(s.per_day), s.days) for s in order.program.steps] == [
        ("00:00", "2 mg/day", ()), ("08:00", "3 mg/day", ("sat", "sun")), ("20:00", "2 mg/day", ("sat", "sun"))]
    review = ProgrammingSession(pump, 40 * 86400, "Dr Test", library=default_library()).edit(order)
    assert review.therapy is not None and isinstance(review.therapy.program, Flex)
    assert review.therapy.program.describe() == ("flex 00:00 0.1 mL/day, 08:00 0.15 mL/day (sat/sun), "
                                                 "20:00 0.1 mL/day (sat/sun)")


def test_a_periodic_dose_becomes_the_programmer_s_periodic_dose_in_seconds(pump: Pump) -> None:
    order = _order({"periodic": {"dose": "0.6 mg", "duration_min": 30, "every_h": 8, "offset_h": "6.5"}}, pump)
    assert order.program == PeriodicDose(order.program.amount, 1800, 28800, 23400)
    assert str(order.program.amount) == "0.6 mg"
    review = ProgrammingSession(pump, 40 * 86400, "Dr Test", library=default_library()).edit(order)
    assert review.therapy is not None and review.therapy.program == Periodic("0.03", 1800, 28800, 23400)


def test_the_entry_says_its_program_as_entered() -> None:
    assert parse_input(OrderInput, {"flex": [{"start": "08:00", "dose": "3 mg/day", "days": ["mon", "fri"]},
                                             {"start": "20:00", "dose": "2 mg/day"}]}).program_text() == (
        "flex steps: 08:00 3 mg/day mon/fri; 20:00 2 mg/day every day")
    periodic = parse_input(OrderInput, {"periodic": {"dose": "0.6 mg", "duration_min": 30, "every_h": 8}})
    assert periodic.program_text() == "periodic: 0.6 mg over 30 min every 8 h, the week's first 0 h after Monday 00:00"
    assert parse_input(OrderInput, {"stop": True}).program_text() == "stop basal delivery"
    assert parse_input(OrderInput, {"dose": "2 mg/day"}).program_text() == "daily dose 2 mg/day"


STEPS = [{"start": "00:00", "dose": "2 mg/day"}, {"start": "08:00", "dose": "3 mg/day", "days": ["sat"]}]
PERIODIC = {"dose": "0.6 mg", "duration_min": 30, "every_h": 8}


@pytest.mark.parametrize(("data", "field", "says"), [
    ({"flex": [STEPS[0], STEPS[1] | {"days": ["sat", "sunday"]}]}, "flex[1].days", "'mon', 'tue'"),
    ({"flex": [STEPS[0], STEPS[1] | {"days": ["sat", "sat"]}]}, "flex[1].days", "each weekday at most once"),
    ({"flex": [STEPS[0], STEPS[1] | {"days": "sat"}]}, "flex[1].days", "tuple"),
    ({"flex": [STEPS[0] | {"start": "08:00", "days": ["sat"]}, STEPS[1]]}, "flex[1].start",
     "a start that no other step has on sat"),
    ({"flex": [STEPS[0], STEPS[1] | {"dose": "3 mcg/day"}]}, "flex[1].dose", "mg/day"),
    ({"periodic": PERIODIC | {"every_h": 0}}, "periodic.every_h", "greater than or equal to 1"),
    ({"periodic": PERIODIC | {"every_h": 169}}, "periodic.every_h", "less than or equal to 168"),
    ({"periodic": PERIODIC | {"every_h": "often"}}, "periodic.every_h", "valid integer"),
    ({"periodic": {"dose": "0.6 mg", "duration_min": 30}}, "periodic.every_h", "required"),
    ({"periodic": PERIODIC | {"duration_min": 480}}, "periodic.duration_min", "fewer minutes than the interval"),
    ({"periodic": PERIODIC | {"offset_h": "8"}}, "periodic.offset_h", "fewer hours than the interval, 8 h"),
    ({"periodic": PERIODIC | {"offset_h": "6.001"}}, "periodic.offset_h", "whole minutes"),
    ({"periodic": PERIODIC | {"offset_h": "-1"}}, "periodic.offset_h", "greater than or equal to 0"),
    ({"periodic": PERIODIC | {"dose": "0.6 mg/day"}}, "periodic.dose", "mass"),
    ({"periodic": PERIODIC | {"dose": "600 mcg"}}, "periodic.dose", "a dose in mg"),
    ({"periodic": PERIODIC | {"dose": "0.0000001 mg"}}, "periodic.dose", "below the pump's 1 nL step"),
    ({"periodic": PERIODIC | {"often": True}}, "periodic", "Extra inputs"),
    ({"periodic": PERIODIC, "dose": "2 mg/day"}, "dose", "a periodic dose or stop"),
    ({"periodic": PERIODIC, "flex": STEPS}, "flex", "a periodic dose or stop"),
    ({"periodic": PERIODIC, "stop": True}, "periodic", "a periodic dose or stop"),
])
def test_a_bad_schedule_is_refused_beside_its_field(pump: Pump, data: dict[str, Any], field: str,
                                                   says: str) -> None:
    placed, message = _refused(data, pump)
    assert (placed, says in message) == (field, True), message


def test_a_refill_s_new_program_is_refused_beside_its_prefixed_field(pump: Pump) -> None:
    error = OpenIDDSError("therapy.periodic.every_h", 0, "a whole number of hours from 1 to 168")
    assert order_error(error, None, ("therapy",), "therapy.").field == "therapy.periodic.every_h"
    error = OpenIDDSError("program.every_s", 10, "whole seconds")
    assert order_error(error, None, ("therapy",), "therapy.").field == "therapy.periodic.every_h"
    error = OpenIDDSError("therapy.flex.1.days.0", "sunday", "a weekday")
    assert order_error(error, None, ("therapy",), "therapy.").field == "therapy.flex[1].days"


def _form(items: list[tuple[str, str]]) -> FormData:
    return FormData([("csrf_token", "t"), *items])


def test_a_posted_form_gives_the_order_with_each_step_s_weekdays_and_the_rest_of_the_form() -> None:
    posted = order_from_form(_form([
        ("therapy.drug", "morphine"), ("therapy.dose", ""), ("therapy.flex_start", "00:00"),
        ("therapy.flex_dose", "2 mg/day"), ("therapy.flex_start", "08:00"), ("therapy.flex_dose", "3 mg/day"),
        ("therapy.flex[1].days", "sat"), ("therapy.flex[1].days", "sun"), ("therapy.bolus", "keep"),
        ("volume_ml", "20"), ("concentration.morphine", "20 mg/mL")]), "therapy.")
    assert posted.order == {"drug": "morphine", "bolus": "keep", "flex": [
        {"start": "00:00", "dose": "2 mg/day", "days": []},
        {"start": "08:00", "dose": "3 mg/day", "days": ["sat", "sun"]}]}
    assert list(posted.rest.multi_items()) == [("csrf_token", "t"), ("volume_ml", "20"),
                                               ("concentration.morphine", "20 mg/mL")]
    assert not posted.step_edit


def test_a_posted_periodic_dose_is_gathered_when_any_of_its_fields_is_filled_in() -> None:
    assert order_from_form(_form([("periodic.dose", ""), ("periodic.every_h", "")])).order == {}
    posted = order_from_form(_form([("periodic.dose", "0.6 mg"), ("periodic.every_h", ""), ("stop", "on")]))
    assert posted.order == {"periodic": {"dose": "0.6 mg"}, "stop": True}
    assert order_from_form(_form([("periodic.often", "yes")])).order == {"periodic": {"often": "yes"}}


def test_a_step_button_removes_a_step_with_its_weekdays() -> None:
    posted = order_from_form(_form([
        ("flex_start", "00:00"), ("flex_dose", "2 mg/day"), ("flex[0].days", "mon"),
        ("flex_start", "08:00"), ("flex_dose", "3 mg/day"), ("flex[1].days", "sat"), ("step_edit", "remove-0")]))
    assert posted.step_edit and posted.order == {"flex": [{"start": "08:00", "dose": "3 mg/day", "days": ["sat"]}]}
    added = order_from_form(_form([("step_edit", "add")]))
    assert added.step_edit and added.order == {"flex": [{"start": "", "dose": "", "days": []}]}


@pytest.mark.parametrize(("items", "field", "says"), [
    ([("flex_start", "00:00")], "flex", "a start and a daily dose for each flex step"),
    ([("flex_start", "00:00"), ("flex_dose", "2 mg/day"), ("flex[3].days", "mon")], "flex",
     "weekdays of one of the form's 1 flex steps"),
])
def test_a_posted_form_that_does_not_hold_together_is_refused(items: list[tuple[str, str]], field: str,
                                                              says: str) -> None:
    with pytest.raises(OpenIDDSError) as refused:
        order_from_form(_form(items))
    assert refused.value.field == field and says in str(refused.value)


def test_stop_and_no_program_are_what_they_were(pump: Pump) -> None:
    assert isinstance(_order({"stop": True}, pump).program, StoppedDose)
    assert _refused({}, pump)[0] == "dose"
