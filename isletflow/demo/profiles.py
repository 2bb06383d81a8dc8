"""Who the sample trial's participants are and what the generator plants for each."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

BASE_INFUSION_DATE = dt.date(2024, 3, 4)
CGM_BASELINE_DAYS = 28
DEATH_DAY = {"cryptococcal": 241, "neurocognitive": 301}

# What each site sends (DESIGN.md, "Site exports").
SITE_EXPORTS = {
    "US01": {"cgm": "clarity", "glucose_unit": "mg/dL", "lab": "us"},
    "CA01": {"cgm": "clarity", "glucose_unit": "mmol/L", "lab": "ca"},
    "DE01": {"cgm": "clarity_de", "glucose_unit": "mmol/L", "lab": "de"},
    "GB01": {"cgm": "libreview", "glucose_unit": "mmol/L", "lab": "gb"},
}


@dataclass(frozen=True)
class Profile:
    """What the generator plants for one participant (raw-level truth, not endpoint values)."""

    participant_id: str
    dose: str  # "half" | "full"
    course: str  # "independent" | "reduced" | "partial"
    neutropenia: bool = False
    death: str | None = None  # "cryptococcal" | "neurocognitive"
    she_days_after_infusion: tuple[int, ...] = ()
    missed_visit: str | None = None
    cgm_gap_days: tuple[int, int] | None = None
    clarity_columns: int = 14


# Order matters for --participants N: the first four cover every kind of participant and site.
PROFILES: tuple[Profile, ...] = (
    Profile("US01-001", "half", "partial", death="cryptococcal", she_days_after_infusion=(130,)),
    Profile("CA01-003", "full", "reduced"),
    Profile("DE01-001", "full", "independent", neutropenia=True),
    Profile("GB01-001", "full", "independent", she_days_after_infusion=(45,)),
    Profile("CA01-001", "half", "partial", death="neurocognitive"),
    Profile("US01-002", "full", "independent", neutropenia=True),
    Profile("US01-003", "full", "independent"),
    Profile("US01-004", "full", "independent", missed_visit="day_90"),
    Profile("CA01-002", "full", "independent"),
    Profile("CA01-004", "full", "independent", clarity_columns=12),
    Profile("DE01-002", "full", "reduced"),
    Profile("DE01-003", "full", "independent", cgm_gap_days=(66, 85)),
    Profile("GB01-002", "full", "independent", missed_visit="day_270"),
    Profile("GB01-003", "full", "independent", neutropenia=True),
)

FIRST_NAMES = ["Aino", "Brigitte", "Caspar", "Dolores", "Emeric", "Fenna", "Gideon",
               "Hedda", "Ignatius", "Jolanda", "Kasimir", "Liesbeth", "Marisol", "Nikodem"]
LAST_NAMES = ["Abernathy", "Brandvold", "Castellanos", "Dijkstra", "Eberhardt", "Fairweather",
              "Grunewald", "Hollingsworth", "Ilyushin", "Jankowski", "Kesselring",
              "Lindqvist", "Montgomery", "Nieuwenhuis"]


def site_of(pid: str) -> str:
    return pid.split("-")[0]


def infusion_date(k: int) -> dt.date:
    """Infusions are staggered three weeks apart, in profile order."""
    return BASE_INFUSION_DATE + dt.timedelta(days=21 * k)


def last_day(p: Profile, days: int) -> int:
    """Last study day with follow-up data (death ends follow-up)."""
    return min(days, DEATH_DAY[p.death] - 1) if p.death else days


def day_iso(k: int, d: int) -> str:
    return (infusion_date(k) + dt.timedelta(days=d)).isoformat()
