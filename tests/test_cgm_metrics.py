"""Consensus CGM metrics on hand-made readings (expected values worked out by hand)."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest

from isletflow.config import AnalysisWindow
from isletflow.endpoints.cgm_metrics import cgm_metrics
from isletflow.endpoints.cgm_window_metrics import cgm_window_metrics

T0 = dt.datetime(2024, 5, 1, 8, 0)
# Edges of every range: Low (censored, boundary 40), 54, 70, 140, 180, 250, 251, High (400).
GLUCOSE = [40.0, 54.0, 70.0, 140.0, 180.0, 250.0, 251.0, 400.0]
CENSORED = ["low", None, None, None, None, None, None, "high"]


def readings(glucose=GLUCOSE, censored=CENSORED, pid="US01-001", step_min=5):
    n = len(glucose)
    return pl.DataFrame({
        "participant_id": [pid] * n,
        "timestamp": [T0 + dt.timedelta(minutes=step_min * i) for i in range(n)],
        "glucose_mg_dl": glucose,
        "censored": censored,
        "interval_min": [5] * n,
    })


def test_range_percentages_at_the_exact_thresholds():
    m = cgm_metrics(readings()).row(0, named=True)
    assert m["n_readings"] == 8
    # 70-180 inclusive: 70, 140, 180 -> 3 of 8
    assert m["tir_pct"] == pytest.approx(37.5)
    # 70-140 inclusive: 70, 140 -> 2 of 8
    assert m["tir_tight_pct"] == pytest.approx(25.0)
    # < 70 strict: Low(40), 54 -> 2 of 8; < 54 strict: Low only (54 is not below 54)
    assert m["tbr70_pct"] == pytest.approx(25.0)
    assert m["tbr54_pct"] == pytest.approx(12.5)
    # > 180 strict: 250, 251, High -> 3 of 8; > 250 strict: 251, High (250 is not above 250)
    assert m["tar180_pct"] == pytest.approx(37.5)
    assert m["tar250_pct"] == pytest.approx(25.0)


def test_mean_sd_cv_gmi_use_the_censored_boundary_values():
    m = cgm_metrics(readings()).row(0, named=True)
    # sum = 40+54+70+140+180+250+251+400 = 1385; mean = 1385 / 8 = 173.125
    assert m["mean_glucose_mg_dl"] == pytest.approx(173.125)
    # squared deviations sum to 107138.875; sample SD = sqrt(107138.875 / 7) = 123.71561571...
    assert m["sd_glucose_mg_dl"] == pytest.approx(123.7156157137, abs=1e-9)
    # CV = 123.7156157137 / 173.125 * 100 = 71.4602834448
    assert m["cv_pct"] == pytest.approx(71.4602834448, abs=1e-9)
    # GMI = 3.31 + 0.02392 * 173.125 = 3.31 + 4.14115 = 7.45115
    assert m["gmi_pct"] == pytest.approx(7.45115)
    assert (m["n_low"], m["n_high"]) == (1, 1)


def test_duplicate_timestamps_count_once_and_activity_uses_the_span():
    df = readings()
    dup = pl.concat([df, df.head(1).with_columns(glucose_mg_dl=pl.lit(300.0))])
    m = cgm_metrics(dup).row(0, named=True)
    assert m["n_readings"] == 8  # the repeated 08:00 reading is removed, the first kept
    assert m["mean_glucose_mg_dl"] == pytest.approx(173.125)
    # 08:00..08:35 at 5 min = 8 expected readings, 8 present -> 100 %
    assert m["cgm_active_pct"] == pytest.approx(100.0)
    assert m["sufficient"] is False  # one day of data, < 14


def test_a_gap_lowers_activity():
    # 4 readings at 08:00, 08:05, 08:10 and 08:45: span 45 min -> 10 expected, 4 present
    df = readings(glucose=[100.0] * 4, censored=[None] * 4).with_columns(
        timestamp=pl.Series([T0, T0 + dt.timedelta(minutes=5), T0 + dt.timedelta(minutes=10),
                             T0 + dt.timedelta(minutes=45)]))
    assert cgm_metrics(df)["cgm_active_pct"][0] == pytest.approx(40.0)


def test_window_metrics_use_local_study_days_and_keep_empty_windows():
    infusions = pl.DataFrame({"participant_id": ["US01-001", "US01-002"],
                              "infusion_date": [dt.date(2024, 1, 10)] * 2})
    local = [dt.datetime(2024, 1, 8, 12, 0), dt.datetime(2024, 1, 9, 23, 55),
             dt.datetime(2024, 1, 10, 0, 0)]
    r = pl.DataFrame({
        "participant_id": ["US01-001"] * 3,
        "timestamp_local": local,
        # UTC of the 23:55 reading is already 10 January: the local date decides the day
        "timestamp_utc": [t + dt.timedelta(hours=6) for t in local],
        "glucose_mg_dl": [100.0, 200.0, 150.0], "censored": [None, None, None],
        "interval_min": [5, 5, 5], "device": ["dexcom"] * 3, "record_status": ["current"] * 3,
    })
    windows = (AnalysisWindow("baseline", -2, -1), AnalysisWindow("day_0", 0, 0))
    out = cgm_window_metrics(r, infusions, windows)
    assert out.height == 4  # 2 participants x 2 windows, even without readings
    base = out.filter((pl.col("participant_id") == "US01-001") & (pl.col("window") == "baseline"))
    b = base.row(0, named=True)
    assert b["n_readings"] == 2  # 8 Jan (day -2) and 9 Jan 23:55 (day -1)
    assert b["mean_glucose_mg_dl"] == pytest.approx(150.0)
    # 2 days x 288 = 576 expected readings; 2 / 576 * 100 = 0.347222...
    assert b["cgm_active_pct"] == pytest.approx(200.0 / 576.0)
    empty = out.filter(pl.col("participant_id") == "US01-002").row(0, named=True)
    assert (empty["n_readings"], empty["cgm_active_pct"], empty["sufficient"]) == (0, 0.0, False)
    assert empty["tir_pct"] is None


def test_days_with_data_counts_local_study_days_not_utc_dates():
    # 9 Jan 12:00 and 23:55 local (UTC-6): one study day, though UTC puts them on 9 and 10 Jan
    infusions = pl.DataFrame({"participant_id": ["US01-001"],
                              "infusion_date": [dt.date(2024, 1, 10)]})
    local = [dt.datetime(2024, 1, 9, 12, 0), dt.datetime(2024, 1, 9, 23, 55)]
    r = pl.DataFrame({
        "participant_id": ["US01-001"] * 2, "timestamp_local": local,
        "timestamp_utc": [t + dt.timedelta(hours=6) for t in local],
        "glucose_mg_dl": [100.0, 120.0], "censored": [None, None], "interval_min": [5, 5],
        "device": ["dexcom"] * 2, "record_status": ["current"] * 2,
    })
    out = cgm_window_metrics(r, infusions, (AnalysisWindow("baseline", -2, -1),))
    assert out["days_with_data"].to_list() == [1]
