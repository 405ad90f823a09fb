"""How numbers are printed in the report: fixed decimals, NA for a missing estimate, p-values to 2 figures."""

import math

NA = "NA"


def known(value: float | None) -> float | None:
    """``value``, or None when it is missing (None or NaN)."""
    return None if value is None or (isinstance(value, float) and math.isnan(value)) else value


def missing(value: float | None) -> bool:
    return known(value) is None


def num(value: float | None, digits: int = 2) -> str:
    return NA if missing(value) else f"{value:.{digits}f}"


def _span(lower: float | None, upper: float | None, low: str, high: str) -> str:
    """``low–high``, or ``low to high`` when a limit is negative (so a minus sign is never read as a dash)."""
    negative = any(v is not None and v < 0 for v in (known(lower), known(upper)))
    return f"{low} to {high}" if negative else f"{low}–{high}"


def ci(lower: float | None, upper: float | None, digits: int = 2) -> str:
    return _span(lower, upper, num(lower, digits), num(upper, digits))


def pct(value: float | None, digits: int = 1) -> str:
    share = known(value)
    return NA if share is None else f"{100 * share:.{digits}f}%"


def pct_ci(lower: float | None, upper: float | None, digits: int = 1) -> str:
    return _span(lower, upper, pct(lower, digits), pct(upper, digits))


def count_pct(count: int, total: int, digits: int = 1) -> str:
    return f"{count} ({pct(count / total, digits)})" if total else f"{count} ({NA})"


def pval(p: float | None) -> str:
    """``p < 0.0001`` below that, else two significant figures (0.0007, 0.026, 0.25)."""
    value = known(p)
    if value is None:
        return NA
    if value < 0.0001:
        return "< 0.0001"
    return f"{value:.2g}" if value < 0.1 else f"{value:.2f}"


def p_is(p: float | None) -> str:
    """``p = 0.0026`` or ``p < 0.0001``, for running text."""
    shown = pval(p)
    return f"p {shown}" if shown.startswith("<") else f"p = {shown}"


def keep(text: str) -> str:
    """No-break spaces inside ``7.1 ± 1.5`` and ``-4.4 to -3.8``, so a table cell never wraps there."""
    return text.replace(" ± ", "\u00a0±\u00a0").replace(" to ", "\u00a0to\u00a0")
