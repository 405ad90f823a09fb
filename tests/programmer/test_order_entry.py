"""One entry schema for a flex step and a periodic dose: an option's text reads into the same models, and the same
programmer's order, as the web form's fields."""

from decimal import Decimal

import pytest

from openidds.errors import OpenIDDSError
from openidds.programmer.order_entry import (
    FlexStepInput,
    PeriodicInput,
    flex_dose_step,
    flex_step_from_text,
    parse_input,
    periodic_dose,
    periodic_from_text,
)


def test_a_periodic_dose_s_text_is_the_form_s_fields() -> None:
    entered = parse_input(PeriodicInput, {"dose": "0.6 mg", "duration_min": 30, "every_h": 8, "offset_h": "6.5"})
    assert periodic_from_text("0.6 mg over 30 min every 8 h from 06:30", "--periodic") == periodic_dose(entered)
    assert periodic_from_text("0.6 mg over 30 min every 8 h", "--periodic").offset_s == 0
    weekly = periodic_from_text("5 mg over 60 min every 168 h from Sun 23:45", "--periodic")
    assert weekly.offset_s == 6 * 86400 + 23 * 3600 + 45 * 60
    assert periodic_dose(parse_input(PeriodicInput, {"dose": "5 mg", "duration_min": 60, "every_h": 168,
                                                     "offset_h": Decimal("167.75")})) == weekly


def test_a_flex_step_s_text_is_the_form_s_fields() -> None:
    entered = parse_input(FlexStepInput, {"start": "08:00", "dose": "3 mg/day", "days": ["sat", "sun"]})
    assert flex_step_from_text(2, "08:00=3 mg/day@sat/sun", "--flex[2]") == flex_dose_step(2, entered)
    assert flex_step_from_text(0, " 08:00 = 3 mg/day ", "--flex[0]").days == ()


@pytest.mark.parametrize("text", ["", "0.6 mg over 30 min", "0.6 mg over half an hour every 8 h",
                                  "0.6 mg over 30 min every 8 h from", "0.6 mg over 30 min every 8 days"])
def test_text_that_is_not_a_periodic_dose_is_refused_with_its_form(text: str) -> None:
    with pytest.raises(OpenIDDSError) as refused:
        periodic_from_text(text, "--periodic")
    assert refused.value.field == "--periodic" and refused.value.value == text
    assert "'0.5 mg over 30 min every 6 h'" in refused.value.expected
