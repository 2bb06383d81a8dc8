"""What the generator plants for each trial beyond its trial file, chosen by the study id.

The trial file (trials/<name>.toml, isletflow/trial.py) says what the trial *is*: sites and
their clocks, visits, REDCap events, forms, fields and codes, lab test codes and units. A
:class:`DemoPlan` says what the sample data *holds* and how each site *sends* it: the
participants and their planted outcomes (profiles.py), when they were infused, which device
each site's participants wear and how their exports look, how each site's lab writes its files,
which sites send REDCap's whole-project export, the REDCap fields no core column reads (date of
birth, race, ...) and a form field added mid-study, the protocol medications, the diary
schedule, and which participants carry the sample trial's special cases (a corrected CGM
re-export, a Libre Pro report, a corrected lab result, the planted faults).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from isletflow.demo.profiles import PROFILES_101, PROFILES_301, Profile
from isletflow.trial import Trial


@dataclass(frozen=True)
class CgmHabit:
    """The device a site's participants wear and how its export looks.

    ``device``: "clarity" (Dexcom Clarity CSV; ``language`` "en" or "de": the German export
    with ';' and decimal commas) or "libreview" (``language`` "en" or "fr";
    ``timestamps`` "dmy" = DD-MM-YYYY HH:MM, "us" = MM-DD-YYYY hh:mm AM/PM, "ymd" =
    YYYY/MM/DD HH:MM). ``unit``: mg/dL or mmol/L. ``columns``: Clarity's 14-column layout or
    the older 12 (no transmitter columns)."""

    device: str
    unit: str
    language: str = "en"
    timestamps: str = "dmy"
    columns: int = 14


@dataclass(frozen=True)
class LabStyle:
    """How a lab writes its result files. ``tests``: analyte -> (test name, unit, decimals of
    the result); the unit must be one the trial lists for that analyte's test code.
    ``extra_columns``: the lab adds its accession number, reference range and abnormal flag
    after the seven columns of the landing contract. ``file_name``: with ``{day}``
    (YYYY-MM-DD), ``{ymd}`` (YYYYMMDD) and ``{site}``."""

    sep: str
    comma: bool
    encoding: str
    tests: dict[str, tuple[str, str, int]]
    file_name: str = "central_lab_transfer_{day}.csv"
    extra_columns: bool = False
    # analyte -> (low, high) of the reference range in the sent unit, for extra_columns
    reference: dict[str, tuple[float, float]] = field(default_factory=dict)


@dataclass(frozen=True)
class SiteHabits:
    """``edc``: "forms" (one export per form) or "project" (the whole-project export);
    ``dictionary``: the site sends the project's data dictionary with its first export and
    again after the amendment. One site of a project at most: every download of a project's
    dictionary is the same file, and the landing sets the same content received at a second
    site aside as a duplicate."""

    cgm: CgmHabit
    lab: str            # key of DemoPlan.lab_styles
    edc: str = "forms"
    dictionary: bool = False


@dataclass(frozen=True)
class DemoPlan:
    """Everything the generator needs for one trial that its trial file does not hold."""

    study_id: str
    profiles: tuple[Profile, ...]
    first_infusion: dt.date
    infusion_every_days: int      # infusions staggered this many days apart, in profile order
    enrolment_day: int            # study day of consent (the enrolment date)
    sites: dict[str, SiteHabits]
    lab_styles: dict[str, LabStyle]
    lab_schedule: dict[str, tuple[str, ...]]  # visit name -> analytes drawn at it
    neutropenia_visit: str        # visit whose ANC is low for a participant with neutropenia
    protocol_medications: tuple[str, ...]
    project: str                  # REDCap project name in file names
    # file names of REDCap downloads: {project}, {form}, {day} (YYYY-MM-DD)
    form_file: str
    project_file: str = "{project}_DATA_{day}_0600.csv"
    dictionary_file: str = "{project}_DataDictionary_{day}.csv"
    # REDCap fields no core column reads, by what the generator writes into them: "dob" (date
    # of birth, an identifier), "race" (a checkbox), "ae_action" (action taken with the
    # immunosuppression), "lot" (the product lot infused)
    extras: dict[str, str] = field(default_factory=dict)
    race_boxes: tuple[str, str] = ("1", "5")  # the box checked when k % 5 == 0, else
    ae_action_codes: dict[str, str] = field(default_factory=dict)  # what was done -> code
    amendment_fields: tuple[str, ...] = ()  # fields added to their form mid-study
    # the event of the repeating forms after infusion (diary, AEs, medications, events);
    # None: the event of the visit whose window the record's day falls in (or the latest
    # visit before it)
    follow_up_event: str | None = None
    cgm_exports: str = "two_overlapping"  # or "per_window": one export around each window
    cgm_baseline_days: int = 28   # CGM worn from this many days before infusion
    diary: str = "daily"          # or "around_visits": CGM windows and the week(s) before visits
    edc_every_days: int = 7
    lab_every_days: int = 28
    lab_model: str = "101"        # the value model of edc_lab.lab_value (course -> values)
    corrected_cgm_participant: str | None = None
    libre_pro_participant: str | None = None
    corrected_lab_participant: str | None = None
    plant_faults: bool = False    # the sample trial's 17 faulty files and rows (faults.py)
    copies: int = 1               # a scaled plan's copies of the profiles (scale.py)

    def infusion_date(self, k: int) -> dt.date:
        """Infusion date of the k-th participant (profile order): ``infusion_every_days``
        apart. In a scaled plan (scale.py: ``copies`` copies, copy-major) copy ``c`` of the
        ``j``-th profile is infused ``c mod infusion_every_days`` days after the ``j``-th."""
        copy, j = divmod(k, len(self.profiles) // self.copies)
        return self.first_infusion + dt.timedelta(
            days=self.infusion_every_days * j + copy % self.infusion_every_days)

    def cgm_habit(self, p: Profile) -> CgmHabit:
        """The participant's device and export: the site's, or the profile's own device."""
        habit = self.sites[p.participant_id.split("-")[0]].cgm
        if p.cgm and p.cgm != habit.device:
            unit = habit.unit
            habit = CgmHabit(p.cgm, unit)
        if p.clarity_columns is not None:
            habit = CgmHabit(habit.device, habit.unit, habit.language, habit.timestamps,
                             p.clarity_columns)
        return habit


