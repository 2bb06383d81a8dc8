"""Prohibited medication use as a protocol deviation (the trial file's
``safety.prohibited_medications``; the sample trial's regimen is glucocorticoid-free)."""

from __future__ import annotations

import re
from collections.abc import Sequence

import polars as pl

from isletflow.endpoints.study_day import infusion_day, with_study_day


def prohibited_medications(conmeds: pl.DataFrame, infusions: pl.DataFrame,
                              names: Sequence[str]) -> pl.DataFrame:
    """Every medication-form entry of a prohibited medication (``names``: the trial file's
    ``safety.prohibited_medications``, matched as a whole word of the medication name,
    case-insensitive; the sample trial lists the systemic glucocorticoids, its
    immunosuppression being glucocorticoid-free) started on or after the infusion day: each is
    a protocol deviation (ICH E3 section 10.2). Pre-infusion use is listed with ``deviation``
    false."""
    # each name as a whole: not part of a longer word on either side (a name may itself end
    # in a non-word character, e.g. "hydrocortisone (oral)", where \b would not match)
    pattern = r"(?i)(?:^|\W)(?:" + "|".join(re.escape(n) for n in names) + r")(?:$|\W)"
    gc = with_study_day(conmeds.filter(pl.col("medication").str.contains(pattern)), infusions,
                        "start_date")
    return gc.select("participant_id", "medication", "indication", "start_date", "stop_date",
                     start_day="study_day",
                     deviation=pl.col("study_day") >= infusion_day(infusions),
                     source_file_id="source_file_id", source_row="source_row"
                     ).sort("participant_id", "start_date")
