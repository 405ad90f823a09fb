"""The month the project reports time in: the mean Gregorian month, 365.25 / 12 = 30.4375 days.

A leaf module (no imports), so the core, the registry, the cohorts and the command line share the one value.
"""

DAYS_PER_MONTH = 365.25 / 12