ANALYTES = ("hba1c", "c_peptide_fasting", "c_peptide_stimulated", "anc")
FULL_PANEL = ANALYTES

# ---- ISLET-101 -------------------------------------------------------------------------------
# Each site sends what it would really send (DESIGN.md, "Site exports"); values are planted in
# NGSP %, pmol/L and cells/mm3 and converted by the trial's units to what the lab sends.
PLAN_101 = DemoPlan(
    study_id="ISLET-101",
    profiles=PROFILES_101,
    first_infusion=dt.date(2024, 3, 4),
    infusion_every_days=21,
    enrolment_day=-35,
    sites={
        "US01": SiteHabits(CgmHabit("clarity", "mg/dL"), "us"),
        "CA01": SiteHabits(CgmHabit("clarity", "mmol/L"), "ca"),
        "DE01": SiteHabits(CgmHabit("clarity", "mmol/L", language="de"), "de"),
        "GB01": SiteHabits(CgmHabit("libreview", "mmol/L"), "gb", edc="project",
                           dictionary=True),
    },
    lab_styles={
        "us": LabStyle(",", False, "utf-8", {
            "hba1c": ("Hemoglobin A1c", "%", 1),
            "c_peptide_fasting": ("C-peptide, fasting", "pmol/L", 0),
            "c_peptide_stimulated": ("C-peptide, 90 min mixed-meal stimulated", "pmol/L", 0),
            "anc": ("Absolute neutrophil count", "cells/mm3", 0)}),
        "ca": LabStyle(",", False, "utf-8", {
            "hba1c": ("Hemoglobin A1c", "%", 1),
            "c_peptide_fasting": ("C-peptide, fasting", "nmol/L", 3),
            "c_peptide_stimulated": ("C-peptide, 90 min MMTT", "nmol/L", 3),
            "anc": ("Neutrophils, absolute", "10^9/L", 2)}),
        "de": LabStyle(";", True, "latin-1", {
            "hba1c": ("Hämoglobin A1c (IFCC)", "mmol/mol", 0),
            "c_peptide_fasting": ("C-Peptid nüchtern", "ng/mL", 2),
            "c_peptide_stimulated": ("C-Peptid stimuliert (90 min)", "ng/mL", 2),
            "anc": ("Neutrophile absolut", "G/l", 2)}),
        "gb": LabStyle(",", False, "utf-8", {
            "hba1c": ("HbA1c (IFCC)", "mmol/mol", 0),
            "c_peptide_fasting": ("C-peptide, fasting", "pmol/L", 0),
            "c_peptide_stimulated": ("C-peptide, stimulated", "pmol/L", 0),
            "anc": ("Neutrophil count", "x10^9/L", 2)}),
    },
    lab_schedule={"screening": FULL_PANEL, "day_28": ("anc",), "day_56": ("anc",),
                  "day_90": FULL_PANEL, "day_120": ("anc",), "day_180": FULL_PANEL,
                  "day_270": FULL_PANEL, "day_365": FULL_PANEL},
    neutropenia_visit="day_56",
    protocol_medications=("Tacrolimus", "Mycophenolate mofetil", "Valganciclovir",
                          "Sulfamethoxazole/trimethoprim"),
    project="IsletTrial",  # REDCap names downloads after the project: <PROJECT>_DATA_<date>.csv
    form_file="{form}_{day}.csv",
    extras={"dob": "dob", "race": "race", "ae_action": "ae_action_taken"},
    race_boxes=("1", "5"),
    ae_action_codes={"none": "1", "reduced": "2", "interrupted": "3", "withdrawn": "4",
                     "not_applicable": "5"},
    amendment_fields=("ae_action_taken",),
    follow_up_event="follow_up_arm_1",
    corrected_cgm_participant="CA01-003",
    libre_pro_participant="GB01-002",
    corrected_lab_participant="CA01-003",
    plant_faults=True,
)

