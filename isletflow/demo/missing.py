"""Missing data planted in a sample trial, as the data manager's missing-data queries must find
them (sql/quality/missing_data/; the trial file's ``missing_data`` settings).

Each is worked out from what the generator wrote (never from the pipeline) and listed in the
manifest (``TrialManifest.planted_missing``), as the planted faults are, so a test can check
that each is found with its participant, what is missing and since when:

* ``cgm_gap``: a profile's ``cgm_stop_day`` (cgm.stopped): no CGM reading after that day;
  since = the day after the last reading written (its local date), when more than
  ``missing_data.cgm_gap_days`` days pass before the participant's follow-up ends.
* ``visit_no_hba1c``: a profile's ``missed_visit`` (no central-lab sample at it) among the
  trial's HbA1c visits, whose window ended while the participant was on study; since = the
  window's last day.
* ``visit_no_form``: a profile's ``diary_missed_visit`` (no insulin-diary day entered in the
  visit's window); since = the window's last day.
* ``form_incomplete_overdue``: a profile's ``incomplete_form`` (the first record of that form
  left incomplete, status 0); since = the day of the first export that holds it (the form
  never changes after).

Reference date: the sample trial's queries are all due long before any date the trial is run
on after its last file (they are worked out for the trial as written, to the end of follow-up).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import polars as pl

from isletflow.demo.edc_lab import Record
from isletflow.demo.plans import DemoPlan
from isletflow.demo.profiles import Profile, site_of
from isletflow.demo.sends import Send
from isletflow.trial import Trial


@dataclass(frozen=True)
class PlantedMissing:
    """One missing-data query the pipeline must list: its rule, participant, what (the last
    reading's day for CGM, the visit, the form status), and since when."""

    rule: str
    site_id: str
    participant_id: str
    value: str | None
    since: dt.date


def _date(trial: Trial, infusion: dt.date, day: int) -> dt.date:
    """The date of study ``day`` (the infusion on the trial's infusion day; in the day1
    convention there is no day 0)."""
    return infusion + dt.timedelta(days=day - (trial.infusion_day if day > 0 else 0))


def planted_missing(trial: Trial, plan: DemoPlan, chosen: list[tuple[int, Profile]], days: int,
                    readings: dict[str, pl.DataFrame], records: dict[str, list[Record]],
                    sends: dict[str, list[Send]]) -> list[PlantedMissing]:
    """The planted missing data of the participants ``chosen`` (module docstring); ``records``
    and ``sends``: each site's REDCap records and the files it sent."""
    out: list[PlantedMissing] = []
    md = trial.missing_data
    visits = {v.name: v for v in trial.visits}
    completion = max(v.day for v in trial.visits)
    for k, p in chosen:
        pid, site, infusion = p.participant_id, site_of(p.participant_id), plan.infusion_date(k)
        # the end of follow-up as the disposition form has it (None: still on study)
        withdrew = p.withdraw_day is not None and days >= p.withdraw_day
        died = p.death is not None and days >= p.death.day
        end = (_date(trial, infusion, p.death.day) if died else
               _date(trial, infusion, completion) if days >= completion else None)
        if p.cgm_stop_day is not None and pid in readings and not withdrew:
            last = readings[pid]["local"].max().date()
            since = last + dt.timedelta(days=1)
            if end is None or since + dt.timedelta(days=md.cgm_gap_days) <= end:
                out.append(PlantedMissing("cgm_gap", site, pid, last.isoformat(), since))
        lab = plan.lab_schedule.get(p.missed_visit or "", ())
        if p.missed_visit in trial.hba1c_visits and "hba1c" in lab and not withdrew:
            hi = _date(trial, infusion, visits[p.missed_visit].window[1])
            if not died or hi < end:
                out.append(PlantedMissing("visit_no_hba1c", site, pid, p.missed_visit, hi))
        if p.diary_missed_visit and "insulin_diary" in md.visit_forms and not withdrew:
            hi = _date(trial, infusion, visits[p.diary_missed_visit].window[1])
            if not died or hi < end:
                out.append(PlantedMissing("visit_no_form", site, pid, p.diary_missed_visit,
                                          hi))
        if p.incomplete_form:
            r = next(r for r in records[site] if r.record_id == pid
                     and r.table == p.incomplete_form)
            form = trial.redcap.forms[p.incomplete_form].form
            shown = [s.received for s in sends[site] if "/edc/" in s.rel_path
                     and s.received > r.versions[-1][0]
                     and (f"{form}_complete" in s.data.split(b"\n", 1)[0].decode())]
            out.append(PlantedMissing("form_incomplete_overdue", site, pid, r.status,
                                      min(shown)))
    return out
