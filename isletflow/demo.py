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
* Noise: sensor warm-up gaps every 10 days, random signal losses, one 20-day sensor gap inside
  DE01-003's day-90 window, a missed day-90 lab visit (US01-004) and day-270 visit (GB01-002),
  a severe hypoglycaemic event on day 45 (GB01-001, before the day 90-365 window), ~4 % of
  insulin-diary days missing.

Deterministic for a seed: the same seed gives byte-identical files.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import polars as pl
from scipy.signal import lfilter

from isletflow.config import SITES_BY_ID

CLARITY_HEADER = [
    "Index",
    "Timestamp (YYYY-MM-DDThh:mm:ss)",
    "Event Type",
    "Event Subtype",
    "Patient Info",
    "Device Info",
    "Source Device ID",
    "Glucose Value (mg/dL)",
    "Insulin Value (u)",
    "Carb Value (grams)",
    "Duration (hh:mm:ss)",
    "Glucose Rate of Change (mg/dL/min)",
    "Transmitter Time (Long Integer)",
    "Transmitter ID",
]

FIRST_NAMES = ["Aino", "Brigitte", "Caspar", "Dolores", "Emeric", "Fenna", "Gideon",
               "Hedda", "Ignatius", "Jolanda", "Kasimir", "Liesbeth", "Marisol", "Nikodem"]
LAST_NAMES = ["Abernathy", "Brandvold", "Castellanos", "Dijkstra", "Eberhardt", "Fairweather",
              "Grunewald", "Hollingsworth", "Ilyushin", "Jankowski", "Kesselring",
              "Lindqvist", "Montgomery", "Nieuwenhuis"]

BASE_INFUSION_DATE = dt.date(2024, 3, 4)
CGM_BASELINE_DAYS = 28
READINGS_PER_DAY = 288
SENSOR_DAYS = 10
WARMUP_READINGS = 24  # 2 h warm-up of a new Dexcom sensor


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


# Order matters for --participants N: the first four cover every kind of participant.
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
    Profile("CA01-004", "full", "independent"),
    Profile("DE01-002", "full", "reduced"),
    Profile("DE01-003", "full", "independent", cgm_gap_days=(66, 85)),
    Profile("GB01-002", "full", "independent", missed_visit="day_270"),
    Profile("GB01-003", "full", "independent", neutropenia=True),
)

DEATH_DAY = {"cryptococcal": 241, "neurocognitive": 301}
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
LAB_NAMES = {
    "HBA1C": ("Hemoglobin A1c", "%"),
    "CPEP_FAST": ("C-peptide, fasting", "pmol/L"),
    "CPEP_STIM": ("C-peptide, 90 min mixed-meal stimulated", "pmol/L"),
    "ANC": ("Absolute neutrophil count", "cells/mm3"),
}
VISIT_NOMINAL = {"screening": -21, "day_28": 28, "day_56": 56, "day_90": 90, "day_120": 120,
                 "day_180": 180, "day_270": 270, "day_365": 365}


@dataclass
class TrialManifest:
    """What was written, for the caller; the planted personal data is kept only so tests can
    prove it never reaches the warehouse."""

    out_dir: Path
    participants: list[str]
    files: list[Path] = field(default_factory=list)
    planted_phi: list[str] = field(default_factory=list)
    n_cgm_rows: int = 0


def _site(pid: str) -> str:
    return pid.split("-")[0]


def _infusion_date(k: int) -> dt.date:
    return BASE_INFUSION_DATE + dt.timedelta(days=21 * k)


def _last_day(p: Profile, days: int) -> int:
    """Last study day with follow-up data (death ends follow-up)."""
    return min(days, DEATH_DAY[p.death] - 1) if p.death else days


def _glucose_targets(p: Profile, rng: np.random.Generator) -> tuple[float, float, float, float]:
    mu0, sd0 = rng.uniform(165, 178), rng.uniform(60, 68)
    if p.course == "independent":
        mu1, sd1 = rng.uniform(110, 120), rng.uniform(18, 23)
    elif p.course == "reduced":
        mu1, sd1 = rng.uniform(132, 140), rng.uniform(28, 32)
    else:
        mu1, sd1 = rng.uniform(148, 156), rng.uniform(42, 48)
    return mu0, sd0, mu1, sd1


