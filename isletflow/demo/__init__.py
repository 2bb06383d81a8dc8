"""Sample trial generator: a trial file in, raw site exports with planted outcomes out.

Everything shaped by the trial comes from its file (trials/<name>.toml, isletflow/trial.py):
sites and their clocks, visit days, REDCap events and central-lab visit labels, the REDCap
project (forms, fields, choice codes: the trial's data dictionary and its field map,
inverted), lab test codes and units, CGM analysis windows. What a trial file does not hold (the
participants and their planted outcomes, each site's devices, lab style and export habits, the
planted faults) is the generator's plan for that study id (plans.py). The planted truth
(truth.py) is returned in the manifest and written as JSON where the caller asks (the CLI:
beside the landing folder, never inside it: the landing scan would report it).

Two trials: the sample trial ISLET-101 (below) and the Phase 3-like ISLET-301
(trials/islet-301.toml; plans.PLAN_301, profiles.PROFILES_301): 50 participants at 11 sites
from Sydney to St John's, a two-year schedule, CGM worn around each analysis window (one export
per window), the insulin diary kept in those windows and the weeks before visits, weekly REDCap
exports (whole-project exports at four sites), one global central lab.

ISLET-101, the sample trial

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
* Each site sends what it would really send (plans.PLAN_101): US01 Dexcom Clarity in
  mg/dL; CA01 Clarity in mmol/L (CA01-004 the older 12-column layout); DE01 the German Clarity
  export (';', decimal comma, mmol/L); GB01 LibreView (day-first, mmol/L, 15-min historic
  readings plus scans), except that GB01-002's first export is a FreeStyle Libre Pro clinic
  "Patient report" (cgm.libre_pro_report). Labs: US %, pmol/L, /mm3; CA nmol/L and 10^9/L;
  DE IFCC mmol/mol, ng/mL, G/l in ';' with decimal commas and Latin-1; GB IFCC mmol/mol.
* Every CGM trace comes as two exports that overlap (a cumulative re-export); CA01-003's later
  export corrects three readings of the earlier one.
* Files arrive over time, each dated (its modification time, see ``_set_received``) the day
  the site would send it, so an as-of cut anywhere in the trial sees what had come in by then
  (sends.py): a CGM export the day after the period it covers; cumulative REDCap exports of
  every form every ``edc_every_days`` days (a record stands in every export after it was
  entered; records change: the disposition goes from "ongoing" to completed or died, a fatal
  AE's outcome and the steroid's stop date are filled in later, edc_lab.py); the adverse-event
  form gains ``ae_action_taken`` halfway through (``TrialManifest.amended``; exports from then
  on have the column); GB01 sends the whole-project export (all forms in one file, events,
  repeat instances, data access group, checkbox columns, date of birth) with its data
  dictionary (redcap.py); every lab sends a cumulative transfer every ``lab_every_days`` days
  (28), and one HbA1c of CA01-003 is first sent wrong and corrected by a re-send three days
  later (``TrialManifest.lab_corrections``).
* Noise: sensor warm-up gaps, random signal losses, a 20-day sensor gap inside DE01-003's
  day-90 window, missed lab visits (US01-004 day 90, GB01-002 day 270), a severe hypoglycaemic
  event on day 45 (GB01-001, before the day 90-365 window), ~4 % of insulin-diary days missing.
* Faulty files and rows (faults.plant_faults), each listed in the manifest with its rule.
* Missing data for the data manager's missing-data queries (missing.py, listed in the
  manifest's ``planted_missing``), none of it in an efficacy or safety headline: CA01-001's
  CGM uploads stop on day 280 (its sensor no longer worn; a half-dose participant, who died on
  day 301: 21 days without CGM data on study), CA01-001's day-120 visit has no insulin-diary
  day entered, US01-003's first adverse-event form is left incomplete in REDCap; the missed lab
  visits above are day-90 and day-270 visits without an HbA1c.

Cadence. Real sites export weekly, and so does the sample trial (``edc_every_days=7``). Every
file is one Prefect task of the nightly flow and every cumulative export re-sends all rows so
far, so the interval sets the flow's work. Measured on 2026-11-27 (wall times of ``isletflow
run`` on a fresh warehouse; "flow" = from the flow run's start to "published"):

* one extra small file (a one-row lab file): 300 of them added to the 4-participant trial made
  the flow 3.0 s and 6.4 s longer in two runs (a loaded machine), i.e. 10-20 ms a file;
* the full trial before (69 files, every EDC and lab file dated at the end): flow 11.6 s;
* weekly, the default: 535 files, 202,276 insulin-diary rows in core (5,102 current); on a
  quiet machine the flow took 23.0 s (staging 9.8 s, build 3.8 s, validation 7.5 s,
  endpoints 1.6 s), ``isletflow run`` 36.4 s; on a machine loaded by other sessions 44-76 s;
* every 14 days: 368 files, 102,977 diary rows: flow 20.5 s, ``isletflow run`` 32.0 s (loaded).

A form whose export would be byte-identical to the one the site sent before is not sent again
(the landing sets identical files aside as duplicates), so a week without a new adverse
event sends no adverse-event file.

Deterministic for a seed: the same seed gives byte-identical files (and file times). The values
come from one random generator in a fixed order; when things are entered and sent from a second
one, so the timing of sends never changes a planted value.
"""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import polars as pl

