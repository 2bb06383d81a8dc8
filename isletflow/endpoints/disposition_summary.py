"""Disposition by site and region."""

from __future__ import annotations

import polars as pl


def disposition_summary(participants: pl.DataFrame, infusions: pl.DataFrame,
                        disposition: pl.DataFrame, sites: pl.DataFrame) -> pl.DataFrame:
    """Per region and site, plus a total row per region and for the trial (site '(all)',
    region '(all)'): enrolled (enrolment form), dosed with a half and with a full dose
    (infusion form), completed day 365 (disposition 'completed'), died, withdrew, ongoing
    (CONSORT 2010 participant flow)."""
    p = (participants.select("participant_id", "site_id")
         .join(sites.select("site_id", "region"), on="site_id", how="left")
         .join(infusions.select("participant_id", "dose_group"), on="participant_id", how="left")
         .join(disposition.select("participant_id", "status"), on="participant_id", how="left"))

    def agg(df: pl.DataFrame, keys: list[str]) -> pl.DataFrame:
        return df.group_by(keys).agg(
            enrolled=pl.len().cast(pl.Int32),
            dosed_half=(pl.col("dose_group") == "half").sum().cast(pl.Int32),
            dosed_full=(pl.col("dose_group") == "full").sum().cast(pl.Int32),
            completed_day365=(pl.col("status") == "completed").sum().cast(pl.Int32),
            died=(pl.col("status") == "died").sum().cast(pl.Int32),
            withdrew=(pl.col("status") == "withdrew").sum().cast(pl.Int32),
            ongoing=(pl.col("status") == "ongoing").sum().cast(pl.Int32),
        )

    by_site = agg(p, ["region", "site_id"])
    by_region = agg(p, ["region"]).with_columns(site_id=pl.lit("(all)"))
    total = agg(p.with_columns(region=pl.lit("(all)")), ["region"]).with_columns(
        site_id=pl.lit("(all)"))
    cols = by_site.columns
    return pl.concat([by_site, by_region.select(cols), total.select(cols)]).sort(
        pl.col("region") == "(all)", "region", pl.col("site_id") == "(all)", "site_id")
