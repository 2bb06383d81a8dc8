"""Consensus CGM metrics per participant and analysis window."""

from __future__ import annotations

from collections.abc import Sequence

import polars as pl

from isletflow.config import AnalysisWindow
from isletflow.endpoints.cgm_metrics import METRIC_COLUMNS, cgm_metrics
from isletflow.endpoints.study_day import with_study_day


def cgm_window_metrics(readings: pl.DataFrame, infusions: pl.DataFrame,
                       windows: Sequence[AnalysisWindow]) -> pl.DataFrame:
    """One row per (participant with an infusion date, analysis window), metrics as in
    :func:`cgm_metrics`.

    A reading belongs to a window when its study day (local calendar date of the device
    clock minus the infusion date) lies in [start_day, end_day]. Expected readings = window
    days x 1440 / device interval (288 a day for Dexcom, 96 for Libre historic readings), so
    % CGM active measures coverage of the whole window (consensus 2019: >= 70 % of 14 days).
    Only current readings count (``record_status`` = 'current': overlaps and superseded values of
    re-exports are left out), and only the sensor's own series: Libre scan readings
    (``device`` = 'libre_scan') duplicate the historic series and are left out, as the
    consensus metrics are defined on the continuous (historic) readings. A window without
    readings still gets its row, with ``n_readings`` 0, ``cgm_active_pct`` 0 and
    ``sufficient`` false. Days with data are study days (local calendar days) with a reading.
    """
    win = pl.DataFrame(
        {"window": [w.name for w in windows], "start_day": [w.start_day for w in windows],
         "end_day": [w.end_day for w in windows], "window_days": [w.n_days for w in windows]},
        schema={"window": pl.String, "start_day": pl.Int32, "end_day": pl.Int32,
                "window_days": pl.Int32},
    )
    r = readings.filter(pl.col("device") != "libre_scan")
    if "record_status" in r.columns:
        r = r.filter(pl.col("record_status") == "current")
    r = with_study_day(
        r.select("participant_id", "timestamp_local", "timestamp_utc", "glucose_mg_dl",
                 "censored", "interval_min"),
        infusions, "timestamp_local",
    )
    in_window = (
        r.join_where(win, pl.col("study_day") >= pl.col("start_day"),
                     pl.col("study_day") <= pl.col("end_day"))
        .with_columns(
            timestamp=pl.col("timestamp_utc"),
            expected=pl.col("window_days").cast(pl.Float64) * 1440.0 / pl.col("interval_min"),
        )
    )
    metrics = cgm_metrics(in_window, by=("participant_id", "window"), expected_readings="expected",
                          dedupe="record_status" not in readings.columns, day_column="study_day")
    grid = infusions.select("participant_id").unique().join(win, how="cross")
    out = grid.join(metrics, on=["participant_id", "window"], how="left").with_columns(
        pl.col("n_readings").fill_null(0),
        pl.col("cgm_active_pct").fill_null(0.0),
        pl.col("sufficient").fill_null(False),
        pl.col("days_with_data").fill_null(0),
        pl.col("n_low").fill_null(0),
        pl.col("n_high").fill_null(0),
    )
    order = {w.name: i for i, w in enumerate(windows)}
    return (
        out.with_columns(_o=pl.col("window").replace_strict(order, return_dtype=pl.Int32))
        .sort("participant_id", "_o")
        .select("participant_id", "window", "start_day", "end_day", *METRIC_COLUMNS,
                "days_with_data", "n_low", "n_high")
    )
