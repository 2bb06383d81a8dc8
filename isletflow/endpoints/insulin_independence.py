"""Insulin independence and insulin dose reduction."""

from __future__ import annotations

import polars as pl

from isletflow.endpoints.study_day import with_study_day


def insulin_independence(diary: pl.DataFrame, infusions: pl.DataFrame,
                         participants: pl.DataFrame, first_day: int, last_day: int,
                         baseline: tuple[int, int]) -> pl.DataFrame:
    """Per participant: insulin independence over days [first_day, last_day] and dose change.

    Definitions (trial protocol as published; Reichman et al., NEJM 2025): insulin independence
    = no exogenous insulin, evaluated over [first_day, last_day] (the trial file's
    ``endpoints.insulin_independence.days``): every
    insulin-diary day in the
    interval records a total daily dose (basal + bolus) of 0 U, and at least one diary day was
    reported (no diary = not evaluable, reported as null). Mean daily dose = mean of the
    reported diary days (missing days are not imputed). Baseline = mean over the
    ``baseline`` days (``endpoints.insulin_independence.baseline_days``). Dose change % = (mean
    over the interval - baseline) / baseline x 100, the same in U/day and U/kg/day (weight at
    enrolment), both reported.
    """
    d = with_study_day(diary, infusions, "diary_date")
    base = d.filter(pl.col("study_day").is_between(*baseline)).group_by("participant_id").agg(
        baseline_dose_u_day=pl.col("total_daily_dose_u").mean())
    follow = d.filter(pl.col("study_day").is_between(first_day, last_day)).group_by(
        "participant_id").agg(
        n_diary_days=pl.len().cast(pl.Int32),
        mean_dose_u_day=pl.col("total_daily_dose_u").mean(),
        max_dose_u_day=pl.col("total_daily_dose_u").max(),
    )
    w = pl.col("weight_kg")
    return (
        infusions.select("participant_id").unique()
        .join(participants.select("participant_id", "weight_kg"), on="participant_id", how="left")
        .join(base, on="participant_id", how="left")
        .join(follow, on="participant_id", how="left")
        .with_columns(pl.col("n_diary_days").fill_null(0))
        .with_columns(
            insulin_independent=pl.when(pl.col("n_diary_days") > 0)
            .then(pl.col("max_dose_u_day") == 0.0).otherwise(None),
            baseline_dose_u_kg_day=pl.col("baseline_dose_u_day") / w,
            mean_dose_u_kg_day=pl.col("mean_dose_u_day") / w,
            dose_change_pct=(pl.col("mean_dose_u_day") - pl.col("baseline_dose_u_day"))
            / pl.col("baseline_dose_u_day") * 100.0,
        )
        .select("participant_id", "n_diary_days", "insulin_independent",
                "baseline_dose_u_day", "mean_dose_u_day", "baseline_dose_u_kg_day",
                "mean_dose_u_kg_day", "dose_change_pct")
        .sort("participant_id")
    )