from isletflow.demo.cgm import Wearer, device_exports
from isletflow.demo.edc_lab import edc_and_lab
from isletflow.demo.faults import PlantedFault, plant_faults
from isletflow.demo.missing import PlantedMissing, planted_missing
from isletflow.demo.plans import DemoPlan, plan_for
from isletflow.demo.profiles import site_of
from isletflow.demo.redcap import Dictionary
from isletflow.demo.scale import scaled_plan
from isletflow.demo.sends import LabCorrection, Send, edc_sends, lab_sends
from isletflow.demo.truth import planted_truth, write_truth
from isletflow.trial import Trial, load_trial

EDC_EVERY_DAYS = 7  # see "Cadence" above
LAB_EVERY_DAYS = 28


@dataclass
class TrialManifest:
    """What was written, for the caller. The planted personal data is kept only so tests can
    prove it never reaches the warehouse; the planted faults, so they can prove each is found;
    the planted truth (truth.py), so they can compare the derived endpoints with it."""

    out_dir: Path
    participants: list[str]
    study_id: str = ""
    files: list[Path] = field(default_factory=list)
    planted_phi: list[str] = field(default_factory=list)
    planted_faults: list[PlantedFault] = field(default_factory=list)
    n_cgm_rows: int = 0
    cut_date: dt.date | None = None  # the day the last regular (not faulty) file came in
    amended: dt.date | None = None   # the day a form gained the plan's amendment field(s)
    lab_corrections: list[LabCorrection] = field(default_factory=list)
    planted_missing: list[PlantedMissing] = field(default_factory=list)  # missing.py
    truth: dict = field(default_factory=dict)
    truth_path: Path | None = None


def _set_received(path: Path, day: dt.date) -> None:
    """File time = when the site sent it (06:00 UTC that day); as-of cuts rely on it."""
    ts = dt.datetime.combine(day, dt.time(6), tzinfo=dt.UTC).timestamp()
    os.utime(path, (ts, ts))


