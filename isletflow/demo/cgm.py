"""CGM traces and the device exports that carry them (Dexcom Clarity, LibreView, and one
FreeStyle Libre Pro clinic "Patient report")."""

from __future__ import annotations

import csv
import datetime as dt
import io

import numpy as np
import polars as pl
from scipy.signal import lfilter

from isletflow.config import SITES_BY_ID
from isletflow.demo.profiles import (CGM_BASELINE_DAYS, FIRST_NAMES, LAST_NAMES, Profile,
                                     infusion_date, last_day, site_of)

READINGS_PER_DAY = 288  # the underlying trace: one value every 5 minutes
MMOL_FACTOR = 18.018

CLARITY_HEADER_EN = [
    "Index", "Timestamp (YYYY-MM-DDThh:mm:ss)", "Event Type", "Event Subtype", "Patient Info",
    "Device Info", "Source Device ID", "Glucose Value ({u})", "Insulin Value (u)",
    "Carb Value (grams)", "Duration (hh:mm:ss)", "Glucose Rate of Change ({u}/min)",
    "Transmitter Time (Long Integer)", "Transmitter ID",
]
CLARITY_HEADER_DE = [
    "Index", "Zeitstempel (JJJJ-MM-TTThh:mm:ss)", "Ereignistyp", "Ereignis-Subtyp",
    "Patienteninfo", "Geräteinfo", "Quellgeräte-ID", "Glukosewert ({u})", "Insulinwert (E)",
    "Kohlenhydratwert (Gramm)", "Dauer (hh:mm:ss)", "Glukose-Änderungsrate ({u}/min)",
    "Transmitterzeit (lange Ganzzahl)", "Transmitter-ID",
]
# English event types and censored values -> the translated export's words.
DE_WORDS = {"FirstName": "Vorname", "LastName": "Nachname", "DateOfBirth": "Geburtsdatum",
            "Device": "Gerät", "Alert": "Alarm", "Carbs": "Kohlenhydrate", "Low": "Niedrig",
            "High": "Hoch", "Fast-Acting": "Schnell wirkend"}
LIBRE_HEADER = [
    "Device", "Serial Number", "Device Timestamp", "Record Type", "Historic Glucose {u}",
    "Scan Glucose {u}", "Non-numeric Rapid-Acting Insulin", "Rapid-Acting Insulin (units)",
    "Non-numeric Food", "Carbohydrates (grams)", "Carbohydrates (servings)",
    "Non-numeric Long-Acting Insulin", "Long-Acting Insulin Value (units)", "Notes",
    "Strip Glucose {u}", "Ketone mmol/L", "Meal Insulin (units)", "Correction Insulin (units)",
    "User Change Insulin (units)",
]
# The LibreView clinic "Patient report" of a FreeStyle Libre Pro (blinded) sensor writes the
# long-acting insulin column without "Value" (PROVENANCE.md B5).
LIBRE_PRO_HEADER = [h.replace("Long-Acting Insulin Value (units)", "Long-Acting Insulin (units)")
                    for h in LIBRE_HEADER]
# The participant whose clinic sent a Libre Pro patient report instead of the first LibreView
# export (a GB01 participant outside the first four, whose LibreView exports other tests read).
LIBRE_PRO_PARTICIPANT = "GB01-002"


