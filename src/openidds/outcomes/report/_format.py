"""How numbers are printed in the report: fixed decimals, NA for a missing estimate, p-values to 2 figures."""

import math

DAYS_PER_MONTH = 365.25 / 12
NA = "NA"


def missing(value: float | None) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def num(value: float | None, digits: int = 2) -> str:
    return NA if missing(value) else f"{value:.{digits}f}"


def _span(lower: float | None, upper: float | None, low: str, high: str) -> str:
    """``low–high``, or ``low to high`` when a limit is negative (so a minus sign is never read as a dash)."""
    negative = any(not missing(v) and v < 0 for v in (lower, upper))
    return f"{low} to {high}" if negative else f"{low}–{high}"


def ci(lower: float | None, upper: float | None, digits: int = 2) -> str:
    return _span(lower, upper, num(lower, digits), num(upper, digits))


def pct(value: float | None, digits: int = 1) -> str:
    return NA if missing(value) else f"{100 * value:.{digits}f}%"


def pct_ci(lower: float | None, upper: float | None, digits: int = 1) -> str:
    return _span(lower, upper, pct(lower, digits), pct(upper, digits))


def count_pct(count: int, total: int, digits: int = 1) -> str:
    return f"{count} ({pct(count / total, digits)})" if total else f"{count} ({NA})"


def pval(p: float | None) -> str:
    """``p < 0.0001`` below that, else two significant figures (0.0007, 0.026, 0.25)."""
    if missing(p):
        return NA
    if p < 0.0001:
        return "< 0.0001"
    return f"{p:.2g}" if p < 0.1 else f"{p:.2f}"


def p_is(p: float | None) -> str:
    """``p = 0.0026`` or ``p < 0.0001``, for running text."""
    shown = pval(p)
    return f"p {shown}" if shown.startswith("<") else f"p = {shown}"


def keep(text: str) -> str:
    """No-break spaces inside ``7.1 ± 1.5`` and ``-4.4 to -3.8``, so a table cell never wraps there."""
    return text.replace(" ± ", "\u00a0±\u00a0").replace(" to ", "\u00a0to\u00a0")
