"""The AGP percentiles on hand-made readings, and the HTML report on a tiny hand-made warehouse
(just the tables and columns the report reads; no Prefect, no pipeline run)."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import math
import re
import tomllib
import xml.etree.ElementTree as ET

import polars as pl
import pytest

from isletflow.config import AnalysisWindow
from isletflow.endpoints.agp import agp_percentiles
from isletflow.endpoints.cgm_window_metrics import cgm_window_metrics
from isletflow.report import NoTrialDefinition, _tir_parts, _trial, write_report
from isletflow.trial import DEFAULT_TRIAL, Trial, load_trial
from isletflow.warehouse import connect, load_trial_rows, run_sql, write_table

DAY0 = dt.date(2024, 3, 1)
SAMPLE = load_trial()  # trials/islet-101.toml


def at(day: int, hh: int, mm: int) -> dt.datetime:
    return dt.datetime.combine(DAY0 + dt.timedelta(days=day), dt.time(hh, mm))


# --- AGP ----------------------------------------------------------------------------------------

def test_agp_percentiles_of_five_days_at_the_same_time_of_day():
    # 08:05 on five days: 60, 100, 140, 180, 220 mg/dL (given out of order). Type 7: rank
    # h = (n-1) p + 1 -> 5 %: h = 1.2 -> 60 + 0.2 x 40 = 68; 25 %: h = 2 -> 100; 50 %: 140;
    # 75 %: h = 4 -> 180; 95 %: h = 4.8 -> 180 + 0.8 x 40 = 212
    df = pl.DataFrame({"participant_id": ["A"] * 5,
                       "timestamp_local": [at(d, 8, 5) for d in range(5)],
                       "glucose_mg_dl": [220.0, 60.0, 180.0, 100.0, 140.0]})
    out = agp_percentiles(df)
    assert out.columns == ["participant_id", "bin_start_min", "n_readings", "n_days",
                           "p05_mg_dl", "p25_mg_dl", "p50_mg_dl", "p75_mg_dl", "p95_mg_dl"]
    r = out.row(0, named=True)
    assert (r["bin_start_min"], r["n_readings"], r["n_days"]) == (8 * 60, 5, 5)
    assert [r[f"p{p:02d}_mg_dl"] for p in (5, 25, 50, 75, 95)] == pytest.approx(
        [68.0, 100.0, 140.0, 180.0, 212.0])


def test_agp_bins_are_local_clock_bins_from_midnight_per_group():
    # 07:59 and 08:00 fall in different 15-min bins; 08:14 joins 08:00; 23:59 is the last bin;
    # groups (participant, window) never mix
    df = pl.DataFrame({
        "participant_id": ["A", "A", "A", "A", "B"],
        "window": ["w", "w", "w", "w", "w"],
        "timestamp_local": [at(0, 7, 59), at(0, 8, 0), at(1, 8, 14), at(0, 23, 59),
                            at(0, 8, 0)],
        "glucose_mg_dl": [50.0, 100.0, 120.0, 300.0, 400.0],
    })
    out = agp_percentiles(df, by=("participant_id", "window"))
    got = {(r["participant_id"], r["bin_start_min"]): (r["n_readings"], r["p50_mg_dl"])
           for r in out.iter_rows(named=True)}
    assert got == {("A", 465): (1, 50.0), ("A", 480): (2, 110.0), ("A", 1425): (1, 300.0),
                   ("B", 480): (1, 400.0)}
    # 30-min bins: 07:59 -> 07:30, 08:00 and 08:14 -> 08:00
    assert agp_percentiles(df.filter(pl.col("participant_id") == "A"),
                           bin_minutes=30)["bin_start_min"].to_list() == [450, 480, 1410]


def test_agp_censored_boundary_values_sort_as_lowest_and_nulls_are_ignored():
    df = pl.DataFrame({"participant_id": ["A"] * 4,
                       "timestamp_local": [at(d, 3, 0) for d in range(4)],
                       "glucose_mg_dl": [40.0, 90.0, None, 110.0]})  # 40 = sensor "Low"
    r = agp_percentiles(df).row(0, named=True)
    assert r["n_readings"] == 3 and r["p50_mg_dl"] == 90.0 and r["p05_mg_dl"] == 45.0


def test_agp_bin_width_must_divide_the_day():
    df = pl.DataFrame({"participant_id": ["A"], "timestamp_local": [at(0, 0, 0)],
                       "glucose_mg_dl": [100.0]})
    with pytest.raises(ValueError, match="divide a day"):
        agp_percentiles(df, bin_minutes=7)


def test_time_in_range_segments_come_from_the_cumulative_consensus_columns():
    # tbr70 includes tbr54, tar180 includes tar250: 5 disjoint ranges summing to 100 %
    row = {"tbr54_pct": 1.0, "tbr70_pct": 4.0, "tir_pct": 80.0, "tar180_pct": 16.0,
           "tar250_pct": 2.0}
    parts = _tir_parts(row)
    assert parts == [1.0, 3.0, 80.0, 14.0, 2.0] and sum(parts) == pytest.approx(100.0)


# --- the report on a tiny warehouse ---------------------------------------------------------------

def _readings(pid: str, days: range, base: float) -> list[dict]:
    """Readings every 15 min over ``days``: a daily sine around ``base`` mg/dL."""
    rows = []
    for d in days:
        for k in range(96):
            t = at(d, 0, 0) + dt.timedelta(minutes=15 * k)
            g = round(base + 40 * math.sin(2 * math.pi * k / 96) + (d % 3) * 5)
            rows.append({"participant_id": pid, "device": "libre_historic", "record_status": "current",
                         "interval_min": 15, "timestamp_local": t, "timestamp_utc": t,
                         "glucose_mg_dl": float(g), "censored": None})
    return rows


def _windows(trial: Trial) -> list[AnalysisWindow]:
    return [AnalysisWindow(w.name, *w.days) for w in trial.cgm_windows]


def _write_warehouse(path, trial: Trial, tables: dict[str, pl.DataFrame]) -> None:
    """A warehouse with ``tables`` and the trial definition as the build writes it
    (raw.trial_* via :func:`load_trial_rows`)."""
    with connect(path) as con:
        run_sql(con, "schemas.sql")
        run_sql(con, "raw/tables.sql")
        load_trial_rows(con, trial, "trial-file-id")
        for name, df in tables.items():
            write_table(con, name, df)


@pytest.fixture(scope="module")
def tiny_warehouse(tmp_path_factory):
    """Three participants: A (full dose) with baseline and day-365 CGM; B (half dose, died on
    day 100) with baseline and day-90 CGM only; C (full dose) without any CGM or diary. No
    safety tables at all: the report must say they are missing, not fail."""
    wh = tmp_path_factory.mktemp("report") / "tiny.duckdb"
    inf = pl.DataFrame({"participant_id": ["A", "B", "C"], "infusion_date": [DAY0] * 3,
                        "dose_group": ["full", "half", "full"]})
    readings = pl.DataFrame(
        _readings("A", range(-28, 0), 180.0) + _readings("A", range(338, 366), 120.0)
        + _readings("B", range(-20, 0), 200.0) + _readings("B", range(63, 91), 160.0),
        schema_overrides={"censored": pl.String})
    # a Libre scan and a superseded value: both must stay out of the AGP
    extra = readings.head(2).with_columns(device=pl.Series(["libre_scan", "libre_historic"]),
                                          record_status=pl.Series(["current", "superseded"]),
                                          glucose_mg_dl=pl.lit(399.0))
    readings = pl.concat([readings, extra])
    cgm = cgm_window_metrics(readings, inf, _windows(SAMPLE))
    diary = pl.DataFrame({"participant_id": ["A"] * 60 + ["B"] * 30,
                          "diary_date": [DAY0 + dt.timedelta(days=d) for d in range(-10, 50)]
                          + [DAY0 + dt.timedelta(days=d) for d in range(-10, 20)],
                          "total_daily_dose_u": [40.0 - max(d, 0) * 0.8 for d in range(-10, 50)]
                          + [50.0] * 30})
    tables = {
        "audit.runs": pl.DataFrame({
            "run_id": ["run-old", "run-new"], "status": ["published", "published"],
            "finished_at": [dt.datetime(2025, 1, 1, 2, 0), dt.datetime(2025, 1, 2, 2, 30)],
            "as_of": [None, dt.date(2025, 1, 1)], "git_commit": ["0" * 40, "abcdef123456789"]}),
        "core.participants": pl.DataFrame({"participant_id": ["A", "B", "C"],
                                           "site_id": ["US01", "DE01", "GB01"],
                                           "weight_kg": [70.0, 80.0, None]}),
        "core.infusions": inf,
        "core.cgm_readings": readings,
        "core.insulin_diary": diary,
        "endpoints.cgm_metrics": cgm,
        "endpoints.hba1c": pl.DataFrame({"participant_id": ["A", "A", "A", "B"],
                                         "study_day": [-20, 180, 365, -20],
                                         "hba1c_pct": [8.1, 6.6, 6.2, 7.9]}),
        "endpoints.participant_summary": pl.DataFrame({
            "participant_id": ["A", "B", "C"], "site_id": ["US01", "DE01", "GB01"],
            "dose_group": ["full", "half", "full"], "she_free": [True, True, None],
            "last_hba1c_pct": [6.2, 7.9, None], "tir_window": ["day_365"] * 3,
            "tir_pct": [99.0, None, None], "insulin_independent": [True, False, None],
            "insulin_dose_change_pct": [-100.0, 0.0, None],
            "primary_met": [True, False, None], "status": ["completed", "died", "ongoing"]}),
        "endpoints.deaths": pl.DataFrame({"participant_id": ["B"], "study_day": [100],
                                          "cause": ["Cryptococcal meningitis"]}),
    }
    _write_warehouse(wh, SAMPLE, tables)
    return wh


@pytest.fixture(scope="module")
def report(tiny_warehouse, tmp_path_factory):
    before = hashlib.sha256(tiny_warehouse.read_bytes()).hexdigest()
    out = write_report(tiny_warehouse, tmp_path_factory.mktemp("out") / "sub" / "report.html",
                       title="Tiny trial")
    after = hashlib.sha256(tiny_warehouse.read_bytes()).hexdigest()
    return out, out.read_text(encoding="utf-8"), before == after


def _svgs(page: str) -> list[str]:
    return [base64.b64decode(b).decode("utf-8")
            for b in re.findall(r'src="data:image/svg\+xml;base64,([A-Za-z0-9+/=]+)"', page)]


def test_report_is_one_self_contained_file(report):
    out, page, _ = report
    assert out.exists() and out.name == "report.html"
    assert not list(out.parent.glob(".*tmp"))  # written aside, then renamed into place
    assert page.startswith("<!DOCTYPE html>") and "<title>Tiny trial" in page
    assert "http" not in page.lower()        # no external URL of any kind
    for tag in ("<script", "<link", "<iframe", "url(", "@import"):
        assert tag not in page.lower(), tag
    assert re.findall(r'<img src="([a-z]+):', page) == ["data"] * 3  # all embedded


def test_report_header_names_the_latest_run(report):
    _, page, unchanged = report
    assert unchanged  # opened read-only: the warehouse file is byte-identical afterwards
    assert "tiny.duckdb" in page and "run-new" in page and "run-old" not in page
    assert "ISLET-101: Stem-cell-derived islets" in page and "Day 0 is the infusion day" in page
    assert "Efficacy population: Full dose arm." in page
    assert "2025-01-01" in page and "abcdef123456" in page and "Report generated" in page


def test_report_has_a_figure_per_participant_full_dose_first(report):
    _, page, _ = report
    sections = re.findall(r'<section class="participant" id="p-([A-Z])">(.*?)</section>', page,
                          re.S)
    assert [pid for pid, _ in sections] == ["A", "C", "B"]  # efficacy population first
    for pid, body in sections:
        assert body.count("<img ") == 1, pid
    assert "Full dose (2 participants)" in page and "Half dose (1 participant)" in page


def test_figures_are_valid_svg_with_a_24_hour_axis_and_units(report):
    _, page, _ = report
    svgs = _svgs(page)
    assert len(svgs) == 3
    for svg in svgs:
        ET.fromstring(svg)  # well-formed
        for text in ("00:00", "24:00", "glucose (mg/dL)", "HbA1c (%, NGSP)", "insulin (U/day)",
                     "Time in ranges", "70–180 mg/dL"):
            assert text in svg, text
    a, c, b = svgs
    assert "day 365 window (days 338 to 365)" in a and "baseline median" in a
    assert "U/kg/day (weight 70 kg)" in a
    # the sample trial's parameters (trials/islet-101.toml): day0, HbA1c 7.0 % (primary) and
    # 6.5 % (Igls optimal), HbA1c days and insulin-independence days 180-365
    for text in ("study day (day 0 = infusion)", "7.0 %", "6.5 %",
                 "primary endpoint: HbA1c days 180–365", "insulin independence: days 180–365"):
        assert text in a, text
    assert "none in the day 365 window" in b and "days 63 to 90" in b  # latest window shown
    assert "died (day 100)" in b
    assert "no CGM readings" in c and "no insulin diary" in c and "no HbA1c results" in c


def test_report_tables_and_missing_tables(report):
    _, page, _ = report
    assert "<td>Full dose</td>" in page and "<td>Half dose</td>" in page  # arm labels
    for t in ("endpoints.primary_endpoint", "endpoints.igls",
              "endpoints.adverse_events_by_term", "endpoints.neutropenia",
              "endpoints.prohibited_medications", "endpoints.disposition"):
        assert f"not in this warehouse ({t})" in page, t
    assert "Cryptococcal meningitis" in page  # the deaths table is present
    # the CGM table of A: baseline vs day 365, with the consensus targets
    a = re.search(r'id="p-A">(.*?)</section>', page, re.S).group(1)
    assert "day 365 (d 338 to 365)" in a and "baseline (d -28 to -1)" in a and "&gt; 70" in a


def test_missing_warehouse_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="no warehouse"):
        write_report(tmp_path / "none.duckdb", tmp_path / "r.html")



# --- another trial's definition: the same code, other arms, windows, thresholds, clock ------------

def _other_trial() -> Trial:
    """The sample trial file with another study's parameters: day1 convention, arms "low"
    (0.5) and "high" (1.0, the efficacy population), visits out to day 730, a baseline
    window with another name, HbA1c target 6.8 % (drop 1.5 points), Igls at day 730 with an
    optimal maximum of 6.2 %."""
    data = tomllib.loads(DEFAULT_TRIAL.read_text(encoding="utf-8"))
    data["study"].update(id="ISLET-301", title="A made-up Phase 3 trial",
                         study_day_convention="day1")
    data["arms"] = [{"id": "low", "label": "Low dose", "dose_fraction": 0.5},
                    {"id": "high", "label": "High dose", "dose_fraction": 1.0,
                     "efficacy_population": True}]
    data["visits"] = [{"name": "screening", "day": -21, "window": [-35, -7]},
                      {"name": "infusion", "day": 1, "window": [1, 1]},
                      {"name": "month_12", "day": 365, "window": [351, 379]},
                      {"name": "month_24", "day": 730, "window": [716, 744]}]
    data["cgm_windows"] = [{"name": "pre_infusion", "days": [-28, -1]},
                           {"name": "month_12", "days": [338, 365]},
                           {"name": "month_24", "days": [703, 730]}]
    e = data["endpoints"]
    e["summary_window"] = "month_24"
    e["primary"].update(she_days=[90, 730], hba1c_days=[365, 730], hba1c_below_pct=6.8,
                        hba1c_drop_pp=1.5)
    e["insulin_independence"]["days"] = [365, 730]
    e["igls"].update(day=730, hba1c_from_day=365, she_baseline_days=[-180, -1],
                     hba1c_optimal_max_pct=6.2)
    return Trial.model_validate(data)


@pytest.fixture(scope="module")
def other_report(tmp_path_factory):
    """X (high dose) with CGM in the pre-infusion and month-24 windows; Y (low dose) with CGM
    on one day of the month-12 window only. Calendar day d after the infusion is study day
    d + 1 (day1 convention)."""
    trial = _other_trial()
    wh = tmp_path_factory.mktemp("other") / "other.duckdb"
    inf = pl.DataFrame({"participant_id": ["X", "Y"], "infusion_date": [DAY0] * 2,
                        "dose_group": ["high", "low"]}).with_columns(
        infusion_day=pl.lit(1, pl.Int32))
    readings = pl.DataFrame(
        _readings("X", range(-28, 0), 170.0) + _readings("X", range(702, 730), 115.0)
        # Y: calendar days 330-337 after the infusion = study days 331-338, so only the
        # last (day 338) is in the month-12 window: an AGP there needs the day1 convention
        + _readings("Y", range(330, 338), 150.0), schema_overrides={"censored": pl.String})
    cgm = cgm_window_metrics(readings, inf, _windows(trial))
    tables = {
        "core.participants": pl.DataFrame({"participant_id": ["X", "Y"],
                                           "site_id": ["AU01", "JP01"],
                                           "weight_kg": [60.0, 90.0]}),
        "core.infusions": inf.drop("infusion_day"),
        "core.cgm_readings": readings,
        "endpoints.cgm_metrics": cgm,
        "endpoints.hba1c": pl.DataFrame({"participant_id": ["X", "X", "X", "Y"],
                                         "study_day": [-20, 365, 730, -20],
                                         "hba1c_pct": [8.0, 6.4, 6.0, 8.4]}),
        "endpoints.participant_summary": pl.DataFrame({
            "participant_id": ["X", "Y"], "site_id": ["AU01", "JP01"],
            "dose_group": ["high", "low"], "she_free": [True, False],
            "last_hba1c_pct": [6.0, 8.4], "tir_window": ["month_24"] * 2,
            "tir_pct": [99.0, None], "insulin_independent": [True, False],
            "insulin_dose_change_pct": [-100.0, -10.0], "primary_met": [True, False],
            "status": ["completed", "ongoing"]}),
        "endpoints.igls": pl.DataFrame({
            "participant_id": ["X"], "hba1c_pct": [6.0], "she_after": [0], "she_before": [3],
            "base_u_kg": [0.6], "now_u_kg": [0.0], "cpep_baseline": [20.0],
            "cpep_now": [600.0], "igls_status": ["optimal"]}),
        "endpoints.disposition": pl.DataFrame({
            "region": ["(all)"], "site_id": ["(all)"], "dosed_low": [1], "dosed_high": [1],
            "enrolled": [2], "completed": [1], "died": [0], "withdrew": [0], "ongoing": [1]}),
    }
    _write_warehouse(wh, trial, tables)
    out = write_report(wh, tmp_path_factory.mktemp("other_out") / "r.html", title="Trial 301")
    return wh, out.read_text(encoding="utf-8")


def test_another_trial_renders_with_its_own_arms_windows_thresholds_and_clock(other_report):
    _, page = other_report
    assert "<title>Trial 301 — ISLET-301</title>" in page
    assert "ISLET-301: A made-up Phase 3 trial" in page
    assert "Day 1 is the infusion day (there is no day 0)." in page
    assert "Efficacy population: High dose arm." in page
    # arms in display order: the efficacy population (high) first, whatever the file order
    assert [p for p, _ in re.findall(r'id="p-([A-Z])">(.*?)</section>', page, re.S)] == [
        "X", "Y"]
    assert "High dose (1 participant) — efficacy population" in page
    assert "<h3>Low dose (1 participant)</h3>" in page
    assert "<td>High dose</td>" in page and "<td>Low dose</td>" in page
    assert ("no severe hypoglycaemic event from day 90 through day 730 and HbA1c &lt; 6.8 % or "
            "a decrease of ≥ 1.5 percentage point from baseline at one or more time points "
            "from day 365 to day 730") in page
    assert "Igls criteria at day 730" in page
    for header in ("SHE-free d90–730", "last HbA1c &lt; 6.8 %", "TIR month 24 %",
                   "insulin independent d365–730", "SHE d2–730", "SHE d-180 to -1",
                   "insulin d730 (U/kg/day)", "C-peptide d730 (pmol/L)", "completed day 730",
                   "dosed: Low dose", "dosed: High dose"):
        assert f"<th>{header}</th>" in page, header
    assert ("High dose · site AU01 · completed · insulin independent d365–730 (dose -100 % vs "
            "baseline) · Igls d730: optimal") in page
    assert "Study day = calendar date − infusion date + 1 from the infusion day on" in page
    assert "month 24 (days 703 to 730)" in page
    assert "Reference lines: 6.8 % (primary endpoint) and 6.2 % (Igls “optimal”)" in page
    # nothing of the sample trial's definition leaks in
    for text in ("Day 0", "d90–365", "day 365 window", "Igls d365", "d180–365", "7.0 %",
                 "Full dose", "Half dose"):
        assert text not in page, text


def test_another_trial_figures_use_its_windows_days_and_thresholds(other_report):
    _, page = other_report
    x, y = _svgs(page)
    for svg in (x, y):
        for text in ("study day (day 1 = infusion)", "primary endpoint: HbA1c days 365–730",
                     "insulin independence: days 365–730", "6.8 %", "6.2 %"):
            assert text in svg, text
        assert "day 0 = infusion" not in svg and "7.0 %" not in svg
    # X: the summary window (month 24) against the baseline window, whatever its name
    assert "month 24 window (days 703 to 730)" in x
    assert "baseline median (days -28 to -1)" in x and "pre infusion" in x
    # Y: no month-24 readings, so the latest window with readings, said so
    assert "none in the month 24 window, latest shown" in y
    assert "month 12 window (days 338 to 365)" in y


def test_the_day_axis_follows_the_schedule(tiny_warehouse, other_report):
    # from the first CGM window start to the last visit or window end, 4 % margin either side:
    # sample: -28 to 365, round(0.04 x 393 = 15.7) = 16; the other: -28 to 730,
    # round(0.04 x 758 = 30.3) = 30
    for wh, axis in ((tiny_warehouse, (-44, 381)), (other_report[0], (-58, 760))):
        with connect(wh, read_only=True) as con:
            assert _trial(con, None).day_axis == axis


def test_a_warehouse_without_a_trial_definition_is_a_clear_error(tmp_path):
    wh = tmp_path / "old.duckdb"
    with connect(wh) as con:
        run_sql(con, "schemas.sql")
        write_table(con, "endpoints.deaths", pl.DataFrame({"participant_id": ["A"]}))
    with pytest.raises(NoTrialDefinition, match=r"no trial definition \(raw.trial_parameters"):
        write_report(wh, tmp_path / "r.html")
    assert not (tmp_path / "r.html").exists()
