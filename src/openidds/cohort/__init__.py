"""Virtual cohorts: simulated IDDS patients run through the real system, checked against published studies.

The studies (design and published targets) are data files read by :func:`load_study`. Every patient, site
and report made here is synthetic: the baseline of each patient is drawn to match a published study
(:mod:`openidds.cohort.baseline`), the course of the disease and the therapy is drawn next
(:mod:`openidds.cohort.course`), and a virtual clinic plays it through a real pump and programmer into a
registry (:mod:`openidds.cohort.clinic_run`, :mod:`openidds.cohort.simulate`).
"""

from openidds.cohort.study import (
    Design,
    Interval,
    Metric,
    Study,
    StudyError,
    Target,
    Use,
    bundled_studies,
    load_study,
    parse_study,
)

__all__ = ["Design", "Interval", "Metric", "Study", "StudyError", "Target", "Use", "bundled_studies", "load_study",
           "parse_study"]
