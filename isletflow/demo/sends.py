"""When each site sends its EDC exports and its lab sends results, and what each file holds.

* REDCap: every ``edc_every_days`` days (on the site's own weekday: its place in the trial
  file's site list) a site exports its forms, each export a snapshot of every record entered
  before that day, so a record stands in every later export of its form. A form whose export
  would be byte-identical to the one sent before is not sent again that day (it would only be
  set aside as a duplicate file). Sites whose habit is "project" send the whole-project export
  instead, one file with every form; one of them (habit ``dictionary``) sends the project's
  data dictionary with its first export and again with the first export after the mid-study
  amendment.
* Central lab: every ``lab_every_days`` days (on Fridays) a cumulative transfer of every
  result reported before that day, again only when something changed. In the sample trial one
  result of the plan's ``corrected_lab_participant`` (the last HbA1c) is first sent wrong
  (1.0 % too high, a keying error) and corrected three days later by a re-send of that
  transfer with the one value changed; later transfers carry the corrected value.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from isletflow.demo.edc_lab import LabResult, SiteData
from isletflow.demo.lab import lab_file, result_text
from isletflow.demo.plans import ANALYTES, DemoPlan
from isletflow.demo.redcap import Dictionary, Events, FieldMap, Project
from isletflow.trial import Trial

CORRECTION_DELAY_DAYS = 3
LAB_WEEKDAY = 4  # Friday


@dataclass(frozen=True)
class Send:
    """A file a site sends: where it lands (``<site>/<kind>/<name>``), its bytes, the day."""

    rel_path: str
    data: bytes
    received: dt.date


@dataclass(frozen=True)
class LabCorrection:
    """A central-lab result first sent wrong and corrected by a later re-send."""

    participant_id: str
    test_code: str
    visit: str
    collection_date: str
    sent: str        # the result cell as first sent
    corrected: str   # the result cell in the re-send and every later transfer
    first_file: str
    corrected_file: str


def export_days(anchor: dt.date, weekday_offset: int, every: int, first: dt.date,
                last: dt.date) -> list[dt.date]:
    """``anchor + weekday_offset + n * every``: the days after ``first`` up to and including
    the first day after ``last`` (the export that holds everything)."""
    day, out = anchor + dt.timedelta(days=weekday_offset), []
    while day <= first:
        day += dt.timedelta(days=every)
    while True:
        out.append(day)
        if day > last:
            return out
        day += dt.timedelta(days=every)


def edc_sends(trial: Trial, plan: DemoPlan, dic: Dictionary, site: str, data: SiteData,
              anchor: dt.date, every: int, amended: dt.date) -> list[Send]:
    """The site's REDCap exports: one file per changed form per export day, or (habit
    "project") one whole-project file per export day plus the dictionary."""
    s = trial.sites_by_id[site]
    dag = s.redcap_dag or f"{site.lower()}_{s.city.lower()}"
    project = Project(data.records, amended, dag, FieldMap(trial, plan, dic),
                      Events(trial, plan))
    first = min(r.entered for r in data.records)
    last = max(d for r in data.records for d, _ in r.versions)
    days = export_days(anchor, [x.id for x in trial.sites].index(site), every, first, last)
    whole = plan.sites[site].edc == "project"
    sends: list[Send] = []
    previous: dict[str, bytes] = {}
    for day in days:
        names = {"project": plan.project, "day": day.isoformat()}
        if whole:
            content = project.project_export(day)
            if content is None or content == previous.get("project"):
                continue
            dictionary = dic.csv(amended=day >= amended)
            if plan.sites[site].dictionary and dictionary != previous.get("dictionary"):
                sends.append(Send(f"{site}/edc/{plan.dictionary_file.format(**names)}",
                                  dictionary, day))
                previous["dictionary"] = dictionary
            sends.append(Send(f"{site}/edc/{plan.project_file.format(**names)}", content, day))
            previous["project"] = content
            continue
        for form in dic.forms:
            content = project.form_export(form, day)
            if content is None or content == previous.get(form):
                continue
            sends.append(Send(f"{site}/edc/{plan.form_file.format(form=form, **names)}",
                              content, day))
            previous[form] = content
    return sends


def lab_sends(trial: Trial, plan: DemoPlan, site: str, data: SiteData, anchor: dt.date,
              every: int) -> tuple[list[Send], LabCorrection | None]:
    """The site lab's cumulative transfers (and the corrected re-send, if the site's lab has
    the result to correct)."""
    style = plan.lab_styles[plan.sites[site].lab]
    results = sorted(data.labs, key=lambda r: (r.collection_date, r.subject_id,
                                               ANALYTES.index(r.analyte)))
    if not results:
        return [], None
    target = max((r for r in results if r.subject_id == plan.corrected_lab_participant
                  and r.analyte == "hba1c"), key=lambda r: r.collection_date, default=None)
    days = export_days(anchor, LAB_WEEKDAY, every, min(r.reported for r in results),
                       max(r.reported for r in results))
    sends: list[Send] = []
    correction = None
    previous = b""
    for day in days:
        now = [r for r in results if r.reported < day]
        content = lab_file(now, style, trial)
        if not now or content == previous:
            continue
        name = f"{site}/lab/" + style.file_name.format(day=day.isoformat(), ymd=f"{day:%Y%m%d}",
                                                       site=site)
        if target is not None and correction is None and target in now:
            i = now.index(target)
            wrong = round(target.value + 1.0, 1)
            sends.append(Send(name, lab_file(now, style, trial, {i: wrong}), day))
            fixed = name.replace(".csv", "_corrected.csv")
            sends.append(Send(fixed, content, day + dt.timedelta(days=CORRECTION_DELAY_DAYS)))
            sent = LabResult(target.subject_id, target.visit, target.collection_date,
                             target.test_code, wrong, target.reported, target.analyte)
            correction = LabCorrection(target.subject_id, target.test_code, target.visit,
                                       target.collection_date, result_text(sent, style, trial),
                                       result_text(target, style, trial), name, fixed)
        else:
            sends.append(Send(name, content, day))
        previous = content
    return sends, correction
