"""Differential tests: isletflow's CGM metrics against iglu-python on the same readings.

iglu (Broll et al., PLOS ONE 2021; iglu-python 0.4.3) is an independent implementation of the
same consensus definitions. Mean, SD, CV, GMI and every range percentage must agree to 1e-9.
The one deliberate difference: iglu turns Dexcom "Low"/"High" into missing values and drops
them, isletflow keeps them as censored readings at the boundary (40 / 400 mg/dL), so they
count below 54/70 or above 180/250 (see test_censored_readings_are_where_isletflow_differs).
"""

from __future__ import annotations

import datetime as dt

import iglu_python as iglu
import pandas as pd
import polars as pl
import pytest

from isletflow.cgm_tool import file_metrics
from isletflow.config import PROJECT_ROOT
from isletflow.demo import generate_trial
from isletflow.endpoints.cgm_metrics import cgm_metrics
from isletflow.inspect import inspect_export

REFERENCE = PROJECT_ROOT.parent / "shared/reference/iglu_example_data_5_subject.csv"


def iglu_metrics(long: pd.DataFrame) -> pd.DataFrame:
    """The same metrics from iglu, one row per id, under isletflow's column names."""
    parts = [
        iglu.mean_glu(long).rename(columns={"mean": "mean_glucose_mg_dl"}),
        iglu.sd_glu(long).rename(columns={"SD": "sd_glucose_mg_dl"}),
        iglu.cv_glu(long).rename(columns={"CV": "cv_pct"}),
        iglu.gmi(long).rename(columns={"GMI": "gmi_pct"}),
        iglu.in_range_percent(long, target_ranges=[[70, 180]]).rename(
            columns={"in_range_70_180": "tir_pct"}),
        iglu.in_range_percent(long, target_ranges=[[70, 140]]).rename(
            columns={"in_range_70_140": "tir_tight_pct"}),
        iglu.below_percent(long, targets_below=[54, 70]).rename(
            columns={"below_54": "tbr54_pct", "below_70": "tbr70_pct"}),
        iglu.above_percent(long, targets_above=[180, 250]).rename(
            columns={"above_180": "tar180_pct", "above_250": "tar250_pct"}),
    ]
    out = parts[0]
    for p in parts[1:]:
        out = out.merge(p, on="id")
    return out.set_index("id").sort_index()


COMPARED = ["mean_glucose_mg_dl", "sd_glucose_mg_dl", "cv_pct", "gmi_pct", "tir_pct",
            "tir_tight_pct", "tbr70_pct", "tbr54_pct", "tar180_pct", "tar250_pct"]


def assert_agree(ours: pl.DataFrame, theirs: pd.DataFrame) -> None:
    ours_pd = ours.to_pandas().set_index("participant_id").sort_index()
    assert list(ours_pd.index) == list(theirs.index)
    for col in COMPARED:
        diff = (ours_pd[col] - theirs[col]).abs().max()
        assert diff < 1e-9, f"{col} differs from iglu by {diff}"


def test_reference_data_agrees_with_iglu():
    long = pd.read_csv(REFERENCE, index_col=0)
    long["time"] = pd.to_datetime(long["time"])
    ours = file_metrics(REFERENCE)
    assert ours.height == 5 and ours["n_readings"].sum() == len(long)
    assert_agree(ours, iglu_metrics(long))


@pytest.mark.parametrize("export", ["US01/cgm/US01-001__clarity_export_1.csv",
                                    "GB01/cgm/GB01-001__libreview_1.csv",
                                    "DE01/cgm/DE01-001__clarity_export_1.csv"])
def test_generated_traces_agree_with_iglu(tmp_path, export):
    generate_trial(tmp_path, seed=5, participants=4, days=40, faults=False)
    rows = inspect_export(tmp_path / export).canonical.filter(
        (pl.col("device") != "libre_scan") & pl.col("censored").is_null())
    readings = rows.select("participant_id", timestamp=pl.col("timestamp_utc"),
                           glucose_mg_dl="glucose_mg_dl", censored="censored",
                           interval_min="interval_min")
    long = rows.select(id="participant_id", time="timestamp_utc", gl="glucose_mg_dl").to_pandas()
    assert len(long) > 1000
    assert_agree(cgm_metrics(readings), iglu_metrics(long))


def test_censored_readings_are_where_isletflow_differs():
    t0 = dt.datetime(2024, 5, 1, 8)
    times = [t0 + dt.timedelta(minutes=5 * i) for i in range(4)]
    # Low, 100, 150, High: isletflow keeps Low/High at 40 / 400 mg/dL, iglu drops them
    ours = cgm_metrics(pl.DataFrame({
        "participant_id": ["A"] * 4, "timestamp": times,
        "glucose_mg_dl": [40.0, 100.0, 150.0, 400.0], "censored": ["low", None, None, "high"],
        "interval_min": [5] * 4})).row(0, named=True)
    long = pd.DataFrame({"id": ["A"] * 4, "time": times, "gl": [None, 100.0, 150.0, None]})
    theirs = iglu_metrics(long).loc["A"]
    assert (ours["mean_glucose_mg_dl"], theirs["mean_glucose_mg_dl"]) == (172.5, 125.0)
    assert (ours["tbr54_pct"], theirs["tbr54_pct"]) == (25.0, 0.0)
    assert (ours["tar250_pct"], theirs["tar250_pct"]) == (25.0, 0.0)
    assert (ours["tir_pct"], theirs["tir_pct"]) == (50.0, 100.0)


def test_hall2018_long_csv_with_row_names_and_extra_column_agrees_with_iglu():
    # iglu's own long format as R writes it: "",id,time,gl,diagnosis (19 subjects, 34,890
    # readings; PROVENANCE.md). isletflow reads it as it is; iglu gets id,time,gl.
    hall = PROJECT_ROOT.parent / "shared/reference/real/hall2018_long_idtimegl_iglu.csv"
    long = pd.read_csv(hall, index_col=0)[["id", "time", "gl"]]
    long["time"] = pd.to_datetime(long["time"])
    ours = file_metrics(hall)
    assert ours.height == 19 and long["id"].nunique() == 19 and len(long) == 34890
    assert_agree(ours, iglu_metrics(long))
