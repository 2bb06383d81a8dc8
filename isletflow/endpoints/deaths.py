"""Deaths with date, study day and cause."""

from __future__ import annotations

import polars as pl

from isletflow.endpoints.study_day import with_study_day


def deaths(disposition: pl.DataFrame, adverse_events: pl.DataFrame,
           infusions: pl.DataFrame) -> pl.DataFrame:
    """Every participant whose disposition is 'died': date, study day, the cause recorded on
    the disposition form, and the fatal adverse event(s) (outcome 'fatal', ICH E2A) with
    their preferred term and system organ class."""
    died = with_study_day(disposition.filter(pl.col("status") == "died"), infusions,
                          "status_date")
    fatal = adverse_events.filter(pl.col("outcome") == "fatal").group_by("participant_id").agg(
        fatal_ae_terms=pl.col("preferred_term").sort().str.join("; "),
        fatal_ae_soc=pl.col("system_organ_class").sort().str.join("; "))
    return (died.select("participant_id", death_date="status_date", study_day="study_day",
                        cause="death_cause")
            .join(infusions.select("participant_id", "dose_group"), on="participant_id",
                  how="left")
            .join(fatal, on="participant_id", how="left").sort("participant_id"))