def _cgm_trace(p: Profile, k: int, days: int, rng: np.random.Generator) -> pl.DataFrame:
    """One participant's EGV readings: local timestamps and glucose text (numbers, Low, High)."""
    tz = SITES_BY_ID[_site(p.participant_id)].timezone
    first_day, last_day = -CGM_BASELINE_DAYS, _last_day(p, days)
    n = (last_day - first_day + 1) * READINGS_PER_DAY
    day0 = _infusion_date(k)
    start_local = dt.datetime.combine(day0 + dt.timedelta(days=first_day), dt.time(0, 0))
    offset_s = int(rng.integers(0, 300))
    start_utc = (
        pl.Series([start_local]).dt.replace_time_zone(tz).dt.convert_time_zone("UTC")
        .dt.replace_time_zone(None)[0]
    )
    t_utc = pl.datetime_range(
        start_utc + dt.timedelta(seconds=offset_s),
        start_utc + dt.timedelta(seconds=offset_s + 300 * (n - 1)),
        interval="5m",
        eager=True,
    )
    local = t_utc.dt.replace_time_zone("UTC").dt.convert_time_zone(tz).dt.replace_time_zone(None)
    study_day = np.arange(n) // READINGS_PER_DAY + first_day

    mu0, sd0, mu1, sd1 = _glucose_targets(p, rng)
    w = np.clip(study_day / 120.0, 0.0, 1.0)
    mu, sd = mu0 + (mu1 - mu0) * w, sd0 + (sd1 - sd0) * w
    phi = 0.985
    ar = lfilter([np.sqrt(1 - phi**2)], [1.0, -phi], rng.standard_normal(n))
    hours = local.dt.hour().to_numpy() + local.dt.minute().to_numpy() / 60.0
    daily = np.sqrt(2.0) * np.sin(2 * np.pi * (hours - 9.0) / 24.0)
    z = 0.88 * ar + 0.47 * daily
    g = np.rint(mu + sd * z).astype(np.int64)

    keep = np.ones(n, dtype=bool)
    for s in range(0, n, SENSOR_DAYS * READINGS_PER_DAY):  # sensor warm-up after each change
        keep[s : s + WARMUP_READINGS] = False
    for _ in range(int(rng.poisson(2.5 * n / (30 * READINGS_PER_DAY)))):  # signal losses
        s = int(rng.integers(0, n))
        keep[s : s + int(rng.integers(3, 37))] = False
    if p.cgm_gap_days:
        a, b = p.cgm_gap_days
        keep[(study_day >= a) & (study_day <= b)] = False

    text = np.where(g < 40, "Low", np.where(g > 400, "High", g.astype(str)))
    return pl.DataFrame(
        {"local": local, "glucose": text, "transmitter_time": np.arange(n) * 300 + 86_400}
    ).filter(pl.Series(keep))


