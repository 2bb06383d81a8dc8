"""Case report forms and central-lab results of a sample trial: what is planted, and the day
each value reaches the site's REDCap project or the lab's result database.

Values are planted under the names of the *core columns* they feed (``participants.sex`` =
"F", ``adverse_events.serious`` = True), with the generator's own fields no core column reads
under a role (``@dob``, ``@race``, ``@ae_action``, ``@lot``); redcap.py writes them under the
trial's REDCap form, field and choice code (the trial file's field map, inverted).

The values are planted with the trial's random generator (``rng``), in a fixed order, so a
seed gives the same trial. When a value is entered (the data-entry delay after the event) is
drawn from a second generator (``timing``), so the timing never shifts a value. A record can
change after it was first entered (a *version* per change): the disposition form says
"ongoing" from enrolment until the participant completes the schedule, dies or withdraws; a
fatal adverse event is first entered as "not recovered" (grade 4) and updated to "fatal"
(grade 5) after the death; the sample trial's off-protocol steroid is entered without a stop
date, which is added later.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import numpy as np

from isletflow.demo.plans import ANALYTES, DemoPlan
from isletflow.demo.profiles import Profile, last_day, site_of
from isletflow.trial import Trial

MILD_AES = (("Headache", "Nervous system disorders"),
            ("Nausea", "Gastrointestinal disorders"),
            ("Diarrhoea", "Gastrointestinal disorders"),
            ("Fatigue", "General disorders and administration site conditions"),
            ("Mouth ulceration", "Gastrointestinal disorders"))
SEXES = ("F", "M")  # the sample trial's draw: 1 = F, 2 = M
# Tables whose REDCap form repeats (one instance per event, diary day, adverse event, drug).
REPEATING = ("she_events", "insulin_diary", "adverse_events", "concomitant_medications")


@dataclass
class Record:
    """One record of one form (a repeating form: one instance), with its versions:
    ``(day entered, values)`` in date order. ``table``: the core table the form feeds;
    values by core column (or ``@role``). ``event``: "screening", "infusion", "follow_up" or
    "end", placed in a REDCap event by redcap.Events with ``day`` (the study day the record
    is about)."""

    table: str
    record_id: str
    event: str
    day: int
    versions: list[tuple[dt.date, dict[str, object]]]
    order: str = ""  # ties between instances entered the same day: the event's own date
    instance: int | None = None  # set by the writer for repeating forms
    status: str = "2"  # <form>_complete in every export: 2 complete, 0 incomplete

    @property
    def entered(self) -> dt.date:
        return self.versions[0][0]


@dataclass
class LabResult:
    """One central-lab result: planted value (HbA1c NGSP %, C-peptide pmol/L, ANC /mm3) and
    the day the lab reported it (collection plus the lab's turnaround). ``visit``: the lab's
    visit label (the trial's ``lab_visit``); ``test_code``: the trial's code of ``analyte``."""

    subject_id: str
    visit: str
    collection_date: str
    test_code: str
    value: float
    reported: dt.date
    analyte: str = ""
    accession: str = ""


@dataclass
class SiteData:
    records: list[Record] = field(default_factory=list)
    labs: list[LabResult] = field(default_factory=list)


def diary_days(trial: Trial, plan: DemoPlan, last: int) -> list[int]:
    """Study days with an insulin-diary entry. "daily": every day from the CGM baseline on.
    "around_visits": the days of every CGM analysis window, and the days
    ``endpoints.insulin_independence.days_before_visit`` before each follow-up visit up to
    it (what the endpoints read), up to ``last``."""
    first = -plan.cgm_baseline_days
    if plan.diary == "daily":
        return list(range(first, last + 1))
    days: set[int] = set()
    for w in trial.cgm_windows:
        days.update(range(w.days[0], w.days[1] + 1))
    before = trial.endpoints.insulin_independence.days_before_visit
    for v in trial.visits:
        if v.day > trial.infusion_day:
            days.update(range(v.day - before, v.day + 1))
    return sorted(d for d in days if d <= last)


def insulin_fraction(p: Profile, d: int, stop_day: int) -> float:
    """Share of the baseline daily insulin dose taken on study day ``d`` (1 before infusion).
    independent: tapered to 0 by ``stop_day``; reduced: down 70 % over 150 days; partial:
    down 40 %; graft_loss: as independent, back on insulin from day 420 (half the dose by
    day 540); nonresponder: down 15 %; improved: down 30 %."""
    if p.course == "independent":
        return max(0.0, 1.0 - d / stop_day) if d >= 0 else 1.0
    if p.course == "graft_loss":
        if d < 420:
            return max(0.0, 1.0 - d / stop_day) if d >= 0 else 1.0
        return 0.5 * min((d - 420 + 1) / 120.0, 1.0)
    drop = {"reduced": 0.7, "partial": 0.4, "nonresponder": 0.15, "improved": 0.3}[p.course]
    return 1.0 - drop * min(max(d, 0) / 150.0, 1.0)


C_PEPTIDE_SCALE = {"independent": 1.0, "reduced": 0.6, "partial": 0.35, "graft_loss": 1.0,
                   "nonresponder": 0.08, "improved": 0.3}


def baseline_hba1c(plan: DemoPlan, p: Profile, rng: np.random.Generator) -> float:
    """HbA1c (NGSP %) before infusion: 7.6-9.0; 9.3-9.8 for "improved" (second trial)."""
    v = rng.uniform(7.6, 9.0)
    if plan.lab_model == "301" and p.course == "improved":
        v = rng.uniform(9.3, 9.8)
    return v


def lab_value(plan: DemoPlan, p: Profile, analyte: str, visit: str, nominal: int,
              hba1c0: float, rng: np.random.Generator) -> float:
    """The planted result of ``analyte`` at a visit (nominal study day ``nominal``):
    HbA1c NGSP %, C-peptide pmol/L (before infusion 2 fasting / 3 stimulated: none), ANC
    cells/mm3 (2400-5200, or 2200-5200 in the second trial; 600-950 at the plan's
    neutropenia visit for "serious", 1100-1400 for "non_serious").

    HbA1c after infusion (``frac`` = nominal day / 180, at most 1), sample trial (primary:
    < 7.0 % or 1 point down): independent 6.9-7.3 at day 90, then 5.7-6.6; reduced 7.0-7.4,
    then 6.5-6.85; partial baseline - 0.8 x frac. Second trial (primary: < 6.5 % or 1 point
    down, days 365-730), each at least 0.2 points (after the lab's IFCC rounding, < 0.05)
    from a threshold: independent 6.9-7.3 at day 90, then 5.6-6.2; reduced 7.1-7.5, then
    6.0-6.3; partial baseline - 0.7 x frac; graft_loss 6.9-7.2 at day 90, 5.8-6.2 to day
    365, 7.0-7.3 at day 545, 7.5-7.9 at day 730; nonresponder baseline - 0.4 x frac; improved
    baseline - 1.4 x frac. C-peptide: frac x the course's scale (C_PEPTIDE_SCALE; graft_loss
    0.12 after day 365) x 400-700 fasting, 900-1500 stimulated.
    """
    frac = min(max(nominal, 0) / 180.0, 1.0)
    second = plan.lab_model == "301"
    if analyte == "hba1c":
        if nominal < 0:
            v = hba1c0
        elif second and p.course in ("partial", "nonresponder", "improved"):
            v = hba1c0 - {"partial": 0.7, "nonresponder": 0.4, "improved": 1.4}[p.course] * frac
        elif second and p.course == "graft_loss":
            v = (rng.uniform(6.9, 7.2) if nominal == 90 else rng.uniform(5.8, 6.2)
                 if nominal <= 365 else rng.uniform(7.0, 7.3) if nominal < 600
                 else rng.uniform(7.5, 7.9))
        elif p.course == "independent":
            v = rng.uniform(6.9, 7.3) if nominal == 90 else (
                rng.uniform(5.6, 6.2) if second else rng.uniform(5.7, 6.6))
        elif p.course == "reduced":
            v = (rng.uniform(7.1, 7.5) if nominal == 90 else rng.uniform(6.0, 6.3)) if second \
                else (rng.uniform(7.0, 7.4) if nominal == 90 else rng.uniform(6.5, 6.85))
        else:
            v = hba1c0 - 0.8 * frac
        return round(v, 1)
    if analyte in ("c_peptide_fasting", "c_peptide_stimulated"):
        scale = C_PEPTIDE_SCALE[p.course]
        if p.course == "graft_loss" and nominal > 365:
            scale = 0.12
        lo, hi = (400, 700) if analyte == "c_peptide_fasting" else (900, 1500)
        before = 2.0 if analyte == "c_peptide_fasting" else 3.0
        return before if nominal < 0 else round(frac * scale * rng.uniform(lo, hi))
    anc = rng.uniform(2200, 5200) if second else rng.uniform(2400, 5200)
    if p.neutropenia and visit == plan.neutropenia_visit:
        anc = rng.uniform(1100, 1400) if p.neutropenia == "non_serious" else rng.uniform(600, 950)
    return round(anc, -1)


def edc_and_lab(trial: Trial, plan: DemoPlan, profiles: list[tuple[int, Profile]], days: int,
                rng: np.random.Generator, timing: np.random.Generator) -> dict[str, SiteData]:
    """Every REDCap record and central-lab result of the trial, per site.

    Data-entry delays (``timing``, days after the event): enrolment 0-3 after the enrolment
    date, the severe-hypoglycaemia history with it; infusion 0-3; a diary day 1-10; a severe
    event 1-7; an adverse event 1-14; the protocol medications 0-3 after their start (day -2);
    the disposition 1-14 after completion, death or withdrawal; the lab reports a result 3-10
    days after collection. The date of birth (``@dob``, sent only in the whole-project export)
    is drawn from ``timing`` too, to match the planted age. The schedule is complete on the
    last visit's nominal day (``days`` at least that: "completed").
    """
    out: dict[str, SiteData] = {}
    codes = {}
    for t in reversed(trial.lab_tests):  # the first test code of each analyte
        codes[t.analyte] = t.code
    visits = sorted(trial.visits, key=lambda v: v.day)
    completion = visits[-1].day
    infusion_visit = next(v for v in visits if v.window[0] <= trial.infusion_day <= v.window[1])
    for k, p in profiles:
        site, pid, last = site_of(p.participant_id), p.participant_id, last_day(p, days)
        sd = out.setdefault(site, SiteData())
        infused = plan.infusion_date(k)

        def at(d: int, _day: dt.date = infused) -> dt.date:
            return _day + dt.timedelta(days=d)

        def iso(d: int, _day: dt.date = infused) -> str:
            return (_day + dt.timedelta(days=d)).isoformat()

        def rec(table: str, event: str, day: int, versions: list[tuple[dt.date, dict]],
                order: str = "", _pid: str = pid, _sd: SiteData = sd) -> None:
            _sd.records.append(Record(table, _pid, event, day, versions, order))

        weight = round(float(rng.uniform(58, 92)), 1)
        enrol_day = plan.enrolment_day
        enrol = {"enrolment_date": iso(enrol_day), "age_years": int(rng.integers(24, 63)),
                 "sex": SEXES[int(rng.integers(1, 3)) - 1], "weight_kg": weight,
                 "diabetes_duration_years": int(rng.integers(12, 40)),
                 "@race": plan.race_boxes[0] if k % 5 == 0 else plan.race_boxes[1]}
        enrolled = at(enrol_day)
        anniversary = enrolled.replace(year=enrolled.year - enrol["age_years"],
                                       day=min(enrolled.day, 28))
        enrol["@dob"] = (anniversary - dt.timedelta(days=int(timing.integers(1, 365)))
                         ).isoformat()
        entered = at(enrol_day + int(timing.integers(0, 4)))
        rec("participants", "screening", enrol_day, [(entered, enrol)])
        infusion = {"infusion_date": iso(0), "dose_fraction": str(p.dose_fraction),
                    "@lot": f"ISL-{infused:%y%m}-{k + 1:03d}"}
        if p.study_part:
            infusion["study_part"] = p.study_part
        rec("infusions", "infusion", infusion_visit.day,
            [(at(int(timing.integers(0, 4))), infusion)])
        for d in sorted(rng.choice(np.arange(-360, -30), size=int(rng.integers(2, 5)),
                                   replace=False)):
            rec("she_events", "screening", int(d), [(entered, {
                "event_date": iso(int(d)), "third_party_assistance": True,
                "glucose_mg_dl": int(rng.integers(28, 50))})], iso(int(d)))
        for d, assisted in sorted([*((d, True) for d in p.she_days_after_infusion),
                                   *((d, False) for d in p.she_unassisted_days)]):
            if d <= last:
                rec("she_events", "follow_up", d, [(at(d + int(timing.integers(1, 8))), {
                    "event_date": iso(d), "third_party_assistance": assisted,
                    "glucose_mg_dl": ""})], iso(d))
        base_tdd = 0.55 * weight
        stop_day = int(rng.integers(110, 170))
        diary = diary_days(trial, plan, last)
        diary_delay = timing.integers(1, 11, size=len(diary))
        not_entered = next(((v.window[0], v.window[1]) for v in visits
                            if v.name == p.diary_missed_visit), (1, 0))
        for i, d in enumerate(diary):
            if rng.random() < 0.04:
                continue  # a day the participant did not fill in
            frac = insulin_fraction(p, d, stop_day)
            tdd = base_tdd * frac * (1 + 0.08 * rng.standard_normal()) if frac > 0 else 0.0
            if not_entered[0] <= d <= not_entered[1]:
                continue  # the diary of a visit never entered (after the day's draws)
            basal = round(0.5 * tdd, 1)
            rec("insulin_diary", "follow_up", d, [(at(d + int(diary_delay[i])), {
                "diary_date": iso(d), "basal_u": basal,
                "bolus_u": round(max(tdd - basal, 0.0), 1)})], iso(d))

        def ae(term: str, soc: str, onset: int, serious: bool, grade: int, outcome: str,
               action: str = "none", later: tuple[int, int, str] | None = None) -> None:
            """An adverse event; ``later``: (day, grade, outcome) of an update after entry."""
            values = {"preferred_term": term, "system_organ_class": soc,
                      "onset_date": iso(onset), "serious": serious, "ctcae_grade": grade,
                      "@ae_action": action, "outcome": outcome}
            versions = [(at(onset + int(timing.integers(1, 15))), values)]
            if later:
                versions.append((at(later[0] + int(timing.integers(1, 15))),
                                 {**values, "ctcae_grade": later[1], "outcome": later[2]}))
            rec("adverse_events", "follow_up", onset, versions, iso(onset))

        for _ in range(int(rng.integers(1, 4))):
            term, soc = MILD_AES[int(rng.integers(0, 5))]
            ae(term, soc, int(rng.integers(1, max(2, last))), False, 1, "recovered")
        neutropenia_day = next(v.day for v in visits if v.name == plan.neutropenia_visit)
        if p.neutropenia and last >= neutropenia_day:
            serious = p.neutropenia == "serious"
            ae("Neutropenia", "Blood and lymphatic system disorders", neutropenia_day, serious,
               3 if serious else 2, "recovered", "reduced")
        cm_entered = at(-2 + int(timing.integers(0, 4)))
        for name in plan.protocol_medications:
            rec("concomitant_medications", "follow_up", -2, [(cm_entered, {
                "medication": name, "indication": "Protocol", "start_date": iso(-2),
                "stop_date": ""})], iso(-2))
        ongoing = {"status": "ongoing", "status_date": "", "death_cause": ""}
        final: tuple[int, dict] | None = None
        death = p.death
        if death and days >= death.day:
            if death.steroid:
                steroid = {"medication": "Prednisone",
                           "indication": "Off-protocol, prescribed outside the trial",
                           "start_date": iso(death.ae_onset - 30), "stop_date": ""}
                rec("concomitant_medications", "follow_up", death.ae_onset - 30, [
                    (at(death.ae_onset + int(timing.integers(1, 4))), steroid),
                    (at(death.ae_onset + 4 + int(timing.integers(1, 15))),
                     {**steroid, "stop_date": iso(death.ae_onset + 4)})],
                    iso(death.ae_onset - 30))
            ae(death.ae_term, death.ae_soc, death.ae_onset, True, 4, "not recovered",
               death.action, later=(death.day, 5, "fatal"))
            final = (death.day, {"status": "died", "status_date": iso(death.day),
                                 "death_cause": death.cause})
        elif p.withdraw_day is not None and days >= p.withdraw_day:
            final = (p.withdraw_day, {"status": "withdrew", "status_date": iso(p.withdraw_day),
                                      "death_cause": ""})
        elif days >= completion:
            final = (completion, {"status": "completed", "status_date": iso(completion),
                                  "death_cause": ""})
        dispo = [(entered, ongoing)]
        if final:
            dispo.append((at(final[0] + int(timing.integers(1, 15))), final[1]))
        rec("disposition", "end", completion, dispo)

        if p.incomplete_form:  # left incomplete in REDCap (no draw)
            next(r for r in sd.records if r.record_id == pid
                 and r.table == p.incomplete_form).status = "0"

        hba1c0 = baseline_hba1c(plan, p, rng)
        for vi, v in enumerate(visits):
            tests = plan.lab_schedule.get(v.name, ())
            if not tests or v.day > last or v.name == p.missed_visit:
                continue
            day = v.day + int(rng.integers(-3, 4))
            reported = at(day + int(timing.integers(3, 11)))
            for analyte in sorted(tests, key=ANALYTES.index):
                val = lab_value(plan, p, analyte, v.name, v.day, hba1c0, rng)
                sd.labs.append(LabResult(pid, v.lab_label, iso(day), codes[analyte], float(val),
                                         reported, analyte, f"{k + 1:03d}{vi:02d}"))
    return out
