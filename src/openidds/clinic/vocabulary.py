"""Controlled vocabularies of the registry: the codes a field may hold, stored as they are written here."""

SEX = ("female", "male", "other", "unknown")
CANCER_TYPES = (
    "lung", "breast", "colorectal", "pancreas", "prostate", "liver", "stomach", "esophagus", "head_and_neck",
    "kidney", "bladder", "cervix", "ovary", "uterus", "hematologic", "sarcoma", "melanoma", "brain",
    "unknown_primary", "other",
)
#: ``none`` records that the patient has none (an empty field means "not recorded").
METASTASIS_SITES = ("bone", "liver", "lung", "brain", "peritoneum", "lymph_nodes", "adrenal", "other", "none")
PAIN_LOCATIONS = (
    "lumbosacral", "abdomen", "back", "lower_extremity", "perineal", "chest", "head_and_neck",
    "upper_extremity", "pelvis", "other",
)
ADJUVANT_DRUGS = ("nsaid", "anticonvulsant", "antidepressant", "corticosteroid", "other", "none")
IMPLANT_REASONS = ("inadequate_relief", "intolerable_side_effects", "both")
INSURANCE = ("public", "private", "self_pay", "mixed", "none", "other")
TRIAL_ROUTES = ("intrathecal", "epidural")
TRIAL_RESPONSES = ("positive", "negative", "equivocal")
DRUGS = (
    "morphine", "hydromorphone", "fentanyl", "sufentanil", "bupivacaine", "ropivacaine", "clonidine",
    "ziconotide", "baclofen",
)
IMPLANT_KINDS = ("initial", "replacement", "revision")
EXPLANT_REASONS = ("infection", "wound_healing", "malfunction", "battery_end_of_service", "therapy_stopped",
                   "no_benefit", "death", "other")
PROGRAM_MODES = ("continuous", "flex")
ALARM_KINDS = ("alarm", "fault")
ALARM_SEVERITIES = ("critical", "non_critical")
ALARM_SOURCES = ("pump", "programmer")
VISIT_TYPES = ("baseline", "follow_up", "telephone", "unscheduled")
OPIOID_CHANGES = ("stopped", "reduced", "unchanged", "increased")
SATISFACTION = ("very_satisfied", "satisfied", "neutral", "dissatisfied", "very_dissatisfied")
RESPONDENTS = ("patient", "family")
#: Why a respondent was not satisfied (the reasons Wang et al., Heliyon 2024, report).
DISSATISFACTION_REASONS = ("poor_pain_control", "refill_burden", "short_survival", "other")
EQ5D_VERSIONS = ("5L", "3L")
COMPLICATION_KINDS = (
    "postdural_puncture_headache", "fever", "urinary_retention", "constipation", "infection",
    "wound_healing", "csf_leak", "catheter_occlusion", "catheter_migration", "granuloma", "pump_malfunction",
    "overdose", "withdrawal", "seroma", "bleeding", "death", "other",
)
COMPLICATION_ACTIONS = ("none", "medical", "reoperation", "revision", "explant", "death")
SURGICAL_ACTIONS = ("reoperation", "revision", "explant")
EXIT_REASONS = (
    "death", "explant", "therapy_stopped", "transfer_of_care", "lost_to_follow_up", "site_closure",
    "withdrew_consent",
)

#: Complication grade, after NCI CTCAE v5 general grading: a grade of 3 or more is a *severe* complication.
SEVERITY_GRADES = {
    1: "mild: no or minimal intervention",
    2: "moderate: local or non-invasive intervention",
    3: "severe or medically significant: hospitalisation or surgery",
    4: "life-threatening: urgent intervention",
    5: "death related to the complication",
}
SEVERE_GRADE = 3

#: Refill discrepancy |withdrawn − expected| above which a refill is flagged, by reservoir size
#: (>1 mL for a 20 mL pump, >2 mL for a 40 mL pump; Maino et al., Neuromodulation 2017).
DISCREPANCY_LIMIT_ML = {20.0: 1.0, 40.0: 2.0}