def generate_trial(out_dir: Path, seed: int = 20250620, participants: int | None = None,
                   days: int | None = None, faults: bool = True,
                   edc_every_days: int | None = None, lab_every_days: int | None = None,
                   trial: Trial | str | Path | None = None, truth_path: Path | None = None,
                   scale: int = 1) -> TrialManifest:
    """Write the trial's landing area under ``out_dir`` (``<site>/cgm|edc|lab/...``).

    ``trial``: the trial file (or a loaded trial; default the sample trial,
    trials/islet-101.toml). ``participants``: the first N of the plan's participants (default
    all); ``days``: follow-up after infusion (default the last visit's nominal day).
    ``edc_every_days``: how often each site exports its REDCap forms (see "Cadence" in the
    module docstring); ``lab_every_days``: how often each lab sends its cumulative transfer
    (defaults: the plan's). ``faults``: plant the plan's faulty files (the sample trial's).
    ``truth_path``: where to write the planted truth as JSON (not written by default; keep it
    out of ``out_dir``, which the landing scan reads).
    ``scale``: the plan's participants ``scale`` times over, for benchmarking (scale.py: copies
    under new participant IDs of the trial's pattern, at the same sites, infused over the same
    calendar), with no planted faults and no planted truth (``truth`` stays empty: working it
    out holds every participant's readings in memory, about 2 GB at 100 copies).
    """
    trial = trial if isinstance(trial, Trial) else load_trial(trial)
    plan = plan_for(trial)
    if scale != 1:
        if truth_path is not None:
            raise ValueError("the planted truth of a scaled trial is not worked out")
        plan = scaled_plan(plan, scale, trial)
    participants = len(plan.profiles) if participants is None else participants
    days = max(v.day for v in trial.visits) if days is None else days
    edc_every_days = edc_every_days or plan.edc_every_days
    lab_every_days = lab_every_days or plan.lab_every_days
    if not 1 <= participants <= len(plan.profiles):
        raise ValueError(f"participants must be between 1 and {len(plan.profiles)}")
    if days < 1:
        raise ValueError("days must be at least 1")
    if edc_every_days < 1 or lab_every_days < 1:
        raise ValueError("export intervals must be at least 1 day")
    dic = Dictionary.of(trial, plan)
    rng = np.random.default_rng(seed)
    timing = np.random.default_rng([seed, 1])  # when things are entered and sent
    chosen = list(enumerate(plan.profiles))[:participants]
    m = TrialManifest(out_dir=out_dir, participants=[p.participant_id for _, p in chosen],
                      study_id=trial.study.id)
    received: dict[Path, dt.date] = {}
    readings: dict[str, pl.DataFrame] = {}
    windows = [(w.name, *w.days) for w in trial.cgm_windows]
    for k, p in chosen:
        site = site_of(p.participant_id)
        wearer = Wearer(trial.sites_by_id[site].timezone, plan.infusion_date(k),
                        -plan.cgm_baseline_days)
        exports = device_exports(p, k, days, plan.cgm_habit(p), wearer, plan.cgm_exports,
                                 windows, rng, m.planted_phi,
                                 correction=p.participant_id == plan.corrected_cgm_participant,
                                 libre_pro=p.participant_id == plan.libre_pro_participant,
                                 timing=timing)
        if scale == 1:  # kept for the planted truth
            readings[p.participant_id] = exports.readings
        for name, data, end_day, n in exports.files:
            path = out_dir / site / "cgm" / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
            m.files.append(path)
            m.n_cgm_rows += n
            received[path] = plan.infusion_date(k) + dt.timedelta(days=end_day + 1)
    data = edc_and_lab(trial, plan, chosen, days, rng, timing)
    entered = [d for sd in data.values() for r in sd.records for d, _ in r.versions]
    first, last = min(entered), max(entered)
    anchor = first - dt.timedelta(days=first.weekday())  # the Monday of the first entry
    m.amended = first + (last - first) // 2
    m.planted_phi += [r.versions[0][1]["@dob"] for sd in data.values() for r in sd.records
                      if r.table == "participants"]
    latest: dict[str, str] = {}
    for site, sd in data.items():  # written site by site: one site's sends in memory at a time
        sends = edc_sends(trial, plan, dic, site, sd, anchor, edc_every_days, m.amended)
        if scale == 1:
            m.planted_missing += planted_missing(
                trial, plan, [(k, p) for k, p in chosen if site_of(p.participant_id) == site],
                days, readings, {site: sd.records}, {site: sends})
        lab, correction = lab_sends(trial, plan, site, sd, anchor, lab_every_days)
        sends += lab
        m.lab_corrections += [correction] if correction else []
        _write_sends(out_dir, sends, m, received, latest)
    m.cut_date = max(received.values())
    if faults and plan.plant_faults:
        m.planted_faults = plant_faults(out_dir, set(m.participants),
                                        {p.participant_id: k for k, p in chosen}, latest,
                                        plan.infusion_date)
        m.files += sorted({out_dir / f.rel_path for f in m.planted_faults} - set(m.files))
    for f in m.planted_faults:  # the faulty files came in after the rest
        received[out_dir / f.rel_path] = m.cut_date + dt.timedelta(days=1)
    for path in m.files:
        _set_received(path, received[path])
    if scale == 1:
        m.truth = planted_truth(trial, plan, chosen, days, data, readings, seed)
    if truth_path is not None:
        write_truth(truth_path, m.truth)
        m.truth_path = truth_path
    return m


def _write_sends(out_dir: Path, sends: list[Send], m: TrialManifest,
                 received: dict[Path, dt.date], latest: dict[str, str]) -> None:
    """Write a site's EDC and lab files; note each file's day and the latest file of each
    form (``<site>/edc/<form>``) and of the site's lab (``<site>/lab``), for the faults."""
    for s in sends:
        path = out_dir / s.rel_path
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(s.data)
        m.files.append(path)
        received[path] = s.received
        site, kind, name = s.rel_path.split("/")
        if kind == "lab" and not name.endswith("_corrected.csv"):
            latest[f"{site}/lab"] = s.rel_path
        elif kind == "edc":
            latest[f"{site}/edc/{name.rsplit('_', 1)[0]}"] = s.rel_path


def default_truth_path(out_dir: Path, trial: Trial) -> Path:
    """Where the CLI writes the planted truth: beside the landing folder (never in it),
    ``planted-<study id, lower case>.json``."""
    return out_dir.resolve().parent / f"planted-{trial.study.id.lower()}.json"


__all__ = ["DemoPlan", "TrialManifest", "default_truth_path", "generate_trial"]
