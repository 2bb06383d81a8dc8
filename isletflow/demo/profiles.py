"""Who each sample trial's participants are and what the generator plants for each.

A profile is raw-level truth (a dose, a course of glucose control and insulin use, events on
given study days), never an endpoint value: the planted truth (truth.py) is worked out from the
values written. Profiles belong to the generator, not to the trial file; plans.py picks them by
the trial's study id.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass


@dataclass(frozen=True)
class Death:
    """A death on study ``day`` (follow-up ends the day before): the fatal adverse event with
    its onset (first entered as grade 4 "not recovered", updated to grade 5 "fatal" after the
    death), and the cause written on the disposition form. ``steroid``: the off-protocol
    glucocorticoid before it (the sample trial's cryptococcal meningitis, edc_lab.py)."""

    day: int
    ae_term: str
    ae_soc: str
    ae_onset: int
    cause: str
    steroid: bool = False
    action: str = "not_applicable"   # what was done with the immunosuppression (the AE form)


@dataclass(frozen=True)
class Profile:
    """What the generator plants for one participant (raw-level truth, not endpoint values).

    ``course``: how glucose, insulin, HbA1c and C-peptide evolve after the infusion
    (edc_lab.py, cgm.py): "independent" (off insulin from day 110-170), "reduced" (dose down
    70 %), "partial" (down 40 %), and in the second trial "graft_loss" (off insulin, back on
    from day 420), "nonresponder" (little change), "improved" (HbA1c down 1.4 points, still
    on insulin). ``neutropenia``: "serious" (ANC < 1000 /mm3 at the plan's neutropenia visit,
    a serious grade 3 adverse event) or "non_serious" (ANC 1000-1500, a grade 2 event).
    ``she_days_after_infusion``: severe hypoglycaemia with third-party assistance;
    ``she_unassisted_days``: events reported on the form that needed no one's help.
    ``cgm`` / ``clarity_columns``: a device or export layout other than the site's habit.
    Missing data the data manager must be asked about (missing.py): ``cgm_stop_day``, the
    device exports carry no reading after this study day (the sensor no longer worn);
    ``diary_missed_visit``, no insulin-diary day is entered in this visit's window;
    ``incomplete_form``, the first record of this core table's form is left incomplete
    (``<form>_complete`` 0) in REDCap. (``missed_visit``: no central-lab sample at it.)
    """

    participant_id: str
    dose_fraction: float
    course: str
    neutropenia: str | None = None
    death: Death | None = None
    withdraw_day: int | None = None
    she_days_after_infusion: tuple[int, ...] = ()
    she_unassisted_days: tuple[int, ...] = ()
    missed_visit: str | None = None
    cgm_gap_days: tuple[int, int] | None = None
    clarity_columns: int | None = None
    cgm: str | None = None
    study_part: str | None = None
    cgm_stop_day: int | None = None
    diary_missed_visit: str | None = None
    incomplete_form: str | None = None


# ---- ISLET-101, the sample trial (SEED-trial-news.txt; isletflow/demo/__init__.py) ----------
CRYPTOCOCCAL = Death(241, "Cryptococcal meningitis", "Infections and infestations", 226,
                     "Cryptococcal meningitis", steroid=True, action="interrupted")
NEUROCOGNITIVE = Death(301, "Neurocognitive disorder", "Psychiatric disorders", 250,
                       "Worsening of pre-existing neurocognitive disorder")


def _p101(pid: str, dose: str, course: str, **kw: object) -> Profile:
    """A sample-trial participant: Part A half dose or Part C full dose."""
    return Profile(pid, 0.5 if dose == "half" else 1.0, course,
                   study_part="A" if dose == "half" else "C", **kw)


# Order matters for --participants N: the first four cover every kind of participant and site.
PROFILES_101: tuple[Profile, ...] = (
    _p101("US01-001", "half", "partial", death=CRYPTOCOCCAL, she_days_after_infusion=(130,)),
    _p101("CA01-003", "full", "reduced"),
    _p101("DE01-001", "full", "independent", neutropenia="serious"),
    _p101("GB01-001", "full", "independent", she_days_after_infusion=(45,)),
    _p101("CA01-001", "half", "partial", death=NEUROCOGNITIVE, cgm_stop_day=280,
          diary_missed_visit="day_120"),
    _p101("US01-002", "full", "independent", neutropenia="serious"),
    _p101("US01-003", "full", "independent", incomplete_form="adverse_events"),
    _p101("US01-004", "full", "independent", missed_visit="day_90"),
    _p101("CA01-002", "full", "independent"),
    _p101("CA01-004", "full", "independent", clarity_columns=12),
    _p101("DE01-002", "full", "reduced"),
    _p101("DE01-003", "full", "independent", cgm_gap_days=(66, 85)),
    _p101("GB01-002", "full", "independent", missed_visit="day_270"),
    _p101("GB01-003", "full", "independent", neutropenia="serious"),
)
PROFILES = PROFILES_101

# ---- ISLET-301, the Phase 3-like second trial (trials/islet-301.toml) ------------------------
# 50 participants at 11 sites; 9 in the low-dose arm (half the target cell mass; one of them,
# MAD1-1001, responds as well as a reduced-dose target participant), 41 in the target arm.
# Planted: 3 deaths, 1 withdrawal, 4 serious and 1 non-serious neutropenia, 4 assisted severe
# hypoglycaemic events after infusion (one on day 45, before the primary window) and 1 that
# needed no help, 2 missed visits, 1 sensor gap. The first six cover both arms, a death, an
# in-window SHE, an unassisted one, neutropenia and a clock change (St John's, November
# 2023, in YYT1-1001's month-6 window), for --participants 6; Sydney's changes fall in
# SYD1-1005's windows (April and October 2024).
SEPSIS = Death(412, "Sepsis", "Infections and infestations", 405, "Urosepsis",
               action="interrupted")
EMBOLISM = Death(300, "Pulmonary embolism", "Respiratory, thoracic and mediastinal disorders",
                 298, "Pulmonary embolism")
INFARCTION = Death(610, "Acute myocardial infarction", "Cardiac disorders", 608,
                   "Acute myocardial infarction")


def _p301(pid: str, dose: float, course: str, **kw: object) -> Profile:
    return Profile(pid, dose, course, **kw)


PROFILES_301: tuple[Profile, ...] = (
    _p301("SYD1-1001", 1.0, "independent", neutropenia="serious"),
    _p301("YYT1-1001", 1.0, "independent", she_days_after_infusion=(200,)),
    _p301("TYO1-1001", 0.5, "partial", death=SEPSIS),
    _p301("NYC1-1001", 1.0, "reduced", she_unassisted_days=(300,)),
    _p301("PHX1-1001", 1.0, "graft_loss"),
    _p301("PAR1-1001", 1.0, "improved"),
    _p301("AKL1-1001", 1.0, "independent"),
    _p301("CCU1-1001", 1.0, "nonresponder"),
    _p301("JNB1-1001", 1.0, "independent", she_days_after_infusion=(45,)),
    _p301("MAD1-1001", 0.5, "reduced"),
    _p301("SAO1-1001", 1.0, "independent"),
    _p301("SYD1-1002", 1.0, "independent", cgm="libreview"),
    _p301("YYT1-1002", 1.0, "independent", withdraw_day=200),
    _p301("TYO1-1002", 1.0, "independent"),
    _p301("NYC1-1002", 0.5, "partial"),
    _p301("PHX1-1002", 1.0, "independent", neutropenia="serious"),
    _p301("PAR1-1002", 1.0, "independent", death=EMBOLISM),
    _p301("AKL1-1002", 1.0, "reduced"),
    _p301("CCU1-1002", 1.0, "independent", missed_visit="month_12"),
    _p301("JNB1-1002", 0.5, "partial"),
    _p301("MAD1-1002", 1.0, "independent", neutropenia="non_serious"),
    _p301("SAO1-1002", 1.0, "independent", she_days_after_infusion=(480,)),
    _p301("SYD1-1003", 0.5, "partial"),
    _p301("YYT1-1003", 1.0, "independent", cgm="libreview"),
    _p301("TYO1-1003", 1.0, "reduced"),
    _p301("NYC1-1003", 1.0, "independent", death=INFARCTION),
    _p301("PHX1-1003", 1.0, "independent"),
    _p301("PAR1-1003", 1.0, "nonresponder"),
    _p301("AKL1-1003", 1.0, "independent", cgm_gap_days=(340, 355)),
    _p301("CCU1-1003", 0.5, "partial"),
    _p301("JNB1-1003", 1.0, "independent"),
    _p301("MAD1-1003", 1.0, "graft_loss"),
    _p301("SAO1-1003", 1.0, "independent", neutropenia="serious"),
    _p301("SYD1-1004", 1.0, "independent", she_days_after_infusion=(650,)),
    _p301("YYT1-1004", 1.0, "reduced"),
    _p301("TYO1-1004", 1.0, "independent"),
    _p301("NYC1-1004", 1.0, "independent"),
    _p301("PHX1-1004", 0.5, "partial"),
    _p301("PAR1-1004", 1.0, "independent"),
    _p301("AKL1-1004", 1.0, "independent", missed_visit="month_24"),
    _p301("CCU1-1004", 1.0, "reduced"),
    _p301("JNB1-1004", 1.0, "nonresponder"),
    _p301("MAD1-1004", 1.0, "independent"),
    _p301("SAO1-1004", 0.5, "partial"),
    _p301("SYD1-1005", 1.0, "graft_loss"),
    _p301("YYT1-1005", 1.0, "independent", neutropenia="serious"),
    _p301("TYO1-1005", 1.0, "improved"),
    _p301("NYC1-1005", 1.0, "independent"),
    _p301("PHX1-1005", 1.0, "independent"),
    _p301("PAR1-1005", 0.5, "partial"),
)

# Personal data planted in the device exports (names on the export, never the trial ID).
FIRST_NAMES = ["Aino", "Brigitte", "Caspar", "Dolores", "Emeric", "Fenna", "Gideon",
               "Hedda", "Ignatius", "Jolanda", "Kasimir", "Liesbeth", "Marisol", "Nikodem"]
LAST_NAMES = ["Abernathy", "Brandvold", "Castellanos", "Dijkstra", "Eberhardt", "Fairweather",
              "Grunewald", "Hollingsworth", "Ilyushin", "Jankowski", "Kesselring",
              "Lindqvist", "Montgomery", "Nieuwenhuis"]


def site_of(pid: str) -> str:
    """The site of a participant: the participant ID's part before the first '-'."""
    return pid.split("-")[0]


def last_day(p: Profile, days: int) -> int:
    """Last study day with follow-up data (death ends follow-up the day before, a withdrawal
    on its day)."""
    end = days
    if p.death:
        end = min(end, p.death.day - 1)
    if p.withdraw_day is not None:
        end = min(end, p.withdraw_day)
    return end


def iso(day: dt.date, offset: int) -> str:
    """``day`` + ``offset`` days, as YYYY-MM-DD."""
    return (day + dt.timedelta(days=offset)).isoformat()
