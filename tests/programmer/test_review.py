"""The review's assessment is kept for the inputs last asked: given again, it is the one made afresh."""

from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from openidds.drugs import default_library
from openidds.programmer.policy import Policy
from openidds.programmer.review import _assess, assess
from openidds.pump import Continuous, PatientBolus, PumpSpec, Solution, Therapy

LIBRARY = default_library()


def therapy(rate: str, limit: object, bolus_ml: str | None) -> Therapy:
    bolus = None if bolus_ml is None else PatientBolus(bolus_ml, 600, 7200, 4)
    return Therapy(Continuous(rate), {"morphine": limit}, bolus)


@settings(max_examples=40, deadline=None)
@given(st.sampled_from(["0.3", "0.5", "1.2"]), st.sampled_from(["3", "5", "12", "30"]),
       st.sampled_from([None, "0.03", "0.1"]), st.sampled_from(["10", "25"]), st.booleans())
def test_a_kept_assessment_is_the_one_made_afresh(rate, limit, bolus_ml, mg_per_ml, with_old):
    solution = Solution.of({"morphine": mg_per_ml})
    new = therapy(rate, limit, bolus_ml)
    old, old_solution = (therapy("0.4", "20", None), Solution.of({"morphine": "10"})) if with_old else (None, None)
    args = (new, solution, PumpSpec(), LIBRARY, Policy(), old, old_solution)
    fresh = _assess(*args)
    assert assess(*args) == fresh
    again = (therapy(rate, limit, bolus_ml), Solution.of({"morphine": mg_per_ml}), PumpSpec(), LIBRARY, Policy(),
             None if old is None else therapy("0.4", "20", None), old_solution)
    assert assess(*again) == fresh


def test_limits_equal_in_value_but_written_differently_are_shown_as_written():
    """A limit too low for the pump's minimum-rate fallback is a finding that shows the limit as given."""
    solution = Solution.of({"morphine": "10"})
    shown = []
    for limit in ("3", Decimal("3.0"), "3"):
        _, findings = assess(therapy("0.3", limit, None), solution, PumpSpec(), LIBRARY, Policy(), None, None)
        shown.append(next(f.value for f in findings if f.id == "morphine.max_24h"))
    assert shown == ["3", "3.0", "3"]
