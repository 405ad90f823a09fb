"""Virtual cohorts: simulated IDDS patients run through the real system, checked against published studies.

The studies (design and published targets) are data files read by :func:`load_study`.
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