def _clarity_csv(p: Profile, k: int, days: int, rng: np.random.Generator,
                 phi: list[str]) -> tuple[str, int]:
    """A Dexcom Clarity (14-column, mg/dL) export: PHI preamble, alerts, EGV, insulin, carbs."""
    first, last = FIRST_NAMES[k % 14], LAST_NAMES[k % 14]
    dob = dt.date(1960 + (k * 3) % 35, 1 + k % 12, 1 + (k * 7) % 28).isoformat()
    serial = "8" + "".join(rng.choice(list("ABCDEFGHJKLMNPQRSTUVWXYZ0123456789"), 5))
    phi.extend([first, last, dob, serial])
    device = "Android G6"
    empty14 = [""] * 14

    def row(**kv: str) -> list[str]:
        r = list(empty14)
        for i, name in enumerate(["idx", "ts", "etype", "esub", "pinfo", "dinfo", "src",
                                  "glu", "ins", "carb", "dur", "roc", "ttime", "tid"]):
            if name in kv:
                r[i] = kv[name]
        return r

    pre = [
        row(etype="FirstName", pinfo=first),
        row(etype="LastName", pinfo=last),
        row(etype="DateOfBirth", pinfo=dob),
        row(etype="Device", dinfo=f"Dexcom G6 Mobile App, SN {serial}", src=device),
        row(etype="Alert", esub="High", src=device, glu="250", dur="00:00:00"),
        row(etype="Alert", esub="Low", src=device, glu="70", dur="00:00:00"),
        row(etype="Alert", esub="Urgent Low", src=device, glu="55", dur="00:00:00"),
        row(etype="Alert", esub="Rise", src=device, roc="3"),
    ]
    egv = _cgm_trace(p, k, days, rng)
    n_egv = egv.height
    events = egv.select(
        ts=pl.col("local").dt.strftime("%Y-%m-%dT%H:%M:%S"),
        etype=pl.lit("EGV"),
        esub=pl.lit(""),
        glu=pl.col("glucose"),
        ins=pl.lit(""),
        carb=pl.lit(""),
        ttime=pl.col("transmitter_time").cast(pl.String),
    )
    # Meal-time insulin and carb entries logged in the app during the baseline month.
    meal_rows = egv.filter(
        (pl.col("local") < pl.col("local").min() + dt.timedelta(days=CGM_BASELINE_DAYS))
        & pl.col("local").dt.hour().is_in([8, 13, 19])
        & (pl.col("local").dt.minute() < 5)
    )
    ins = meal_rows.select(
        ts=(pl.col("local") + dt.timedelta(minutes=1)).dt.strftime("%Y-%m-%dT%H:%M:%S"),
        etype=pl.lit("Insulin"), esub=pl.lit("Fast-Acting"), glu=pl.lit(""),
        ins=pl.lit("6"), carb=pl.lit(""), ttime=pl.lit(""),
    )
    carbs = meal_rows.select(
        ts=(pl.col("local") + dt.timedelta(minutes=2)).dt.strftime("%Y-%m-%dT%H:%M:%S"),
        etype=pl.lit("Carbs"), esub=pl.lit(""), glu=pl.lit(""), ins=pl.lit(""),
        carb=pl.lit("45"), ttime=pl.lit(""),
    )
    body = pl.concat([events, ins, carbs]).sort("ts", maintain_order=True)
    body = body.with_columns(
        idx=pl.int_range(len(pre) + 1, len(pre) + 1 + body.height).cast(pl.String),
        esub=pl.col("esub"), pinfo=pl.lit(""), dinfo=pl.lit(""), src=pl.lit(device),
        dur=pl.lit(""), roc=pl.lit(""),
        tid=pl.when(pl.col("etype") == "EGV").then(pl.lit(serial)).otherwise(pl.lit("")),
    ).select(["idx", "ts", "etype", "esub", "pinfo", "dinfo", "src", "glu", "ins", "carb",
              "dur", "roc", "ttime", "tid"])
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\r\n")
    w.writerow(CLARITY_HEADER)
    for i, r in enumerate(pre, start=1):
        r[0] = str(i)
        w.writerow(r)
    head = buf.getvalue()
    body = body.with_columns(pl.all().replace("", None))  # empty fields, not ""
    return head + body.write_csv(include_header=False, line_terminator="\r\n"), n_egv


def _redcap(form: str, fields: list[str], rows: list[dict], repeating: bool) -> str:
    """A REDCap flat export of one instrument (record_id, event, repeat columns, form status)."""
    cols = ["record_id", "redcap_event_name", "redcap_repeat_instrument",
            "redcap_repeat_instance", *fields, f"{form}_complete"]
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=cols, lineterminator="\n")
    w.writeheader()
    counters: dict[str, int] = {}
    for r in rows:
        out = {c: "" for c in cols}
        out.update({k: ("" if v is None else str(v)) for k, v in r.items()})
        if repeating:
            counters[r["record_id"]] = counters.get(r["record_id"], 0) + 1
            out["redcap_repeat_instrument"] = form
            out["redcap_repeat_instance"] = str(counters[r["record_id"]])
        out[f"{form}_complete"] = "2"
        w.writerow(out)
    return buf.getvalue()


def _day(k: int, d: int) -> str:
    return (_infusion_date(k) + dt.timedelta(days=d)).isoformat()


