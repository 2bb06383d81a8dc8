"""REDCap case report forms and central-lab results of the sample trial, per site."""

from __future__ import annotations

import csv
import io

import numpy as np

from isletflow.demo.profiles import (CGM_BASELINE_DAYS, DEATH_DAY, SITE_EXPORTS, Profile,
                                     day_iso, last_day, site_of)

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
LAB_COLUMNS = ["subject_id", "visit", "collection_date", "test_code", "test_name", "result",
               "unit"]

# How each site's central lab reports (DESIGN.md, "Site exports"): test names, units, number
# format, delimiter and encoding. Values are planted in NGSP %, pmol/L and cells/mm3 and
# converted here to what the lab sends.
LAB_STYLES = {
    "us": {"sep": ",", "comma": False, "encoding": "utf-8",
           "HBA1C": ("Hemoglobin A1c", "%"), "CPEP_FAST": ("C-peptide, fasting", "pmol/L"),
           "CPEP_STIM": ("C-peptide, 90 min mixed-meal stimulated", "pmol/L"),
           "ANC": ("Absolute neutrophil count", "cells/mm3")},
    "ca": {"sep": ",", "comma": False, "encoding": "utf-8",
           "HBA1C": ("Hemoglobin A1c", "%"), "CPEP_FAST": ("C-peptide, fasting", "nmol/L"),
           "CPEP_STIM": ("C-peptide, 90 min MMTT", "nmol/L"),
           "ANC": ("Neutrophils, absolute", "10^9/L")},
    "de": {"sep": ";", "comma": True, "encoding": "latin-1",
           "HBA1C": ("Hämoglobin A1c (IFCC)", "mmol/mol"),
           "CPEP_FAST": ("C-Peptid nüchtern", "ng/mL"),
           "CPEP_STIM": ("C-Peptid stimuliert (90 min)", "ng/mL"),
           "ANC": ("Neutrophile absolut", "G/l")},
    "gb": {"sep": ",", "comma": False, "encoding": "utf-8",
           "HBA1C": ("HbA1c (IFCC)", "mmol/mol"), "CPEP_FAST": ("C-peptide, fasting", "pmol/L"),
           "CPEP_STIM": ("C-peptide, stimulated", "pmol/L"),
           "ANC": ("Neutrophil count", "x10^9/L")},
}


def lab_value(test: str, value: float, unit: str) -> str:
    """The planted value (HbA1c NGSP %, C-peptide pmol/L, ANC /mm3) as the lab reports it."""
    if unit == "mmol/mol":
        return f"{(value - 2.15) / 0.0915:.0f}"  # IFCC-NGSP master equation, inverted
    if unit == "nmol/L":
        return f"{value / 1000:.3f}"
    if unit == "ng/mL":
        return f"{value / 331:.2f}"
    if unit in ("10^9/L", "G/l", "x10^9/L"):
        return f"{value / 1000:.2f}"
    return f"{value:.1f}" if test == "HBA1C" else f"{value:.0f}"


def lab_file(rows: list[dict], style: str) -> bytes:
    """A central-lab CSV in the site lab's style (delimiter, decimal mark, encoding)."""
    st = LAB_STYLES[style]
    buf = io.StringIO()
    w = csv.writer(buf, delimiter=st["sep"], lineterminator="\n")
    w.writerow(LAB_COLUMNS)
    for r in rows:
        name, unit = st[r["test_code"]]
        result = lab_value(r["test_code"], r["value"], unit)
        if st["comma"]:
            result = result.replace(".", ",")
        w.writerow([r["subject_id"], r["visit"], r["collection_date"], r["test_code"], name,
                    result, unit])
    return buf.getvalue().encode(st["encoding"])


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


