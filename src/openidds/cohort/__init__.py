"""Virtual cohorts: synthetic IDDS cancer-pain patients run through the real pump, programmer and registry.

Every patient, site and report made here is synthetic. The baseline of each patient is drawn to match a
published study (:mod:`openidds.cohort.baseline`), the course of the disease and the therapy is drawn next
(:mod:`openidds.cohort.course`), and a virtual clinic plays it through a real pump and programmer into a
registry (:mod:`openidds.cohort.clinic_run`, :mod:`openidds.cohort.simulate`).
"""
