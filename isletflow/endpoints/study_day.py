"""Study day of a dated record."""

from __future__ import annotations

import polars as pl


def with_study_day(df: pl.DataFrame, infusions: pl.DataFrame, date_col: str) -> pl.DataFrame:
    """Add ``study_day`` = ``date_col`` - infusion date, in days (day 0 = infusion day).

    Definition (protocol): the day of the single portal-vein infusion is day 0; the day before
    is day -1 (there is no day "zero-minus"). ``date_col`` may be a Date or a local Datetime,
    whose calendar date (participant's local time) is used. Rows of participants without an
    infusion date get a null study day.
    """
    date = pl.col(date_col)
    if df.schema[date_col] != pl.Date:
        date = date.dt.date()
    return df.join(infusions.select("participant_id", "infusion_date"), on="participant_id",
                   how="left").with_columns(
        study_day=(date - pl.col("infusion_date")).dt.total_days().cast(pl.Int32)
    ).drop("infusion_date")
