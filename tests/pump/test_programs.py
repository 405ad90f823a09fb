"""Programs: PUMP-PROGRAM-1 (exact programmed integrals) and PUMP-REFUSE-1 (bad settings named)."""

import pytest

from openidds.errors import OpenIDDSError
from openidds.pump import Continuous, Flex, FlexStep, PatientBolus, Periodic, Stopped, Therapy
from openidds.pump.programs import FOREVER_S, max_daily_volume, program_volume
from openidds.pump.ticks import SECONDS_PER_DAY as DAY
from openidds.pump.ticks import volume_ticks


def ml(text: str) -> int:
    return volume_ticks("v", text)


def test_continuous_runs_forever_at_one_rate():
    assert Continuous("0.5").piece(123, 0) == (500_000, FOREVER_S, None)
    assert program_volume(Continuous("0.5"), 0, 2 * DAY, 0) == ml("1")


def test_flex_day_parts_wrap_round_midnight():
    flex = Flex((FlexStep("07:00", "0.4"), FlexStep("22:00", "0.2")))
    assert flex.piece(0, 0) == (200_000, 7 * 3600, None)
    assert flex.piece(7 * 3600, 0) == (400_000, 22 * 3600, None)
    assert flex.piece(23 * 3600, 0) == (200_000, DAY + 7 * 3600, None)
    assert program_volume(flex, 0, DAY, 0) == ml("0.4") * 15 // 24 + ml("0.2") * 9 // 24


def test_flex_weekday_steps_follow_the_pump_clock_origin():
    flex = Flex((FlexStep("00:00", "0.3"), FlexStep("08:00", "0.6", days=("sat", "sun"))))
    saturday = 5 * DAY
    assert flex.piece(saturday + 9 * 3600, 0)[0] == 600_000
    assert flex.piece(9 * 3600, 0)[0] == 300_000
    # the same pump instant with the clock origin on Saturday 00:00
    assert flex.piece(9 * 3600, saturday)[0] == 600_000


def test_periodic_gives_its_dose_then_no_flow():
    periodic = Periodic("0.1", 1800, 6 * 3600, offset_s=3600)
    rate, end, budget = periodic.piece(3600, 0)
    assert (end, budget) == (3600 + 1800, ml("0.1")) and rate * 1800 >= ml("0.1")
    assert periodic.piece(3600 + 1800, 0) == (0, 3600 + 6 * 3600, None)
    assert program_volume(periodic, 0, DAY, 0) == 4 * ml("0.1")


def test_a_periodic_program_says_when_its_first_dose_of_the_week_starts():
    assert Periodic("0.05", 1800, 6 * 3600).describe() == "periodic 0.05 mL over 30 min every 6 h from Mon 00:00"
    assert Periodic("0.05", 1800, 8 * 3600, 6 * 3600 + 1800).describe().endswith("every 8 h from Mon 06:30")
    weekly = Periodic("1", 3600, 7 * DAY, 2 * DAY + 8 * 3600 + 15)
    assert weekly.describe() == "periodic 1 mL over 60 min every 168 h from Wed 08:00:15"


def test_max_daily_volume_finds_the_worst_24_hours():
    flex = Flex((FlexStep("00:00", "0.2"), FlexStep("08:00", "1.2", days=("wed",)), FlexStep("10:00", "0.2")))
    assert max_daily_volume(flex, 0) == ml("0.2") * 22 // 24 + ml("1.2") * 2 // 24
    assert max_daily_volume(Stopped(), 0) == 0


@pytest.mark.parametrize("build, field", [
    (lambda: Flex(()), "program.steps"),
    (lambda: Flex((FlexStep("25:00", "0.1"),)), "program.steps[0].start"),
    (lambda: Flex((FlexStep("07:00", "0.1"), FlexStep("07:00", "0.2"))), "program.steps[1].start"),
    (lambda: Flex((FlexStep("07:00", "0.1", days=("monday",)),)), "program.steps[0].days"),
    (lambda: Continuous("-0.1"), "program.rate_ml_per_day"),
    (lambda: Periodic("0.1", 7200, 3600), "program.duration_s"),
    (lambda: PatientBolus("0.02", 600, 0, 4), "patient_bolus.lockout_s"),
    (lambda: PatientBolus("0.02", 1800, 1200, 4), "patient_bolus.lockout_s"),
    (lambda: PatientBolus("0.02", 600, 3600, 0), "patient_bolus.max_per_24h"),
    (lambda: Therapy(Continuous("0.1"), {"morphine": 0}), "max_mg_per_24h.morphine"),
    (lambda: Therapy("0.1 mL/day", {"morphine": 1}), "therapy.program"),
])
def test_bad_settings_name_their_field(build, field):
    """PUMP-REFUSE-1, PUMP-LOCKOUT-1: a lockout of 0, or shorter than the bolus, is refused."""
    with pytest.raises(OpenIDDSError) as error:
        build()
    assert error.value.field == field
