"""REDCap case report forms and central-lab results of the sample trial: what is planted, and
the day each value reaches the site's REDCap project or the lab's result database.

The values are planted with the trial's random generator (``rng``), in the same order as
always, so a seed gives the same trial. When a value is entered (the data-entry delay after
the event) is drawn from a second generator (``timing``), so the timing never shifts a value.
A record can change after it was first entered (a *version* per change): the disposition form
says "ongoing" from enrolment until the participant completes day 365 or dies; a fatal adverse
event is first entered as "not recovered" (grade 4) and updated to "fatal" (grade 5) after the
death; the off-protocol steroid is entered without a stop date, which is added later.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import numpy as np

from isletflow.demo.profiles import (CGM_BASELINE_DAYS, DEATH_DAY, Profile, day_iso,
                                     infusion_date, last_day, site_of)

LAB_VISITS = {
    "screening": ("HBA1C", "CPEP_FAST", "CPEP_STIM", "ANC"),
    "day_28": ("ANC",),
    "day_56": ("ANC",),
    "day_90": ("HBA1C", "CPEP_FAST", "CPEP_STIM", "ANC"),
    "day_120": ("ANC",),
    "day_180": ("HBA1C", "CPEP_FAST", "CPEP_STIM", "ANC"),
    "day_270": ("HBA1C", "CPEP_FAST", "CPEP_STIM", "ANC"),
    "day_365": ("HBA1C", "CPEP_FAST", "CPEP_STIM", "ANC"),
}
VISIT_NOMINAL = {"screening": -21, "day_28": 28, "day_56": 56, "day_90": 90, "day_120": 120,
                 "day_180": 180, "day_270": 270, "day_365": 365}

MILD_AES = (("Headache", "Nervous system disorders"),
            ("Nausea", "Gastrointestinal disorders"),
            ("Diarrhoea", "Gastrointestinal disorders"),
            ("Fatigue", "General disorders and administration site conditions"),
            ("Mouth ulceration", "Gastrointestinal disorders"))
# "Action taken" on an adverse event, for the field the AE form gains mid-study
# (redcap.AE_ACTION_CHOICES): what the investigator does with the immunosuppression.
AE_ACTION = {"Neutropenia": "2", "Cryptococcal meningitis": "3", "Neurocognitive disorder": "5"}


@dataclass
class Record:
    """One REDCap record of one form (a repeating form: one instance), with its versions:
    ``(day entered, field values)`` in date order; the values are raw REDCap codes as text."""

    form: str
    record_id: str
    event: str
    versions: list[tuple[dt.date, dict[str, str]]]
    order: str = ""  # ties between instances entered the same day: the event's own date
    instance: int | None = None  # set by the writer for repeating forms

    @property
    def entered(self) -> dt.date:
        return self.versions[0][0]


@dataclass
class LabResult:
    """One central-lab result: planted value (HbA1c NGSP %, C-peptide pmol/L, ANC /mm3) and
    the day the lab reported it (collection plus the lab's turnaround)."""

    subject_id: str
    visit: str
    collection_date: str
    test_code: str
    value: float
    reported: dt.date


@dataclass
class SiteData:
    records: list[Record] = field(default_factory=list)
    labs: list[LabResult] = field(default_factory=list)


def _date(k: int, d: int) -> dt.date:
    return infusion_date(k) + dt.timedelta(days=d)


def _s(v: object) -> str:
    return "" if v is None else str(v)


def edc_and_lab(profiles: list[tuple[int, Profile]], days: int, rng: np.random.Generator,
                timing: np.random.Generator) -> dict[str, SiteData]:
    """Every REDCap record and central-lab result of the trial, per site.

    Data-entry delays (``timing``, days after the event): enrolment 0-3 after the enrolment
    date, the severe-hypoglycaemia history with it; infusion 0-3; a diary day 1-10; a severe
    event 1-7; an adverse event 1-14; the protocol medications 0-3 after their start (day -2);
    the lab reports a result 3-10 days after collection. The date of birth (``dob``, sent only
    in the whole-project export) is drawn from ``timing`` too, to match the planted age.
    """
    out: dict[str, SiteData] = {}
    for k, p in profiles:
        site, pid, last = site_of(p.participant_id), p.participant_id, last_day(p, days)
        sd = out.setdefault(site, SiteData())

        def rec(form: str, event: str, versions: list[tuple[dt.date, dict]], order: str = "",
                _pid: str = pid, _sd: SiteData = sd) -> None:
            _sd.records.append(Record(form, _pid, event, [
                (d, {k2: _s(v) for k2, v in vals.items()}) for d, vals in versions], order))

        weight = round(float(rng.uniform(58, 92)), 1)
        enrol = {"enrol_date": day_iso(k, -35), "age": int(rng.integers(24, 63)),
                 "sex": int(rng.integers(1, 3)), "weight_kg": weight,
                 "t1d_duration_y": int(rng.integers(12, 40)),
                 "race___1": int(k % 5 == 0), "race___2": 0, "race___3": 0, "race___4": 0,
                 "race___5": int(k % 5 != 0)}
        enrolled = _date(k, -35)
        anniversary = enrolled.replace(year=enrolled.year - enrol["age"],
                                       day=min(enrolled.day, 28))
        enrol["dob"] = (anniversary - dt.timedelta(days=int(timing.integers(1, 365)))).isoformat()
        entered = _date(k, -35 + int(timing.integers(0, 4)))
        rec("enrolment", "screening_arm_1", [(entered, enrol)])
        rec("infusion", "day_0_arm_1", [(_date(k, int(timing.integers(0, 4))), {
            "infusion_date": day_iso(k, 0), "study_part": "A" if p.dose == "half" else "C",
            "dose_fraction": "0.5" if p.dose == "half" else "1.0"})])
        for d in sorted(rng.choice(np.arange(-360, -30), size=int(rng.integers(2, 5)),
                                   replace=False)):
            rec("severe_hypoglycemia", "screening_arm_1", [(entered, {
                "she_date": day_iso(k, int(d)), "she_assist": 1,
                "she_glucose_mg_dl": int(rng.integers(28, 50))})], day_iso(k, int(d)))
        for d in p.she_days_after_infusion:
            if d <= last:
                rec("severe_hypoglycemia", "follow_up_arm_1", [(
                    _date(k, d + int(timing.integers(1, 8))),
                    {"she_date": day_iso(k, d), "she_assist": 1, "she_glucose_mg_dl": ""})],
                    day_iso(k, d))
        base_tdd = 0.55 * weight
        stop_day = int(rng.integers(110, 170))
        diary_delay = timing.integers(1, 11, size=last + CGM_BASELINE_DAYS + 1)
        for i, d in enumerate(range(-CGM_BASELINE_DAYS, last + 1)):
            if rng.random() < 0.04:
                continue  # a day the participant did not fill in
            if p.course == "independent":
                frac = max(0.0, 1.0 - d / stop_day) if d >= 0 else 1.0
            elif p.course == "reduced":
                frac = 1.0 - 0.7 * min(max(d, 0) / 150.0, 1.0)
            else:
                frac = 1.0 - 0.4 * min(max(d, 0) / 150.0, 1.0)
            tdd = base_tdd * frac * (1 + 0.08 * rng.standard_normal()) if frac > 0 else 0.0
            basal = round(0.5 * tdd, 1)
            rec("insulin_diary", "follow_up_arm_1", [(_date(k, d + int(diary_delay[i])), {
                "diary_date": day_iso(k, d), "basal_u": basal,
                "bolus_u": round(max(tdd - basal, 0.0), 1)})], day_iso(k, d))

        def ae(term: str, soc: str, onset: int, serious: int, grade: int, outcome: int,
               later: tuple[int, int, int] | None = None) -> None:
            """An adverse event; ``later``: (day, grade, outcome) of an update after entry."""
            values = {"ae_term": term, "ae_soc": soc, "ae_onset_date": day_iso(k, onset),
                      "ae_serious": serious, "ae_grade": grade,
                      "ae_action_taken": AE_ACTION.get(term, "1"), "ae_outcome": outcome}
            versions = [(_date(k, onset + int(timing.integers(1, 15))), values)]
            if later:
                versions.append((_date(k, later[0] + int(timing.integers(1, 15))),
                                 {**values, "ae_grade": later[1], "ae_outcome": later[2]}))
            rec("adverse_events", "follow_up_arm_1", versions, day_iso(k, onset))

        for _ in range(int(rng.integers(1, 4))):
            term, soc = MILD_AES[int(rng.integers(0, 5))]
            ae(term, soc, int(rng.integers(1, max(2, last))), 0, 1, 1)
        if p.neutropenia and last >= 56:
            ae("Neutropenia", "Blood and lymphatic system disorders", 56, 1, 3, 1)
        cm_entered = _date(k, -2 + int(timing.integers(0, 4)))
        for name in ("Tacrolimus", "Mycophenolate mofetil", "Valganciclovir",
                     "Sulfamethoxazole/trimethoprim"):
            rec("concomitant_medications", "follow_up_arm_1", [(cm_entered, {
                "cm_name": name, "cm_indication": "Protocol", "cm_start_date": day_iso(k, -2),
                "cm_stop_date": ""})], day_iso(k, -2))
        ongoing = {"dispo_status": 2, "dispo_date": "", "death_cause": ""}
        final: tuple[int, dict] | None = None
        if p.death == "cryptococcal" and days >= DEATH_DAY["cryptococcal"]:
            steroid = {"cm_name": "Prednisone",
                       "cm_indication": "Off-protocol, prescribed outside the trial",
                       "cm_start_date": day_iso(k, 196), "cm_stop_date": ""}
            rec("concomitant_medications", "follow_up_arm_1", [
                (_date(k, 226 + int(timing.integers(1, 4))), steroid),
                (_date(k, 230 + int(timing.integers(1, 15))),
                 {**steroid, "cm_stop_date": day_iso(k, 230)})], day_iso(k, 196))
            ae("Cryptococcal meningitis", "Infections and infestations", 226, 1, 4, 3,
               later=(241, 5, 4))
            final = (241, {"dispo_status": 3, "dispo_date": day_iso(k, 241),
                           "death_cause": "Cryptococcal meningitis"})
        elif p.death == "neurocognitive" and days >= DEATH_DAY["neurocognitive"]:
            ae("Neurocognitive disorder", "Psychiatric disorders", 250, 1, 4, 3,
               later=(301, 5, 4))
            final = (301, {"dispo_status": 3, "dispo_date": day_iso(k, 301),
                           "death_cause": "Worsening of pre-existing neurocognitive disorder"})
        elif days >= 365:
            final = (365, {"dispo_status": 1, "dispo_date": day_iso(k, 365), "death_cause": ""})
        dispo = [(entered, ongoing)]
        if final:
            dispo.append((_date(k, final[0] + int(timing.integers(1, 15))), final[1]))
        rec("disposition", "end_of_study_arm_1", dispo)

        hba1c0 = rng.uniform(7.6, 9.0)
        for visit, tests in LAB_VISITS.items():
            nominal = VISIT_NOMINAL[visit]
            if nominal > last or visit == p.missed_visit:
                continue
            day = nominal + int(rng.integers(-3, 4))
            frac = min(max(nominal, 0) / 180.0, 1.0)
            reported = _date(k, day + int(timing.integers(3, 11)))
            for t in tests:
                if t == "HBA1C":
                    if nominal < 0:
                        v = hba1c0
                    elif p.course == "independent":
                        v = rng.uniform(6.9, 7.3) if nominal == 90 else rng.uniform(5.7, 6.6)
                    elif p.course == "reduced":
                        v = rng.uniform(7.0, 7.4) if nominal == 90 else rng.uniform(6.5, 6.85)
                    else:
                        v = hba1c0 - 0.8 * frac
                    val = round(v, 1)
                elif t == "CPEP_FAST":
                    scale = {"independent": 1.0, "reduced": 0.6, "partial": 0.35}[p.course]
                    val = 2.0 if nominal < 0 else round(frac * scale * rng.uniform(400, 700))
                elif t == "CPEP_STIM":
                    scale = {"independent": 1.0, "reduced": 0.6, "partial": 0.35}[p.course]
                    val = 3.0 if nominal < 0 else round(frac * scale * rng.uniform(900, 1500))
                else:
                    anc = rng.uniform(2400, 5200)
                    if p.neutropenia and visit == "day_56":
                        anc = rng.uniform(600, 950)
                    val = round(anc, -1)
                sd.labs.append(LabResult(pid, visit, day_iso(k, day), t, float(val), reported))
    return out
