"""The patient's bolus device: it can ask for a bolus and show the answer, nothing else.

It holds no settings and sends no dose: the pump decides (lockout, boluses per 24 hours, 24-hour limit,
reservoir) and the device shows what the pump answered: whether a bolus is available, how many are left
in the last 24 hours, when the next one is allowed and why a request was refused.
"""

from dataclasses import dataclass

from openidds.pump import BolusDecision, Pump, RequestPatientBolus


@dataclass(frozen=True, slots=True)
class Screen:
    """What the device shows. ``granted`` answers a press (None when only looking); ``available`` says
    whether a press now would be granted."""

    at_s: int
    granted: bool | None
    available: bool
    left_in_24h: int
    next_allowed_s: int | None
    message: str

    def to_dict(self) -> dict:
        return {"at_s": self.at_s, "granted": self.granted, "available": self.available,
                "left_in_24h": self.left_in_24h, "next_allowed_s": self.next_allowed_s, "message": self.message}


class PatientBolusDevice:
    """Bound to one pump; its only command is :class:`~openidds.pump.RequestPatientBolus`."""

    __slots__ = ("_pump",)

    def __init__(self, pump: Pump) -> None:
        self._pump = pump

    def screen(self, at_s: int) -> Screen:
        """What the device shows at ``at_s`` (time passes on the pump; nothing is changed)."""
        self._pump.advance(at_s)
        return _screen(at_s, self._pump.patient_bolus_status(), asked=False)

    def press(self, at_s: int) -> Screen:
        """The patient presses the button: the pump grants or refuses, and the device shows why."""
        return _screen(at_s, self._pump.execute(at_s, RequestPatientBolus()), asked=True)


def _screen(at_s: int, decision: BolusDecision, asked: bool) -> Screen:
    if decision.granted:
        message = "bolus started" if asked else "a bolus is available"
    else:
        message = f"{'refused' if asked else 'not available'}: {decision.reason}"
    return Screen(at_s, decision.granted if asked else None, decision.granted and not asked, decision.left_in_24h,
                  decision.next_allowed_s, message)