def glucose_trace(p: Profile, k: int, days: int, rng: np.random.Generator) -> pl.DataFrame:
    """The participant's true glucose every 5 min (``utc``, ``local``, ``study_day``, ``mg``).

    Baseline: poor control (mean ~170 mg/dL, SD ~64, with values below 40 and above 400).
    After infusion the mean and SD move over 120 days to the planted course: insulin
    independent ~115 / 20, reduced dose ~136 / 30, half dose ~152 / 45. Noise: an AR(1)
    process (5-min lag correlation 0.985) plus a daily rhythm.
    """
    tz = SITES_BY_ID[site_of(p.participant_id)].timezone
    first, last = -CGM_BASELINE_DAYS, last_day(p, days)
    n = (last - first + 1) * READINGS_PER_DAY
    start_local = dt.datetime.combine(infusion_date(k) + dt.timedelta(days=first), dt.time())
    start_utc = (pl.Series([start_local]).dt.replace_time_zone(tz)
                 .dt.convert_time_zone("UTC").dt.replace_time_zone(None)[0])
    start_utc += dt.timedelta(seconds=int(rng.integers(0, 300)))
    utc = pl.datetime_range(start_utc, start_utc + dt.timedelta(minutes=5 * (n - 1)),
                            interval="5m", eager=True)
    local = utc.dt.replace_time_zone("UTC").dt.convert_time_zone(tz).dt.replace_time_zone(None)
    study_day = np.arange(n) // READINGS_PER_DAY + first

    mu0, sd0 = rng.uniform(165, 178), rng.uniform(60, 68)
    mu1, sd1 = {"independent": (rng.uniform(110, 120), rng.uniform(18, 23)),
                "reduced": (rng.uniform(132, 140), rng.uniform(28, 32)),
                "partial": (rng.uniform(148, 156), rng.uniform(42, 48))}[p.course]
    w = np.clip(study_day / 120.0, 0.0, 1.0)
    mu, sd = mu0 + (mu1 - mu0) * w, sd0 + (sd1 - sd0) * w
    phi = 0.985
    ar = lfilter([np.sqrt(1 - phi**2)], [1.0, -phi], rng.standard_normal(n))
    hours = local.dt.hour().to_numpy() + local.dt.minute().to_numpy() / 60.0
    z = 0.88 * ar + 0.47 * np.sqrt(2.0) * np.sin(2 * np.pi * (hours - 9.0) / 24.0)
    return pl.DataFrame({"utc": utc, "local": local, "study_day": study_day,
                         "mg": np.rint(mu + sd * z).astype(np.int64)})


