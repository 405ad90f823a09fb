"""The patient's bolus device (PROG-DEVICE-1): it only requests, and it shows count, next time and reason."""

from openidds.programmer import PatientBolusDevice
from openidds.pump import Pump, PumpSpec

from .conftest import DAY, fill, program, start_order


def twin() -> Pump:
    pump = Pump(PumpSpec())
    fill(pump)
    program(pump, 3600, start_order())
    return pump


def test_device_shows_left_next_and_reason():
    """PROG-DEVICE-1: boluses left in 24 h, the next allowed time, and why a request was refused."""
    pump = twin()
    device = PatientBolusDevice(pump)
    first = device.press(7200)
    assert first.granted and first.left_in_24h == 3 and first.next_allowed_s == 7200 + 7200
    during = device.press(7300)
    assert not during.granted and "bolus in progress" in during.message
    later = device.press(9000)
    assert not later.granted and later.message == "refused: lockout since the last bolus"
    assert later.next_allowed_s == 14_400
    for k in range(1, 4):
        assert device.press(7200 + k * 7200).granted
    full = device.press(7200 + 4 * 7200)
    assert not full.granted and "4 boluses already" in full.message and full.left_in_24h == 0
    assert full.next_allowed_s == 7200 + DAY


def test_device_changes_nothing_but_a_bolus():
    """PROG-DEVICE-1: looking at the screen changes nothing (the pump is exactly as if time had passed), and the
    device offers no other command."""
    a, b = twin(), twin()
    a.advance(5 * 3600)
    screen = PatientBolusDevice(b).screen(5 * 3600)
    assert screen.available and screen.granted is None and screen.left_in_24h == 4
    assert (a.state(), len(a.log)) == (b.state(), len(b.log))
    public = {name for name in dir(PatientBolusDevice) if not name.startswith("_")}
    assert public == {"screen", "press"}
