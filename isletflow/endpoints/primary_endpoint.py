"""The trial's primary endpoint, with the reason for each participant's result."""

from __future__ import annotations

from collections.abc import Sequence

import polars as pl


def primary_endpoint(she: pl.DataFrame, hba1c: pl.DataFrame, infusions: pl.DataFrame,
                     first_day: int, last_day: int, she_window: tuple[int, int],
                     below_pct: float, drop_pp: float,
                     efficacy_arms: Sequence[str]) -> pl.DataFrame:
    """Primary endpoint (Part C, as published; Reichman et al., NEJM 2025):

    no severe hypoglycaemic event over ``she_window`` (``she``, from :func:`she_free`) AND an
    HbA1c < ``below_pct`` % or a decrease of >= ``drop_pp`` percentage point from baseline at
    one or more time points in [first_day, last_day] (``hba1c``, from :func:`hba1c_by_visit`;
    a time point is a visit whose nominal day lies in the range). Parameters: the trial
    file's ``endpoints.primary`` (the published values are in trials/islet-101.toml).

    Returns per participant: ``she_free``, ``glycaemic_met``, ``glycaemic_day`` (first
    nominal day meeting the HbA1c condition), ``primary_met`` (null = not evaluable: no HbA1c
    time point in the range and no SHE), and ``reason`` in plain words (which condition
    failed, when). ``efficacy_population`` = participants of the ``efficacy_arms`` (as
    published, the full-dose arm).
    """
    tp = hba1c.filter(pl.col("nominal_day").is_between(first_day, last_day)).with_columns(
        meets=(pl.col("hba1c_pct") < below_pct) | (pl.col("change_from_baseline_pp") <= -drop_pp)
    )
    gly = tp.sort("nominal_day").group_by("participant_id").agg(
        n_timepoints=pl.len().cast(pl.Int32),
        glycaemic_met=pl.col("meets").any(),
        glycaemic_day=pl.col("nominal_day").filter(pl.col("meets")).first(),
        glycaemic_value=pl.col("hba1c_pct").filter(pl.col("meets")).first(),
        glycaemic_change=pl.col("change_from_baseline_pp").filter(pl.col("meets")).first(),
        best_value=pl.col("hba1c_pct").min(),
    )
    d = (
        infusions.select("participant_id", "dose_group")
        .join(she.select("participant_id", "she_free", "first_she_day"), on="participant_id",
              how="left")
        .join(gly, on="participant_id", how="left")
        .with_columns(pl.col("n_timepoints").fill_null(0))
    )
    lo, hi = she_window
    she_fail = pl.format("severe hypoglycaemic event on day {} (days {}-{})",
                         pl.col("first_she_day"), pl.lit(lo), pl.lit(hi))
    gly_fail = pl.format(f"no HbA1c < {below_pct:.1f} % or >= {drop_pp:.1f} point decrease at "
                         "days {}-{} (best {} %)",
                         pl.lit(first_day), pl.lit(hi), pl.col("best_value").round(1))
    gly_ok = pl.format("HbA1c {} % on day {} (change {} points)",
                       pl.col("glycaemic_value").round(1), pl.col("glycaemic_day"),
                       pl.col("glycaemic_change").round(1))
    no_tp = pl.format("no HbA1c time point at days {}-{}", pl.lit(first_day), pl.lit(last_day))
    has_tp = pl.col("n_timepoints") > 0
    return d.with_columns(
        glycaemic_met=pl.col("glycaemic_met").fill_null(False),
        primary_met=pl.when(~pl.col("she_free")).then(False)
        .when(~has_tp).then(None)
        .otherwise(pl.col("glycaemic_met")),
        reason=pl.when(~pl.col("she_free") & has_tp & ~pl.col("glycaemic_met"))
        .then(pl.concat_str(pl.lit("not met: "), she_fail, pl.lit("; "), gly_fail))
        .when(~pl.col("she_free")).then(pl.concat_str(pl.lit("not met: "), she_fail))
        .when(~has_tp).then(pl.concat_str(pl.lit("not evaluable: "), no_tp))
        .when(~pl.col("glycaemic_met")).then(pl.concat_str(pl.lit("not met: "), gly_fail))
        .otherwise(pl.concat_str(pl.lit(f"met: no severe hypoglycaemia days {lo}-{hi}; "),
                                 gly_ok)),
        efficacy_population=pl.col("dose_group").is_in(list(efficacy_arms)),
    ).select("participant_id", "dose_group", "efficacy_population", "she_free",
             "glycaemic_met", "glycaemic_day", "primary_met", "reason").sort("participant_id")
