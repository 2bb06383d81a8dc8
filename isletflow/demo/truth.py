"""The planted truth of a sample trial: per participant, what a correct analysis of the files
written must find, worked out from the values the generator wrote (never from the pipeline).

Definitions (the trial file's parameters, ``endpoints`` and ``arms``; study day as the trial's
``study_day_convention`` counts it):

* ``dose_group``: the arm with the highest ``dose_fraction`` not above the fraction infused
  (the lowest arm for anything smaller); ``efficacy_population`` from that arm.
* ``she_free``: no severe hypoglycaemic event with third-party assistance on a study day in
  ``endpoints.primary.she_days`` (events reported without assistance do not count).
* ``primary_met``: false without ``she_free``; else true when an HbA1c at a visit whose nominal
  day is in ``primary.hba1c_days`` is below ``hba1c_below_pct`` or at least
  ``hba1c_drop_pp`` points below baseline (the last HbA1c collected on or before the infusion
  day); null (not evaluable) with no such HbA1c. An HbA1c is the result as the lab wrote it,
  in the trial's unit conversion (``[[lab_tests]]``: value = result x factor + offset), so an
  IFCC result in mmol/mol counts as the NGSP % it converts to.
* ``insulin_independent``: every insulin-diary day on a study day in
  ``endpoints.insulin_independence.days`` records 0 U (basal + bolus as written), with at
  least one such day; null without one.
* ``serious_neutropenia``: an adverse event "Neutropenia" reported serious; ``died`` /
  ``death_day``: the final disposition "died" and the study day of its date; ``status``: the
  final disposition.
* ``tir_pct``: per CGM analysis window, % of the CGM readings written (each once: a later
  export's value supersedes an earlier one's; Libre scans left out) whose local date falls in
  the window and whose value as written is in 70-180 mg/dL or 3.9-10.0 mmol/L (cgm.in_range);
  null for a window without readings.

The sample trial's planted faults (faults.py) are not in the truth: it holds for the files
written with ``faults=False`` (the faults take single rows and whole files out).
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import polars as pl

from isletflow.demo.edc_lab import Record, SiteData
from isletflow.demo.lab import result_text
from isletflow.demo.plans import DemoPlan
from isletflow.demo.profiles import Profile, last_day, site_of
from isletflow.trial import Trial, normalise_unit


def study_day(trial: Trial, date: dt.date, infusion: dt.date) -> int:
    """Days from the infusion, in the trial's convention (day1: the infusion day is 1, the day
    before -1)."""
    d = (date - infusion).days
    return d + 1 if trial.infusion_day == 1 and d >= 0 else d


def dose_group(trial: Trial, fraction: float) -> str:
    arms = sorted(trial.arms, key=lambda a: a.dose_fraction)
    below = [a for a in arms if a.dose_fraction <= fraction]
    return (below[-1] if below else arms[0]).id


def _final(records: list[Record], table: str) -> list[dict]:
    return [r.versions[-1][1] for r in records if r.table == table]


def participant_truth(trial: Trial, plan: DemoPlan, k: int, p: Profile, days: int,
                      sd: SiteData, readings: pl.DataFrame) -> dict:
    """The planted truth of one participant (module docstring)."""
    pid, infusion = p.participant_id, plan.infusion_date(k)
    ep = trial.endpoints
    mine = [r for r in sd.records if r.record_id == pid]

    def day_of(iso: str) -> int:
        return study_day(trial, dt.date.fromisoformat(iso), infusion)

    infused = float(_final(mine, "infusions")[0]["dose_fraction"])
    group = dose_group(trial, infused)
    lo, hi = ep.primary.she_days
    she_days = sorted(day_of(v["event_date"]) for v in _final(mine, "she_events")
                      if v["third_party_assistance"] and lo <= day_of(v["event_date"]) <= hi)
    she_free = not she_days

    style = plan.lab_styles[plan.sites[site_of(pid)].lab]
    nominal = trial.lab_visit_days
    hba1c = []
    for r in sd.labs:
        if r.subject_id != pid or r.analyte != "hba1c":
            continue
        text = result_text(r, style, trial).replace(",", ".")
        test = next(t for t in trial.lab_tests if t.code == r.test_code)
        u = next(u for u in test.units
                 if normalise_unit(u.unit) == normalise_unit(style.tests["hba1c"][1]))
        hba1c.append((r.collection_date, nominal.get(r.visit), float(text) * u.factor + u.offset))
    before = [v for d, _, v in sorted(hba1c) if dt.date.fromisoformat(d) <= infusion]
    baseline = before[-1] if before else None
    a, b = ep.primary.hba1c_days
    points = [v for _, n, v in hba1c if n is not None and a <= n <= b]
    met = any(v < ep.primary.hba1c_below_pct or (baseline is not None and
                                                 v - baseline <= -ep.primary.hba1c_drop_pp)
              for v in points)
    primary = False if not she_free else (None if not points else met)

    a, b = ep.insulin_independence.days
    doses = [float(v["basal_u"]) + float(v["bolus_u"]) for v in _final(mine, "insulin_diary")
             if a <= day_of(v["diary_date"]) <= b]
    independent = (all(d == 0.0 for d in doses)) if doses else None

    aes = _final(mine, "adverse_events")
    serious_neutropenia = any(v["preferred_term"] == "Neutropenia" and v["serious"] for v in aes)
    dispo = _final(mine, "disposition")[0]
    died = dispo["status"] == "died"

    local_day = readings.select(
        sd=(pl.col("local").dt.date() - pl.lit(infusion)).dt.total_days(),
        in_range=pl.col("in_range"))
    if trial.infusion_day == 1:
        local_day = local_day.with_columns(sd=pl.when(pl.col("sd") >= 0).then(pl.col("sd") + 1)
                                           .otherwise(pl.col("sd")))
    tir = {}
    for w in trial.cgm_windows:
        inside = local_day.filter(pl.col("sd").is_between(*w.days))
        tir[w.name] = (round(100.0 * inside["in_range"].sum() / inside.height, 4)
                       if inside.height else None)
    arm = next(x for x in trial.arms if x.id == group)
    return {
        "participant_id": pid, "site_id": site_of(pid), "infusion_date": infusion.isoformat(),
        "infused_fraction": infused, "dose_group": group,
        "efficacy_population": arm.efficacy_population,
        "last_follow_up_day": last_day(p, days),
        "she_free": she_free, "she_days_in_window": she_days,
        "baseline_hba1c_pct": None if baseline is None else round(baseline, 4),
        "primary_met": primary, "insulin_independent": independent,
        "serious_neutropenia": serious_neutropenia, "died": died,
        "death_day": day_of(dispo["status_date"]) if died else None,
        "status": dispo["status"], "tir_pct": tir,
    }


def planted_truth(trial: Trial, plan: DemoPlan, chosen: list[tuple[int, Profile]], days: int,
                  data: dict[str, SiteData], readings: dict[str, pl.DataFrame], seed: int
                  ) -> dict:
    """The planted truth of the trial written (module docstring), as a JSON-ready dict."""
    ep = trial.endpoints
    return {
        "study_id": trial.study.id,
        "trial_file": trial.source.name if trial.source else None,
        "trial_sha256": trial.sha256,
        "seed": seed,
        "days": days,
        "windows": {"she_days": list(ep.primary.she_days),
                    "hba1c_days": list(ep.primary.hba1c_days),
                    "insulin_independence_days": list(ep.insulin_independence.days),
                    "cgm": {w.name: list(w.days) for w in trial.cgm_windows}},
        "definitions": (__doc__ or "").split("Definitions", 1)[1].strip(),
        "participants": [participant_truth(trial, plan, k, p, days, data[site_of(
            p.participant_id)], readings[p.participant_id]) for k, p in chosen],
    }


def write_truth(path: Path, truth: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(truth, indent=1) + "\n", encoding="utf-8")
