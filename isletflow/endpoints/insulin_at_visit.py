"""Off exogenous insulin at each scheduled visit."""

from __future__ import annotations

from collections.abc import Mapping

import polars as pl

from isletflow.endpoints.study_day import infusion_day, with_study_day


def insulin_at_visit(diary: pl.DataFrame, infusions: pl.DataFrame,
                     visit_days: Mapping[str, int], days_before: int) -> pl.DataFrame:
    """Per participant and follow-up visit: off insulin at the visit.

    Definition: "off insulin at visit" = every insulin-diary day in the week ending on the
    visit's nominal day (days ``day-days_before`` .. ``day``) records 0 U, with at least one
    diary day in that week (else null: not evaluable; ``days_before`` is the trial file's
    ``endpoints.insulin_independence.days_before_visit``). Visits after the infusion day
    only. This is a separate variable from insulin independence over an interval
    (:func:`insulin_independence`): a participant can be off insulin at a visit without
    having been off throughout the interval.
    """
    d = with_study_day(diary, infusions, "diary_date")
    visits = pl.DataFrame({"visit": list(visit_days), "nominal_day": list(visit_days.values())},
                          schema={"visit": pl.String, "nominal_day": pl.Int32}).filter(
        pl.col("nominal_day") > infusion_day(infusions))
    joined = d.join(visits, how="cross").filter(
        pl.col("study_day").is_between(pl.col("nominal_day") - days_before, pl.col("nominal_day")))
    agg = joined.group_by("participant_id", "visit", "nominal_day").agg(
        n_diary_days=pl.len().cast(pl.Int32),
        max_dose_u_day=pl.col("total_daily_dose_u").max())
    grid = infusions.select("participant_id").unique().join(visits, how="cross")
    return (grid.join(agg, on=["participant_id", "visit", "nominal_day"], how="left")
            .with_columns(pl.col("n_diary_days").fill_null(0))
            .with_columns(off_insulin=pl.when(pl.col("n_diary_days") > 0)
                          .then(pl.col("max_dose_u_day") == 0.0).otherwise(None))
            .sort("participant_id", "nominal_day"))
