"""Freedom from severe hypoglycaemic events over a study-day interval."""

from __future__ import annotations

import polars as pl

from isletflow.endpoints.study_day import with_study_day


def she_free(she_events: pl.DataFrame, infusions: pl.DataFrame, first_day: int,
             last_day: int) -> pl.DataFrame:
    """Per participant: severe hypoglycaemic events (SHE) on study days [first_day, last_day].

    Definition: a SHE is ADA level 3 hypoglycaemia, an event with altered mental and/or
    physical status needing third-party assistance, with no glucose threshold (American
    Diabetes Association, Standards of Care, "Glycemic Goals and Hypoglycemia", Table 6.4;
    International Hypoglycaemia Study Group, Diabetes Care 2017;40:155). Only events reported
    on the event form with ``third_party_assistance`` count. The primary endpoint's interval is the
    trial file's ``endpoints.primary.she_days``, both ends inclusive (the published one:
    trials/islet-101.toml).

    Returns ``participant_id, she_count, first_she_day, she_free`` for every participant with
    an infusion date (a participant with no event in the interval is SHE-free).
    """
    ev = with_study_day(
        she_events.filter(pl.col("third_party_assistance")), infusions, "event_date"
    ).filter(pl.col("study_day").is_between(first_day, last_day))
    counts = ev.group_by("participant_id").agg(
        she_count=pl.len().cast(pl.Int32), first_she_day=pl.col("study_day").min()
    )
    return (
        infusions.select("participant_id").unique()
        .join(counts, on="participant_id", how="left")
        .with_columns(pl.col("she_count").fill_null(0))
        .with_columns(she_free=pl.col("she_count") == 0)
        .sort("participant_id")
    )