# ---- ISLET-301 -------------------------------------------------------------------------------
# One global central lab for every site (one vendor, one layout): HbA1c IFCC only, C-peptide
# in nmol/L, ANC in 10^9/L, with its accession number, reference range and flag.
_LAB_301 = LabStyle(",", False, "utf-8", {
    "hba1c": ("HbA1c, IFCC", "mmol/mol", 0),
    "c_peptide_fasting": ("C-Peptide, fasting", "nmol/L", 3),
    "c_peptide_stimulated": ("C-Peptide, MMTT 90 min", "nmol/L", 3),
    "anc": ("Neutrophils, absolute", "10^9/L", 2)},
    file_name="ISL301_{site}_RESULTS_{ymd}.csv", extra_columns=True,
    reference={"hba1c": (20, 42), "c_peptide_fasting": (0.26, 1.03),
               "c_peptide_stimulated": (0.8, 3.0), "anc": (1.8, 7.7)})
PLAN_301 = DemoPlan(
    study_id="ISLET-301",
    profiles=PROFILES_301,
    first_infusion=dt.date(2023, 5, 8),
    infusion_every_days=4,
    enrolment_day=-45,
    sites={
        "SYD1": SiteHabits(CgmHabit("clarity", "mmol/L"), "central", edc="project",
                           dictionary=True),
        "AKL1": SiteHabits(CgmHabit("libreview", "mmol/L"), "central"),
        "TYO1": SiteHabits(CgmHabit("libreview", "mg/dL", timestamps="ymd"), "central",
                           edc="project"),
        "CCU1": SiteHabits(CgmHabit("libreview", "mg/dL"), "central"),
        "JNB1": SiteHabits(CgmHabit("clarity", "mmol/L"), "central"),
        "PAR1": SiteHabits(CgmHabit("libreview", "mg/dL", language="fr"), "central",
                           edc="project"),
        "MAD1": SiteHabits(CgmHabit("clarity", "mg/dL", columns=12), "central"),
        "YYT1": SiteHabits(CgmHabit("clarity", "mmol/L"), "central"),
        "PHX1": SiteHabits(CgmHabit("clarity", "mg/dL"), "central"),
        "NYC1": SiteHabits(CgmHabit("libreview", "mg/dL", timestamps="us"), "central"),
        "SAO1": SiteHabits(CgmHabit("libreview", "mg/dL"), "central", edc="project"),
    },
    lab_styles={"central": _LAB_301},
    lab_schedule={"screening": FULL_PANEL, "week_4": ("anc",),
                  "month_3": ("hba1c", "c_peptide_fasting", "anc"), "month_6": FULL_PANEL,
                  "month_9": ("hba1c", "anc"), "month_12": FULL_PANEL,
                  "month_18": FULL_PANEL, "month_24": FULL_PANEL},
    neutropenia_visit="week_4",
    protocol_medications=("Tacrolimus", "Sirolimus", "Valganciclovir",
                          "Trimethoprim/sulfamethoxazole", "Basiliximab"),
    project="ISLET301",
    form_file="{project}-{form}_DATA_{day}_0600.csv",
    extras={"dob": "brthdat", "race": "dm_race", "ae_action": "aeacn", "lot": "tx_lot"},
    race_boxes=("asian", "white"),
    ae_action_codes={"none": "NONE", "reduced": "RED", "interrupted": "INT",
                     "withdrawn": "WD", "not_applicable": "NA"},
    amendment_fields=("aeacn",),
    cgm_exports="per_window",
    diary="around_visits",
    lab_model="301",
)

PLANS = {p.study_id: p for p in (PLAN_101, PLAN_301)}


def plan_for(trial: Trial) -> DemoPlan:
    """The generator's plan for ``trial`` (by its study id), checked against the trial file:
    the plan's sites are the trial's, its lab units are units the trial lists, its visits
    exist."""
    plan = PLANS.get(trial.study.id)
    if plan is None:
        raise ValueError(f"no sample data plan for study {trial.study.id!r} "
                         f"(isletflow/demo/plans.py has {', '.join(PLANS)})")
    problems = []
    if set(plan.sites) != set(trial.site_ids):
        problems.append(f"sites {sorted(plan.sites)} are not the trial's {trial.site_ids}")
    visits = {v.name for v in trial.visits}
    for name in [*plan.lab_schedule, plan.neutropenia_visit,
                 *(p.missed_visit for p in plan.profiles if p.missed_visit)]:
        if name not in visits:
            problems.append(f"visit {name!r} is not in the trial")
    units = {t.analyte: {u.unit.lower() for u in t.units} for t in trial.lab_tests}
    for key, style in plan.lab_styles.items():
        for analyte, (_, unit, _) in style.tests.items():
            if unit.lower() not in units.get(analyte, set()):
                problems.append(f"lab style {key}: {analyte} in {unit!r}, which the trial "
                                f"does not list")
    if problems:
        raise ValueError(f"sample data plan {plan.study_id}: " + "; ".join(problems))
    return plan
