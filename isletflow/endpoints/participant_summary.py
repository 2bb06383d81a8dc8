"""One row per participant: the headline variables side by side."""

from __future__ import annotations

import polars as pl


def participant_summary(participants: pl.DataFrame, infusions: pl.DataFrame,
                        she: pl.DataFrame, hba1c: pl.DataFrame, cgm: pl.DataFrame,
                        insulin: pl.DataFrame, primary: pl.DataFrame,
                        disposition: pl.DataFrame) -> pl.DataFrame:
    """Join the endpoint tables into the summary the trial team reads first.

    Columns: site, dose group, SHE-free days 90-365 (:func:`she_free`), last HbA1c (latest
    collection date, from :func:`hba1c_by_visit`), TIR in the day-365 window
    (:func:`cgm_window_metrics`, window ``day_365``; null without readings), insulin
    independent days 180-365 and dose change % (:func:`insulin_independence`), primary
    endpoint met (:func:`primary_endpoint`) and disposition status. No new derivation here.
    """
    last = hba1c.sort("collection_date").group_by("participant_id").agg(
        last_hba1c_pct=pl.col("hba1c_pct").last(), last_hba1c_day=pl.col("study_day").last())
    tir = cgm.filter(pl.col("window") == "day_365").select(
        "participant_id", tir_day365_pct=pl.col("tir_pct"),
        cgm_day365_sufficient=pl.col("sufficient"))
    return (
        infusions.select("participant_id", "dose_group")
        .join(participants.select("participant_id", "site_id"), on="participant_id", how="left")
        .join(she.select("participant_id", she_free_d90_365=pl.col("she_free")),
              on="participant_id", how="left")
        .join(last, on="participant_id", how="left")
        .join(tir, on="participant_id", how="left")
        .join(insulin.select("participant_id",
                             insulin_independent_d180_365=pl.col("insulin_independent"),
                             insulin_dose_change_pct=pl.col("dose_change_pct")),
              on="participant_id", how="left")
        .join(primary.select("participant_id", "primary_met"), on="participant_id", how="left")
        .join(disposition.select("participant_id", "status"), on="participant_id", how="left")
        .select("participant_id", "site_id", "dose_group", "she_free_d90_365",
                "last_hba1c_pct", "last_hba1c_day", "tir_day365_pct", "cgm_day365_sufficient",
                "insulin_independent_d180_365", "insulin_dose_change_pct", "primary_met",
                "status")
        .sort("participant_id")
    )
