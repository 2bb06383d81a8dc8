"""Listing of severe hypoglycaemic events with their study day."""

from __future__ import annotations

import polars as pl

from isletflow.endpoints.study_day import infusion_day, with_study_day


def she_listing(she_events: pl.DataFrame, infusions: pl.DataFrame, first_day: int,
                last_day: int) -> pl.DataFrame:
    """Every severe hypoglycaemic event (ADA level 3: third-party assistance; American
    Diabetes Association Standards of Care, Table 6.4) with its study day, the period it
    falls in (``pre-infusion``, ``day <infusion day>-<first_day - 1>``,
    ``day <first_day>-<last_day>``, ``after day <last_day>``) and whether it counts for the
    primary endpoint (days ``first_day``-``last_day``: the trial file's
    ``endpoints.primary.she_days``). Events reported without third-party assistance are
    listed with ``level3`` false and never count.
    """
    e = with_study_day(she_events, infusions, "event_date")
    d, d0 = pl.col("study_day"), infusion_day(infusions)
    return e.select(
        "participant_id", "event_date", "study_day",
        level3=pl.col("third_party_assistance"),
        period=pl.when(d < d0).then(pl.lit("pre-infusion"))
        .when(d < first_day).then(pl.lit(f"day {d0}-{first_day - 1}"))
        .when(d <= last_day).then(pl.lit(f"day {first_day}-{last_day}"))
        .otherwise(pl.lit(f"after day {last_day}")),
        counts_for_primary=pl.col("third_party_assistance") & d.is_between(first_day, last_day),
        source_file_id="source_file_id", source_row="source_row",
    ).sort("participant_id", "event_date")
