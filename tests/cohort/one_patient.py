"""One virtual patient for the clinic-run tests: a seed 000 course drawn once, made quiet (no complication,
dose change or bolus; death on day 300) and then changed as a test needs."""

import dataclasses
import datetime as dt
from typing import Any

import numpy as np

from openidds.cohort.baseline import Baseline, sample_baselines
from openidds.cohort.course import ExitReason, PatientCourse, Schedule, draw_course
from openidds.cohort.params import Params

SCHEDULE = Schedule(dt.date(2016, 3, 1), dt.date(2022, 1, 1), (1, 3, 6, 12), telephone=False, patient_reported=True)


def a_course(params: Params, **changes: Any) -> tuple[Baseline, PatientCourse]:
    rng = np.random.default_rng(4)
    baseline = sample_baselines(params.baseline, 1, rng)[0]
    course = draw_course(baseline, params.course, SCHEDULE, rng)
    quiet = dict(death_day=300, exit_day=300, exit_reason=ExitReason.DEATH, end_day=300, complications=(),
                 occlusion_day=None, revision_days=(), explant_day=None, dose_changes=(), bolus_times_s=())
    return baseline, dataclasses.replace(course, **{**quiet, **changes})
