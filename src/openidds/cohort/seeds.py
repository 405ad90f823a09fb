"""The seed a cohort is drawn from: a whole number, 0 or more, as numpy's ``SeedSequence`` takes it."""

from __future__ import annotations

from openidds.errors import OpenIDDSError


def checked_seed(seed: int) -> int:
    """``seed`` itself if it is a whole number, 0 or more; otherwise an error naming it."""
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise OpenIDDSError("seed", seed, "a whole number, 0 or more (the same seed gives the same cohort)")
    return seed
