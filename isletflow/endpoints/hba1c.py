"""HbA1c per visit, with the baseline value and the change from baseline."""

from __future__ import annotations

from collections.abc import Mapping

import polars as pl

from isletflow.endpoints.study_day import infusion_day, with_study_day


def hba1c_by_visit(lab_results: pl.DataFrame, infusions: pl.DataFrame,
                   visit_days: Mapping[str, int]) -> pl.DataFrame:
    """One row per HbA1c result: visit, nominal and actual study day, value, change.

    Definitions: HbA1c in NGSP % (analyte ``hba1c``: the trial's lab codes converted to %).
    Baseline = the last HbA1c collected on or before the infusion day (ICH E9 convention of
    the last pre-treatment value). ``change_from_baseline_pp`` = value - baseline, in percentage
    points (negative = improvement). ``nominal_day`` is the scheduled day of the visit label
    (protocol schedule, ``visit_days``), used to decide which time points fall in an endpoint's
    day range.
    """
    h = with_study_day(
        lab_results.filter((pl.col("analyte") == "hba1c") & (pl.col("unit") == "%")),
        infusions, "collection_date",
    ).select(
        "participant_id", "visit", "collection_date", "study_day",
        hba1c_pct=pl.col("value"),
        nominal_day=pl.col("visit").replace_strict(dict(visit_days), default=None,
                                                   return_dtype=pl.Int32),
    )
    baseline = (
        h.filter(pl.col("study_day") <= infusion_day(infusions))
        .sort("collection_date")
        .group_by("participant_id")
        .agg(baseline_hba1c_pct=pl.col("hba1c_pct").last())
    )
    return (
        h.join(baseline, on="participant_id", how="left")
        .with_columns(change_from_baseline_pp=pl.col("hba1c_pct") - pl.col("baseline_hba1c_pct"))
        .sort("participant_id", "collection_date")
    )