def sensor_mask(p: Profile, study_day: np.ndarray, per_day: int, sensor_days: int,
                warmup: int, rng: np.random.Generator) -> np.ndarray:
    """Readings the sensor delivered: no data during warm-up after each sensor change,
    random signal losses (about 2.5 a month, up to 3 h), and the profile's planted gap."""
    n = len(study_day)
    keep = np.ones(n, dtype=bool)
    for s in range(0, n, sensor_days * per_day):
        keep[s : s + warmup] = False
    for _ in range(int(rng.poisson(2.5 * n / (30 * per_day)))):
        s = int(rng.integers(0, n))
        keep[s : s + int(rng.integers(1, 3 * per_day // 24 + 2))] = False
    if p.cgm_gap_days:
        a, b = p.cgm_gap_days
        keep[(study_day >= a) & (study_day <= b)] = False
    return keep


def export_windows(p: Profile, days: int) -> list[tuple[int, int]]:
    """Study-day ranges of the participant's exports: a first export, then a cumulative
    re-export that overlaps it (the site exports what the device holds)."""
    first, last = -CGM_BASELINE_DAYS, last_day(p, days)
    span = last - first
    return [(first, first + span * 2 // 3), (first + span // 2, last)]


def mmol_text(mg: pl.Expr, decimal_comma: bool) -> pl.Expr:
    t = (mg / MMOL_FACTOR).round(1).cast(pl.String)
    t = pl.when(t.str.contains(r"\.")).then(t).otherwise(t + ".0")
    return t.str.replace(".", ",", literal=True) if decimal_comma else t


def _csv(rows: list[list[str]], sep: str = ",", line_end: str = "\r\n") -> str:
    buf = io.StringIO()
    csv.writer(buf, delimiter=sep, lineterminator=line_end).writerows(rows)
    return buf.getvalue()


def clarity_export(p: Profile, k: int, egv: pl.DataFrame, unit: str, lang: str,
                   rng: np.random.Generator, phi: list[str]) -> str:
    """A Dexcom Clarity export: PHI preamble, alerts, EGV rows (numbers, Low, High), and in the
    baseline month meal-time insulin and carb entries. ``egv``: ``local``, ``mg``, ``ttime``."""
    de = lang == "de"
    sep = ";" if de else ","
    word = (lambda w: DE_WORDS.get(w, w)) if de else (lambda w: w)
    first, last = FIRST_NAMES[k % 14], LAST_NAMES[k % 14]
    dob = dt.date(1960 + (k * 3) % 35, 1 + k % 12, 1 + (k * 7) % 28).isoformat()
    serial = "8" + "".join(rng.choice(list("ABCDEFGHJKLMNPQRSTUVWXYZ0123456789"), 5))
    phi.extend([first, last, dob, serial])
    src = "Android G6"
    header = [h.format(u=unit if not de else unit.lower())
              for h in (CLARITY_HEADER_DE if de else CLARITY_HEADER_EN)][: p.clarity_columns]
    cols = p.clarity_columns

    def row(**kv: str) -> list[str]:
        names = ["idx", "ts", "etype", "esub", "pinfo", "dinfo", "src", "glu", "ins", "carb",
                 "dur", "roc", "ttime", "tid"]
        return [kv.get(n, "") for n in names][:cols]

    limit = {"mg/dL": ("250", "70", "55"), "mmol/L": ("13.9", "3.9", "3.1")}[unit]
    if de:
        limit = tuple(x.replace(".", ",") for x in limit)
    pre = [row(etype=word("FirstName"), pinfo=first), row(etype=word("LastName"), pinfo=last),
           row(etype=word("DateOfBirth"), pinfo=dob),
           row(etype=word("Device"), dinfo=f"Dexcom G6 Mobile App, SN {serial}", src=src),
           row(etype=word("Alert"), esub="High", src=src, glu=limit[0], dur="00:00:00"),
           row(etype=word("Alert"), esub="Low", src=src, glu=limit[1], dur="00:00:00"),
           row(etype=word("Alert"), esub="Urgent Low", src=src, glu=limit[2], dur="00:00:00")]
    mg = pl.col("mg")
    number = mg.cast(pl.String) if unit == "mg/dL" else mmol_text(mg, de)
    glu = (pl.when(mg < 40).then(pl.lit(word("Low"))).when(mg > 400).then(pl.lit(word("High")))
           .otherwise(number))
    ts = pl.col("local").dt.strftime("%Y-%m-%dT%H:%M:%S")
    body = egv.select(ts=ts, local=pl.col("local"), etype=pl.lit("EGV"), esub=pl.lit(""),
                      glu=glu, ins=pl.lit(""), carb=pl.lit(""),
                      ttime=pl.col("ttime").cast(pl.String), tid=pl.lit(serial))
    meals = egv.filter(
        (pl.col("local") < egv["local"].min() + dt.timedelta(days=CGM_BASELINE_DAYS))
        & pl.col("local").dt.hour().is_in([8, 13, 19]) & (pl.col("local").dt.minute() < 5))
    extra = [
        meals.select(ts=(pl.col("local") + dt.timedelta(minutes=m)).dt.strftime(
            "%Y-%m-%dT%H:%M:%S"), local=pl.col("local"), etype=pl.lit(e),
            esub=pl.lit(word(s)), glu=pl.lit(""), ins=pl.lit(i), carb=pl.lit(c),
            ttime=pl.lit(""), tid=pl.lit(""))
        for m, e, s, i, c in ((1, "Insulin", "Fast-Acting", "6", ""),
                              (2, word("Carbs"), "", "", "45"))
    ]
    body = pl.concat([body, *extra]).sort("local", "ts", maintain_order=True)
    names = ["idx", "ts", "etype", "esub", "pinfo", "dinfo", "src", "glu", "ins", "carb",
             "dur", "roc", "ttime", "tid"]
    body = body.with_columns(
        idx=pl.int_range(len(pre) + 1, len(pre) + 1 + body.height).cast(pl.String),
        pinfo=pl.lit(""), dinfo=pl.lit(""), src=pl.lit(src), dur=pl.lit(""), roc=pl.lit(""),
    ).select(names[:cols]).with_columns(pl.all().replace("", None))
    pre_rows = [[str(i + 1), *r[1:]] for i, r in enumerate(pre)]
    return _csv([header, *pre_rows], sep=sep) + body.write_csv(
        include_header=False, separator=sep, line_terminator="\r\n")


def libreview_export(p: Profile, k: int, hist: pl.DataFrame, rng: np.random.Generator,
                     phi: list[str], generated: dt.datetime) -> str:
    """A LibreView export (UK: day-first timestamps, mmol/L): title line with the patient's
    name, historic readings every 15 min (type 0), a few scans a day (type 1), and in the
    baseline month insulin (4) and food (5) records, some with free-text notes."""
    name = f"{FIRST_NAMES[k % 14]} {LAST_NAMES[k % 14]}"
    serial = "".join(rng.choice(list("0123456789ABCDEF"), 8)) + "-" + "".join(
        rng.choice(list("0123456789ABCDEF"), 4))
    note = f"picnic with {FIRST_NAMES[(k + 3) % 14]}"
    phi.extend([name, serial, note])
    title = ["Glucose Data", "Generated on", generated.strftime("%d-%m-%Y %H:%M") + " UTC",
             "Generated by", name]
    header = [h.format(u="mmol/L") for h in LIBRE_HEADER]
    ts = pl.col("local").dt.strftime("%d-%m-%Y %H:%M")
    hist_rows = hist.select(ts=ts, local=pl.col("local"), rtype=pl.lit("0"),
                            v=mmol_text(pl.col("mg").clip(40, 400), False))
    scan_idx = np.sort(rng.choice(hist.height, size=max(1, hist.height // 16), replace=False))
    scans = hist[scan_idx].select(
        ts=(pl.col("local") + dt.timedelta(minutes=7)).dt.strftime("%d-%m-%Y %H:%M"),
        local=pl.col("local") + dt.timedelta(minutes=7), rtype=pl.lit("1"),
        v=mmol_text((pl.col("mg") + 3).clip(40, 400), False))
    base_end = hist["local"].min() + dt.timedelta(days=CGM_BASELINE_DAYS)
    meals = hist.filter((pl.col("local") < base_end) & pl.col("local").dt.hour().is_in([8, 13, 19])
                        & (pl.col("local").dt.minute() < 15))
    food = meals.select(ts=(pl.col("local") + dt.timedelta(minutes=2)).dt.strftime(
        "%d-%m-%Y %H:%M"), local=pl.col("local") + dt.timedelta(minutes=2), rtype=pl.lit("5"),
        v=pl.lit("45"))
    ins = meals.select(ts=(pl.col("local") + dt.timedelta(minutes=1)).dt.strftime(
        "%d-%m-%Y %H:%M"), local=pl.col("local") + dt.timedelta(minutes=1), rtype=pl.lit("4"),
        v=pl.lit("6"))
    body = pl.concat([hist_rows, scans, food, ins]).sort("local", "rtype", maintain_order=True)
    rt = pl.col("rtype")
    cols = {h: pl.lit(None, pl.String) for h in header}
    cols.update({
        header[0]: pl.lit("FreeStyle LibreLink"), header[1]: pl.lit(serial),
        header[2]: pl.col("ts"), header[3]: rt,
        header[4]: pl.when(rt == "0").then(pl.col("v")),
        header[5]: pl.when(rt == "1").then(pl.col("v")),
        header[7]: pl.when(rt == "4").then(pl.col("v")),
        header[9]: pl.when(rt == "5").then(pl.col("v")),
        header[13]: pl.when((rt == "5") & (pl.int_range(0, pl.len()) % 20 == 0))
        .then(pl.lit(note)),
    })
    body = body.select(**cols)
    return _csv([title, header]) + body.write_csv(include_header=False, line_terminator="\r\n")


def libre_pro_report(p: Profile, k: int, hist: pl.DataFrame, rng: np.random.Generator,
                     phi: list[str], generated: dt.datetime) -> str:
    """A LibreView clinic "Patient report" of FreeStyle Libre Pro sensors, as the UK clinic
    downloads it (PROVENANCE.md B5 for the layout, B4 for a European one): two preamble lines,
    each padded with commas to the 19 header fields (the title with the clinician who made
    it, then the patient's name and date of birth, DD-MM-YYYY); the 19-column header
    (``Long-Acting Insulin (units)``); historic readings only (record type 0, every 15 min: a
    blinded sensor has no scans), day-first timestamps, mmol/L; LF line ends, no BOM."""
    name = f"{FIRST_NAMES[k % 14]} {LAST_NAMES[k % 14]}"
    clinician = f"{FIRST_NAMES[(k + 5) % 14]} {LAST_NAMES[(k + 9) % 14]}"
    dob = dt.date(1960 + (k * 3) % 35, 1 + k % 12, 1 + (k * 7) % 28).strftime("%d-%m-%Y")
    letters = "".join(rng.choice(list("ABCDEFGHJKLMNPQRSTUVWXYZ"), 4))
    serial = f"{letters}{int(rng.integers(100, 1000))}-K{int(rng.integers(1000, 10000))}"
    phi.extend([name, clinician, dob, serial])
    pad = [""] * (len(LIBRE_PRO_HEADER) - 5)
    title = ["Patient report", "Generated on", generated.strftime("%d-%m-%Y %H:%M") + " UTC",
             "Generated by", clinician, *pad]
    patient = [name, dob, *pad, "", "", ""]
    header = [h.format(u="mmol/L") for h in LIBRE_PRO_HEADER]
    cols = {h: pl.lit(None, pl.String) for h in header}
    cols.update({header[0]: pl.lit("FreeStyle Libre Pro"), header[1]: pl.lit(serial),
                 header[2]: pl.col("local").dt.strftime("%d-%m-%Y %H:%M"),
                 header[3]: pl.lit("0"), header[4]: mmol_text(pl.col("mg").clip(40, 400), False)})
    body = hist.sort("local").select(**cols)
    return _csv([title, patient, header], line_end="\n") + body.write_csv(
        include_header=False, line_terminator="\n")


def device_exports(p: Profile, k: int, days: int, export_style: dict, rng: np.random.Generator,
                   phi: list[str], correction: bool, timing: np.random.Generator
                   ) -> list[tuple[str, str, int, int]]:
    """The participant's CGM export files as (file name, text, last study day, n readings).

    With ``correction``, three readings in the overlap of the two exports are corrected in
    the later export (the value differs; the later export supersedes the earlier). For
    ``LIBRE_PRO_PARTICIPANT`` the first export is a Libre Pro patient report of the same
    historic readings; the LibreView export it replaces is still drawn from ``rng`` (and
    thrown away), so every other file of the trial is the same as without it; the report's
    own serial number comes from ``timing``."""
    trace = glucose_trace(p, k, days, rng)
    sd = trace["study_day"].to_numpy()
    style, unit = export_style["cgm"], export_style["glucose_unit"]
    if style == "libreview":
        hist = trace.gather_every(3)
        hist = hist.filter(pl.Series(sensor_mask(p, hist["study_day"].to_numpy(), 96, 14, 4, rng)))
    else:
        keep = sensor_mask(p, sd, READINGS_PER_DAY, 10, 24, rng)
        hist = trace.with_columns(ttime=pl.int_range(0, trace.height) * 300 + 86_400).filter(
            pl.Series(keep))
    files = []
    windows = export_windows(p, days)
    for n, (a, b) in enumerate(windows, start=1):
        part = hist.filter(pl.col("study_day").is_between(a, b))
        if correction and n == 2:
            overlap_mid = (windows[0][1] + windows[1][0]) // 2
            idx = part.with_row_index().filter(pl.col("study_day") == overlap_mid)["index"][:3]
            part = part.with_columns(
                mg=pl.when(pl.int_range(0, part.height).is_in(idx.implode()))
                .then(pl.col("mg") + 25).otherwise(pl.col("mg")))
        if style == "libreview":
            gen = dt.datetime.combine(infusion_date(k) + dt.timedelta(days=b + 1), dt.time(9))
            pro = p.participant_id == LIBRE_PRO_PARTICIPANT and n == 1
            text = libreview_export(p, k, part, rng, [] if pro else phi, gen)
            name = f"{p.participant_id}__libreview_{n}.csv"
            if pro:
                text = libre_pro_report(p, k, part, timing, phi, gen)
                name = f"{p.participant_id}__libre_pro_patient_report.csv"
        else:
            text = clarity_export(p, k, part, unit, "de" if style == "clarity_de" else "en",
                                  rng, phi)
            name = f"{p.participant_id}__clarity_export_{n}.csv"
        files.append((name, text, b, part.height))
    return files
