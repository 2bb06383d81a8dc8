"""Ambulatory glucose profile (AGP): glucose percentiles by local time of day."""

from __future__ import annotations

from collections.abc import Sequence

import polars as pl

AGP_PERCENTILES: tuple[int, ...] = (5, 25, 50, 75, 95)


def agp_percentiles(readings: pl.DataFrame, by: Sequence[str] = ("participant_id",),
                    bin_minutes: int = 15,
                    percentiles: Sequence[int] = AGP_PERCENTILES) -> pl.DataFrame:
    """Glucose percentiles per group ``by`` and time-of-day bin: the curves of the AGP.

    Definition: the ambulatory glucose profile overlays all days of a CGM period on one
    24-hour clock and shows, for each time of day, the 5th, 25th, 50th (median), 75th and
    95th percentiles of glucose (Bergenstal RM et al., "Recommendations for standardizing
    glucose reporting and analysis to optimize clinical decision making in diabetes: the
    Ambulatory Glucose Profile (AGP)", Diabetes Technol Ther 2013;15:198-211; adopted as the
    standard CGM report by the International Consensus on Time in Range, Battelino T et al.,
    "Clinical Targets for Continuous Glucose Monitoring Data Interpretation", Diabetes Care
    2019;42:1593-1603, which asks for >= 14 days of data with >= 70 % of readings).

    Operational choices (stated so a reader can check them):

    * Time of day is the *local* clock time of the device (``timestamp_local``), so a profile
      spans 00:00-24:00 in the participant's day, also across daylight-saving changes.
    * Bins: ``bin_minutes`` wide (default 15), starting at midnight; a reading belongs to the
      bin ``floor(minutes after midnight / bin_minutes)``. ``bin_start_min`` is the bin's first
      minute (0, 15, ..., 1425); bins without readings have no row. No smoothing across bins
      (AGP software may smooth the curves for display; unsmoothed values are checkable by
      hand).
    * Percentile p of the n readings of a bin, sorted x_1 <= ... <= x_n: linear interpolation
      between order statistics at rank h = (n - 1) p / 100 + 1, i.e.
      x_floor(h) + (h - floor(h)) (x_floor(h)+1 - x_floor(h)) (Hyndman & Fan type 7, the
      default of R ``quantile`` and numpy). Example: 60, 100, 140, 180, 220 mg/dL give
      5 % = 68, 25 % = 100, 50 % = 140, 75 % = 180, 95 % = 212.
    * Censored readings (sensor "Low" / "High") carry their boundary value (40 / 400 mg/dL)
      in ``glucose_mg_dl``; percentiles are order statistics, so they sort on the right side.
    * The caller picks the readings: one CGM series per participant (no duplicate timestamps,
      Libre scans left out) and one analysis window per group in ``by``.

    Input columns: ``by``, ``timestamp_local`` (Datetime), ``glucose_mg_dl``.
    Returns ``by``, ``bin_start_min``, ``n_readings``, ``n_days`` (distinct local dates in the
    bin) and ``p05_mg_dl``, ``p25_mg_dl``, ... one column per percentile, sorted by ``by`` and
    ``bin_start_min``.
    """
    if not 0 < bin_minutes <= 1440 or 1440 % bin_minutes:
        raise ValueError(f"bin_minutes must divide a day (1440 min), got {bin_minutes}")
    by = list(by)
    t = pl.col("timestamp_local")
    minute_of_day = t.dt.hour().cast(pl.Int32) * 60 + t.dt.minute().cast(pl.Int32)
    g = pl.col("glucose_mg_dl")
    names = [f"p{p:02d}_mg_dl" for p in percentiles]
    return (
        readings.filter(g.is_not_null())
        .with_columns(bin_start_min=(minute_of_day // bin_minutes) * bin_minutes)
        .group_by([*by, "bin_start_min"])
        .agg(
            pl.len().cast(pl.Int32).alias("n_readings"),
            t.dt.date().n_unique().cast(pl.Int32).alias("n_days"),
            *[g.quantile(p / 100.0, interpolation="linear").alias(name)
              for p, name in zip(percentiles, names)],
        )
        .select(*by, "bin_start_min", "n_readings", "n_days", *names)
        .sort([*by, "bin_start_min"])
    )
