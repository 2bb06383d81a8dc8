"""One row per participant: the headline variables side by side."""

from __future__ import annotations

import polars as pl


def participant_summary(participants: pl.DataFrame, infusions: pl.DataFrame,
                        she: pl.DataFrame, hba1c: pl.DataFrame, cgm: pl.DataFrame,
                        insulin: pl.DataFrame, primary: pl.DataFrame,
                        disposition: pl.DataFrame, window: str) -> pl.DataFrame:
    """Join the endpoint tables into the summary the trial team reads first.

    Columns: site, dose group, SHE-free over the primary endpoint's days (:func:`she_free`),
    last HbA1c (latest collection date, from :func:`hba1c_by_visit`), TIR and CGM
    sufficiency in the CGM window ``window`` (:func:`cgm_window_metrics`; the trial file's
    ``endpoints.summary_window``; null without readings),
    insulin independent over the trial's interval and dose change %
    (:func:`insulin_independence`), primary endpoint met (:func:`primary_endpoint`) and
    disposition status. No new derivation here.
    """
    last = hba1c.sort("collection_date").group_by("participant_id").agg(
        last_hba1c_pct=pl.col("hba1c_pct").last(), last_hba1c_day=pl.col("study_day").last())
    tir = cgm.filter(pl.col("window") == window).select(
        "participant_id", tir_pct=pl.col("tir_pct"),
        cgm_sufficient=pl.col("sufficient"))
    return (
        infusions.select("participant_id", "dose_group")
        .join(participants.select("participant_id", "site_id"), on="participant_id", how="left")
        .join(she.select("participant_id", "she_free"),
              on="participant_id", how="left")
        .join(last, on="participant_id", how="left")
        .join(tir, on="participant_id", how="left")
        .join(insulin.select("participant_id",
                             "insulin_independent",
                             insulin_dose_change_pct=pl.col("dose_change_pct")),
              on="participant_id", how="left")
        .join(primary.select("participant_id", "primary_met"), on="participant_id", how="left")
        .join(disposition.select("participant_id", "status"), on="participant_id", how="left")
        .with_columns(tir_window=pl.lit(window))
        .select("participant_id", "site_id", "dose_group", "she_free",
                "last_hba1c_pct", "last_hba1c_day", "tir_window", "tir_pct", "cgm_sufficient",
                "insulin_independent", "insulin_dose_change_pct", "primary_met", "status")
        .sort("participant_id")
    )
