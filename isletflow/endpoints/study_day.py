"""Study day of a dated record, in the trial's study-day convention."""

from __future__ import annotations

import polars as pl


def infusion_day(infusions: pl.DataFrame) -> int:
    """The study day of the infusion: 0 (the trial's ``study_day_convention`` day0) or 1
    (day1), carried by ``infusions`` as column ``infusion_day`` (0 when absent)."""
    if "infusion_day" not in infusions.columns or infusions.height == 0:
        return 0
    return int(infusions["infusion_day"][0])


def with_study_day(df: pl.DataFrame, infusions: pl.DataFrame, date_col: str) -> pl.DataFrame:
    """Add ``study_day`` = the study day of ``date_col`` relative to the infusion.

    Definition (the trial's convention, :func:`infusion_day`): day0 — the infusion day is day
    0, the day before is day -1, the day after day 1 (study day = date - infusion date);
    day1 — the infusion day is day 1 and the day before is day -1: there is no day 0 (CDISC
    SDTM Implementation Guide 3.4, section 4.4.4: study day = date - reference date + 1 on or
    after it, date - reference date before it). ``date_col`` may be a Date or a local
    Datetime, whose calendar date (participant's local time) is used. Rows of participants
    without an infusion date get a null study day.
    """
    date = pl.col(date_col)
    if df.schema[date_col] != pl.Date:
        date = date.dt.date()
    diff = (date - pl.col("infusion_date")).dt.total_days().cast(pl.Int32)
    day = pl.when(diff >= 0).then(diff + infusion_day(infusions)).otherwise(diff)
    return df.join(infusions.select("participant_id", "infusion_date"), on="participant_id",
                   how="left").with_columns(study_day=day.cast(pl.Int32)).drop("infusion_date")