def edc_and_lab(profiles: list[tuple[int, Profile]], days: int, rng: np.random.Generator
                ) -> dict[str, dict[str, bytes]]:
    """EDC forms and central-lab results per site, as {site: {relative path: bytes}}."""
    per_site: dict[str, dict[str, list[dict]]] = {}
    for k, p in profiles:
        site, pid, last = site_of(p.participant_id), p.participant_id, last_day(p, days)
        f = per_site.setdefault(site, {})
        weight = round(float(rng.uniform(58, 92)), 1)
        f.setdefault("enrolment", []).append({
            "record_id": pid, "redcap_event_name": "screening_arm_1",
            "enrol_date": day_iso(k, -35), "age": int(rng.integers(24, 63)),
            "sex": int(rng.integers(1, 3)), "weight_kg": weight,
            "t1d_duration_y": int(rng.integers(12, 40)),
            "race___1": int(k % 5 == 0), "race___2": 0, "race___3": 0, "race___4": 0,
            "race___5": int(k % 5 != 0),
        })
        f.setdefault("infusion", []).append({
            "record_id": pid, "redcap_event_name": "day_0_arm_1", "infusion_date": day_iso(k, 0),
            "study_part": "A" if p.dose == "half" else "C",
            "dose_fraction": "0.5" if p.dose == "half" else "1.0",
        })
        she = f.setdefault("severe_hypoglycemia", [])
        for d in sorted(rng.choice(np.arange(-360, -30), size=int(rng.integers(2, 5)),
                                   replace=False)):
            she.append({"record_id": pid, "redcap_event_name": "screening_arm_1",
                        "she_date": day_iso(k, int(d)), "she_assist": 1,
                        "she_glucose_mg_dl": int(rng.integers(28, 50))})
        for d in p.she_days_after_infusion:
            if d <= last:
                she.append({"record_id": pid, "redcap_event_name": "follow_up_arm_1",
                            "she_date": day_iso(k, d), "she_assist": 1, "she_glucose_mg_dl": ""})
        base_tdd = 0.55 * weight
        stop_day = int(rng.integers(110, 170))
        diary = f.setdefault("insulin_diary", [])
        for d in range(-CGM_BASELINE_DAYS, last + 1):
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
                          "diary_date": day_iso(k, d), "basal_u": basal,
                          "bolus_u": round(max(tdd - basal, 0.0), 1)})
        ae = f.setdefault("adverse_events", [])
        for _ in range(int(rng.integers(1, 4))):
            term, soc = [("Headache", "Nervous system disorders"),
                         ("Nausea", "Gastrointestinal disorders"),
                         ("Diarrhoea", "Gastrointestinal disorders"),
                         ("Fatigue", "General disorders and administration site conditions"),
                         ("Mouth ulceration", "Gastrointestinal disorders")][int(rng.integers(0, 5))]
            d = int(rng.integers(1, max(2, last)))
            ae.append({"record_id": pid, "ae_term": term, "ae_soc": soc,
                       "ae_onset_date": day_iso(k, d), "ae_serious": 0, "ae_grade": 1,
                       "ae_outcome": 1})
        if p.neutropenia and last >= 56:
            ae.append({"record_id": pid, "ae_term": "Neutropenia",
                       "ae_soc": "Blood and lymphatic system disorders",
                       "ae_onset_date": day_iso(k, 56), "ae_serious": 1, "ae_grade": 3,
                       "ae_outcome": 1})
        cm = f.setdefault("concomitant_medications", [])
        for name in ("Tacrolimus", "Mycophenolate mofetil", "Valganciclovir",
                     "Sulfamethoxazole/trimethoprim"):
            cm.append({"record_id": pid, "cm_name": name, "cm_indication": "Protocol",
                       "cm_start_date": day_iso(k, -2), "cm_stop_date": ""})
        dispo_status, dispo_date, cause = (2, "", "")
        if p.death == "cryptococcal" and days >= DEATH_DAY["cryptococcal"]:
            cm.append({"record_id": pid, "cm_name": "Prednisone",
                       "cm_indication": "Off-protocol, prescribed outside the trial",
                       "cm_start_date": day_iso(k, 196), "cm_stop_date": day_iso(k, 230)})
            ae.append({"record_id": pid, "ae_term": "Cryptococcal meningitis",
                       "ae_soc": "Infections and infestations", "ae_onset_date": day_iso(k, 226),
                       "ae_serious": 1, "ae_grade": 5, "ae_outcome": 4})
            dispo_status, dispo_date, cause = 3, day_iso(k, 241), "Cryptococcal meningitis"
        elif p.death == "neurocognitive" and days >= DEATH_DAY["neurocognitive"]:
            ae.append({"record_id": pid, "ae_term": "Neurocognitive disorder",
                       "ae_soc": "Psychiatric disorders", "ae_onset_date": day_iso(k, 250),
                       "ae_serious": 1, "ae_grade": 5, "ae_outcome": 4})
            dispo_status, dispo_date, cause = (
                3, day_iso(k, 301), "Worsening of pre-existing neurocognitive disorder")
        elif days >= 365:
            dispo_status, dispo_date = 1, day_iso(k, 365)
        f.setdefault("disposition", []).append({
            "record_id": pid, "redcap_event_name": "end_of_study_arm_1",
            "dispo_status": dispo_status, "dispo_date": dispo_date, "death_cause": cause})

        lab = f.setdefault("lab", [])
        hba1c0 = rng.uniform(7.6, 9.0)
        for visit, tests in LAB_VISITS.items():
            nominal = VISIT_NOMINAL[visit]
            if nominal > last or visit == p.missed_visit:
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
                lab.append({"subject_id": pid, "visit": visit, "collection_date": day_iso(k, day),
                            "test_code": t, "value": float(val)})

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
    out: dict[str, dict[str, bytes]] = {}
    for site, f in per_site.items():
        files = out.setdefault(site, {})
        for form, (fields, repeating) in forms.items():
            rows = f.get(form, [])
            for r in rows:
                r.setdefault("redcap_event_name", "follow_up_arm_1")
            files[f"edc/{form}.csv"] = _redcap(form, fields, rows, repeating).encode("utf-8")
        files["lab/central_lab_results.csv"] = lab_file(f.get("lab", []),
                                                        SITE_EXPORTS[site]["lab"])
    return out


