"""Consensus CGM metrics of a set of readings."""

from __future__ import annotations

from collections.abc import Sequence

import polars as pl

METRIC_COLUMNS = [
    "n_readings", "cgm_active_pct", "mean_glucose_mg_dl", "sd_glucose_mg_dl", "cv_pct",
    "gmi_pct", "tir_pct", "tir_tight_pct", "tbr70_pct", "tbr54_pct", "tar180_pct",
    "tar250_pct", "sufficient",
]


def cgm_metrics(readings: pl.DataFrame, by: Sequence[str] = ("participant_id",),
                expected_readings: str | None = None, dedupe: bool = True,
                day_column: str | None = None) -> pl.DataFrame:
    """Core CGM metrics per group ``by``.

    Definitions: International Consensus on Time in Range (Battelino et al., Diabetes Care
    2019;42:1593-1603) and GMI (Bergenstal et al., Diabetes Care 2018;41:2275-2280).

    * Readings with a repeated timestamp within a group are removed first (first one kept);
      ``dedupe=False`` skips that step for callers whose readings are unique already (the
      warehouse's current readings: one per participant, device and time).
    * Percentages are of valid readings (as iglu counts them): TIR 70-180 mg/dL inclusive,
      tight range 70-140 inclusive, TBR < 70 and < 54, TAR > 180 and > 250 (strict).
    * Censored readings (``censored`` = 'low' / 'high', Dexcom "Low" < 40 / "High" > 400) carry
      their boundary value (40 / 400) in ``glucose_mg_dl``: they enter every range count on
      the right side, and mean and SD use the boundary value (iglu instead drops them; the
      number of each is reported in ``n_low`` / ``n_high``).
    * SD is the sample SD (n - 1); CV = SD / mean x 100; GMI (%) = 3.31 + 0.02392 x mean.
    * % CGM active = readings / readings expected x 100. Expected readings come from the
      column ``expected_readings`` when given (an analysis window's length / the device
      interval); otherwise from the span first..last reading at the device interval
      (``interval_min``): floor(span / interval) + 1.
    * Sufficient = at least 14 days with data and >= 70 % CGM active (consensus, 2019).
      Days with data = distinct values of ``day_column`` (an analysis window passes the
      study day, i.e. the participant's local calendar day); without it, distinct dates of
      ``timestamp``.

    Input columns: ``by``, ``timestamp``, ``glucose_mg_dl``, ``censored``, ``interval_min``
    (and ``expected_readings`` if named).
    """
    by = list(by)
    g = pl.col("glucose_mg_dl")
    n = pl.len()

    def pct(cond: pl.Expr) -> pl.Expr:
        return cond.sum().cast(pl.Float64) * 100.0 / n

    aggs = [
        n.alias("n_readings"),
        g.mean().alias("mean_glucose_mg_dl"),
        g.std(ddof=1).alias("sd_glucose_mg_dl"),
        pct((g >= 70) & (g <= 180)).alias("tir_pct"),
        pct((g >= 70) & (g <= 140)).alias("tir_tight_pct"),
        pct(g < 70).alias("tbr70_pct"),
        pct(g < 54).alias("tbr54_pct"),
        pct(g > 180).alias("tar180_pct"),
        pct(g > 250).alias("tar250_pct"),
        (pl.col("censored") == "low").sum().alias("n_low"),
        (pl.col("censored") == "high").sum().alias("n_high"),
        (pl.col(day_column) if day_column else pl.col("timestamp").dt.date())
        .n_unique().alias("days_with_data"),
        pl.col("timestamp").min().alias("first_reading"),
        pl.col("timestamp").max().alias("last_reading"),
        pl.col("interval_min").max().alias("interval_min"),
    ]
    if expected_readings:
        aggs.append(pl.col(expected_readings).first().alias("_expected"))
    if dedupe:
        readings = readings.unique(subset=[*by, "timestamp"], keep="first", maintain_order=True)
    out = readings.group_by(by, maintain_order=True).agg(aggs)
    if not expected_readings:
        span_min = (pl.col("last_reading") - pl.col("first_reading")).dt.total_seconds() / 60.0
        out = out.with_columns(_expected=(span_min / pl.col("interval_min")).floor() + 1)
    out = out.with_columns(
        cv_pct=pl.col("sd_glucose_mg_dl") / pl.col("mean_glucose_mg_dl") * 100.0,
        gmi_pct=3.31 + 0.02392 * pl.col("mean_glucose_mg_dl"),
        cgm_active_pct=pl.col("n_readings").cast(pl.Float64) * 100.0 / pl.col("_expected"),
    ).with_columns(
        sufficient=(pl.col("days_with_data") >= 14) & (pl.col("cgm_active_pct") >= 70.0),
    )
    extra = ["days_with_data", "n_low", "n_high", "first_reading", "last_reading"]
    return out.select([*by, *METRIC_COLUMNS, *extra]).sort(by)