def _edc_and_lab(profiles: list[tuple[int, Profile]], days: int, rng: np.random.Generator
                 ) -> dict[str, dict[str, str]]:
    """EDC forms and central-lab results per site, as {site: {relative path: text}}."""
    per_site: dict[str, dict[str, list[dict]]] = {}
    for k, p in profiles:
        site, pid, last_day = _site(p.participant_id), p.participant_id, _last_day(p, days)
        f = per_site.setdefault(site, {})
        weight = round(float(rng.uniform(58, 92)), 1)
        f.setdefault("enrolment", []).append({
            "record_id": pid, "redcap_event_name": "screening_arm_1",
            "enrol_date": _day(k, -35), "age": int(rng.integers(24, 63)),
            "sex": int(rng.integers(1, 3)), "weight_kg": weight,
            "t1d_duration_y": int(rng.integers(12, 40)),
            "race___1": int(k % 5 == 0), "race___2": 0, "race___3": 0, "race___4": 0,
            "race___5": int(k % 5 != 0),
        })
        f.setdefault("infusion", []).append({
            "record_id": pid, "redcap_event_name": "day_0_arm_1", "infusion_date": _day(k, 0),
            "study_part": "A" if p.dose == "half" else "C",
            "dose_fraction": "0.5" if p.dose == "half" else "1.0",
        })
        she = f.setdefault("severe_hypoglycemia", [])
        for d in sorted(rng.choice(np.arange(-360, -30), size=int(rng.integers(2, 5)),
                                   replace=False)):
            she.append({"record_id": pid, "redcap_event_name": "screening_arm_1",
                        "she_date": _day(k, int(d)), "she_assist": 1,
                        "she_glucose_mg_dl": int(rng.integers(28, 50))})
        for d in p.she_days_after_infusion:
            if d <= last_day:
                she.append({"record_id": pid, "redcap_event_name": "follow_up_arm_1",
                            "she_date": _day(k, d), "she_assist": 1, "she_glucose_mg_dl": ""})
        base_tdd = 0.55 * weight
        stop_day = int(rng.integers(110, 170))
        diary = f.setdefault("insulin_diary", [])
        for d in range(-CGM_BASELINE_DAYS, last_day + 1):
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
            diary.append({"record_id": pid, "redcap_event_name": "follow_up_arm_1",
                          "diary_date": _day(k, d), "basal_u": basal,
                          "bolus_u": round(max(tdd - basal, 0.0), 1)})
        ae = f.setdefault("adverse_events", [])
        for _ in range(int(rng.integers(1, 4))):
            term, soc = [("Headache", "Nervous system disorders"),
                         ("Nausea", "Gastrointestinal disorders"),
                         ("Diarrhoea", "Gastrointestinal disorders"),
                         ("Fatigue", "General disorders and administration site conditions"),
                         ("Mouth ulceration", "Gastrointestinal disorders")][int(rng.integers(0, 5))]
            d = int(rng.integers(1, max(2, last_day)))
            ae.append({"record_id": pid, "ae_term": term, "ae_soc": soc,
                       "ae_onset_date": _day(k, d), "ae_serious": 0, "ae_grade": 1,
                       "ae_outcome": 1})
        if p.neutropenia and last_day >= 56:
            ae.append({"record_id": pid, "ae_term": "Neutropenia",
                       "ae_soc": "Blood and lymphatic system disorders",
                       "ae_onset_date": _day(k, 56), "ae_serious": 1, "ae_grade": 3,
                       "ae_outcome": 1})
        cm = f.setdefault("concomitant_medications", [])
        for name in ("Tacrolimus", "Mycophenolate mofetil", "Valganciclovir",
                     "Sulfamethoxazole/trimethoprim"):
            cm.append({"record_id": pid, "cm_name": name, "cm_indication": "Protocol",
                       "cm_start_date": _day(k, -2), "cm_stop_date": ""})
        dispo_status, dispo_date, cause = (2, "", "")
        if p.death == "cryptococcal" and days >= DEATH_DAY["cryptococcal"]:
            cm.append({"record_id": pid, "cm_name": "Prednisone",
                       "cm_indication": "Off-protocol, prescribed outside the trial",
                       "cm_start_date": _day(k, 196), "cm_stop_date": _day(k, 230)})
            ae.append({"record_id": pid, "ae_term": "Cryptococcal meningitis",
                       "ae_soc": "Infections and infestations", "ae_onset_date": _day(k, 226),
                       "ae_serious": 1, "ae_grade": 5, "ae_outcome": 4})
            dispo_status, dispo_date, cause = 3, _day(k, 241), "Cryptococcal meningitis"
        elif p.death == "neurocognitive" and days >= DEATH_DAY["neurocognitive"]:
            ae.append({"record_id": pid, "ae_term": "Neurocognitive disorder",
                       "ae_soc": "Psychiatric disorders", "ae_onset_date": _day(k, 250),
                       "ae_serious": 1, "ae_grade": 5, "ae_outcome": 4})
            dispo_status, dispo_date, cause = (
                3, _day(k, 301), "Worsening of pre-existing neurocognitive disorder")
        elif days >= 365:
            dispo_status, dispo_date = 1, _day(k, 365)
        f.setdefault("disposition", []).append({
            "record_id": pid, "redcap_event_name": "end_of_study_arm_1",
            "dispo_status": dispo_status, "dispo_date": dispo_date, "death_cause": cause})

        lab = f.setdefault("lab", [])
        hba1c0 = rng.uniform(7.6, 9.0)
        for visit, tests in LAB_VISITS.items():
            nominal = VISIT_NOMINAL[visit]
            if nominal > last_day or visit == p.missed_visit:
                continue
            day = nominal + int(rng.integers(-3, 4))
            frac = min(max(nominal, 0) / 180.0, 1.0)
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
                    val = f"{v:.1f}"
                elif t == "CPEP_FAST":
                    scale = {"independent": 1.0, "reduced": 0.6, "partial": 0.35}[p.course]
                    val = "2" if nominal < 0 else f"{frac * scale * rng.uniform(400, 700):.0f}"
                elif t == "CPEP_STIM":
                    scale = {"independent": 1.0, "reduced": 0.6, "partial": 0.35}[p.course]
                    val = "3" if nominal < 0 else f"{frac * scale * rng.uniform(900, 1500):.0f}"
                else:
                    anc = rng.uniform(2400, 5200)
                    if p.neutropenia and visit == "day_56":
                        anc = rng.uniform(600, 950)
                    val = f"{anc:.0f}"
                lab.append({"subject_id": pid, "visit": visit, "collection_date": _day(k, day),
                            "test_code": t, "test_name": LAB_NAMES[t][0], "result": val,
                            "unit": LAB_NAMES[t][1]})

    forms = {
        "enrolment": (["enrol_date", "age", "sex", "weight_kg", "t1d_duration_y",
                       "race___1", "race___2", "race___3", "race___4", "race___5"], False),
        "infusion": (["infusion_date", "study_part", "dose_fraction"], False),
        "severe_hypoglycemia": (["she_date", "she_assist", "she_glucose_mg_dl"], True),
        "insulin_diary": (["diary_date", "basal_u", "bolus_u"], True),
        "adverse_events": (["ae_term", "ae_soc", "ae_onset_date", "ae_serious", "ae_grade",
                            "ae_outcome"], True),
        "concomitant_medications": (["cm_name", "cm_indication", "cm_start_date",
                                     "cm_stop_date"], True),
        "disposition": (["dispo_status", "dispo_date", "death_cause"], False),
    }
    out: dict[str, dict[str, str]] = {}
    for site, f in per_site.items():
        files = out.setdefault(site, {})
        for form, (fields, repeating) in forms.items():
            rows = f.get(form, [])
            for r in rows:
                r.setdefault("redcap_event_name", "follow_up_arm_1")
            files[f"edc/{form}.csv"] = _redcap(form, fields, rows, repeating)
        buf = io.StringIO()
        w = csv.DictWriter(buf, fieldnames=["subject_id", "visit", "collection_date",
                                            "test_code", "test_name", "result", "unit"],
                           lineterminator="\n")
        w.writeheader()
        w.writerows(f.get("lab", []))
        files["lab/central_lab_results.csv"] = buf.getvalue()
    return out


def generate_trial(out_dir: Path, seed: int = 20250620, participants: int = 14,
                   days: int = 365) -> TrialManifest:
    """Write the sample trial's landing area under ``out_dir`` (``<site>/cgm|edc|lab/...``)."""
    if not 1 <= participants <= len(PROFILES):
        raise ValueError(f"--participants must be between 1 and {len(PROFILES)}")
    if days < 1:
        raise ValueError("--days must be at least 1")
    rng = np.random.default_rng(seed)
    chosen = list(enumerate(PROFILES))[:participants]
    manifest = TrialManifest(out_dir=out_dir, participants=[p.participant_id for _, p in chosen])
    for k, p in chosen:
        site = _site(p.participant_id)
        text, n = _clarity_csv(p, k, days, rng, manifest.planted_phi)
        path = out_dir / site / "cgm" / f"{p.participant_id}__clarity_export.csv"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes("\ufeff".encode() + text.encode("utf-8"))
        manifest.files.append(path)
        manifest.n_cgm_rows += n
    for site, files in _edc_and_lab(chosen, days, rng).items():
        for rel, text in files.items():
            path = out_dir / site / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
            manifest.files.append(path)
    return manifest
