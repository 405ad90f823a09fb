"""Pointwise confidence limits of a probability, as R survival's ``survfit_confint``."""

import numpy as np
from scipy.stats import norm

from openidds.errors import OpenIDDSError

CONF_TYPES = ("log", "log-log", "plain")


def z_value(conf_level: float) -> float:
    return float(norm.ppf(1 - (1 - conf_level) / 2))


def limits(p: np.ndarray, se: np.ndarray, conf_type: str, conf_level: float) -> tuple[np.ndarray, np.ndarray]:
    """Limits for probability ``p`` with standard error ``se`` (of p itself).

    plain: p ± z·se, cut to [0, 1]; log: p·exp(±z·se/p), upper cut at 1, undefined at p = 0;
    log-log: exp(-exp(log(-log p) ∓ z·se/(p·log p))), undefined at p = 0 and p = 1.
    """
    z = z_value(conf_level)
    with np.errstate(divide="ignore", invalid="ignore"):
        if conf_type == "plain":
            return np.maximum(p - z * se, 0.0), np.minimum(p + z * se, 1.0)
        if conf_type == "log":
            safe = np.where(p > 0, p, np.nan)
            se_log = np.where(se == 0, 0.0, se / safe)
            return safe * np.exp(-z * se_log), np.minimum(safe * np.exp(z * se_log), 1.0)
        if conf_type == "log-log":
            safe = np.where((p > 0) & (p < 1), p, np.nan)
            shift = z * (se / safe) / np.log(safe)
            base = np.log(-np.log(safe))
            return np.exp(-np.exp(base - shift)), np.exp(-np.exp(base + shift))
    raise OpenIDDSError("conf_type", conf_type, f"one of {', '.join(CONF_TYPES)}")


def check(conf_type: str, conf_level: float) -> None:
    """Refuse an unknown transform or a confidence level outside (0, 1)."""
    if conf_type not in CONF_TYPES:
        raise OpenIDDSError("conf_type", conf_type, f"one of {', '.join(CONF_TYPES)}")
    if not 0 < conf_level < 1:
        raise OpenIDDSError("conf_level", conf_level, "a probability strictly between 0 and 1")
