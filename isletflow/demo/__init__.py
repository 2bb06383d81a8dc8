"""Sample trial generator: raw site exports that reproduce the published trial.

The trial (SEED-trial-news.txt; Reichman et al., NEJM 2025, zimislecel): 14 adults at sites in
North America and Europe, a single portal-vein infusion; 2 received a half dose (Part A) and 12
the full dose. Among the 12: no severe hypoglycaemia, HbA1c < 7 %, time in range > 70 %; 10
stopped insulin, 2 reduced their dose. Serious neutropenia in 3; 2 deaths (cryptococcal
meningitis after off-protocol steroid use; worsening of a pre-existing neurocognitive condition).

The generator plants *raw values* only (glucose traces, lab results, diary doses, event forms)
whose correct analysis yields that headline. It never writes an endpoint value. Choices that the
publication leaves open, made here and documented so a reader can check them:

* Both deaths are placed in the two half-dose (Part A) participants, so the 12 full-dose
  participants all complete day 365 and the efficacy headline stays about all 12.
* Reduced-dose participants: CA01-003 and DE01-002. Serious neutropenia: US01-002, DE01-001,
  GB01-003 (ANC nadir < 1000 /mm3 on day 56, CTCAE v5 grade 3).
* Each site sends what it would really send (profiles.SITE_EXPORTS): US01 Dexcom Clarity in
  mg/dL; CA01 Clarity in mmol/L (CA01-004 the older 12-column layout); DE01 the German Clarity
  export (';', decimal comma, mmol/L); GB01 LibreView (day-first, mmol/L, 15-min historic
  readings plus scans). Labs: US %, pmol/L, /mm3; CA nmol/L and 10^9/L; DE IFCC mmol/mol,
  ng/mL, G/l in ';' with decimal commas and Latin-1; GB IFCC mmol/mol.
* Every CGM trace comes as two exports that overlap (a cumulative re-export); CA01-003's later
  export corrects three readings of the earlier one.
* Noise: sensor warm-up gaps, random signal losses, a 20-day sensor gap inside DE01-003's
  day-90 window, missed lab visits (US01-004 day 90, GB01-002 day 270), a severe hypoglycaemic
  event on day 45 (GB01-001, before the day 90-365 window), ~4 % of insulin-diary days missing.
* Faulty files and rows (faults.plant_faults), each listed in the manifest with its rule.

Deterministic for a seed: the same seed gives byte-identical files (and file times).
"""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from isletflow.demo.cgm import device_exports
from isletflow.demo.edc_lab import edc_and_lab
from isletflow.demo.faults import PlantedFault, plant_faults
from isletflow.demo.profiles import PROFILES, SITE_EXPORTS, infusion_date, last_day, site_of

CORRECTED_PARTICIPANT = "CA01-003"


@dataclass
class TrialManifest:
    """What was written, for the caller. The planted personal data is kept only so tests can
    prove it never reaches the warehouse; the planted faults, so they can prove each is found."""

    out_dir: Path
    participants: list[str]
    files: list[Path] = field(default_factory=list)
    planted_phi: list[str] = field(default_factory=list)
    planted_faults: list[PlantedFault] = field(default_factory=list)
    n_cgm_rows: int = 0
    cut_date: dt.date | None = None


def _set_received(path: Path, day: dt.date) -> None:
    """File time = when the site sent it (06:00 UTC that day); as-of cuts rely on it."""
    ts = dt.datetime.combine(day, dt.time(6), tzinfo=dt.UTC).timestamp()
    os.utime(path, (ts, ts))


def generate_trial(out_dir: Path, seed: int = 20250620, participants: int = 14,
                   days: int = 365, faults: bool = True) -> TrialManifest:
    """Write the sample trial's landing area under ``out_dir`` (``<site>/cgm|edc|lab/...``)."""
    if not 1 <= participants <= len(PROFILES):
        raise ValueError(f"participants must be between 1 and {len(PROFILES)}")
    if days < 1:
        raise ValueError("days must be at least 1")
    rng = np.random.default_rng(seed)
    chosen = list(enumerate(PROFILES))[:participants]
    m = TrialManifest(out_dir=out_dir, participants=[p.participant_id for _, p in chosen])
    m.cut_date = max(infusion_date(k) + dt.timedelta(days=last_day(p, days) + 1)
                     for k, p in chosen)
    received: dict[Path, dt.date] = {}  # when each CGM export was sent; the rest at cut date
    for k, p in chosen:
        site = site_of(p.participant_id)
        exports = device_exports(p, k, days, SITE_EXPORTS[site], rng, m.planted_phi,
                                 correction=p.participant_id == CORRECTED_PARTICIPANT)
        for name, text, end_day, n in exports:
            path = out_dir / site / "cgm" / name
            path.parent.mkdir(parents=True, exist_ok=True)
            bom = "\ufeff" if "clarity" in name else ""
            path.write_bytes((bom + text).encode("utf-8"))
            m.files.append(path)
            m.n_cgm_rows += n
            received[path] = infusion_date(k) + dt.timedelta(days=end_day + 1)
    for site, files in edc_and_lab(chosen, days, rng).items():
        for rel, data in files.items():
            path = out_dir / site / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
            m.files.append(path)
    if faults:
        m.planted_faults = plant_faults(out_dir, set(m.participants),
                                        {p.participant_id: k for k, p in chosen})
        m.files += sorted({out_dir / f.rel_path for f in m.planted_faults} - set(m.files))
    for f in m.planted_faults:  # the faulty files came in after the rest
        received[out_dir / f.rel_path] = m.cut_date + dt.timedelta(days=1)
    for path in m.files:
        _set_received(path, received.get(path, m.cut_date))
    return m
