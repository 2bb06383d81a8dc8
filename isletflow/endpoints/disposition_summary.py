"""Disposition by site and region."""

from __future__ import annotations

from collections.abc import Sequence

import polars as pl


def disposition_summary(participants: pl.DataFrame, infusions: pl.DataFrame,
                        disposition: pl.DataFrame, sites: pl.DataFrame,
                        arms: Sequence[str]) -> pl.DataFrame:
    """Per region and site, plus a total row per region and for the trial (site '(all)',
    region '(all)'): enrolled (enrolment form), dosed in each of the trial's ``arms``
    (columns ``dosed_<arm>``, infusion form), completed the study (disposition
    'completed'), died, withdrew, ongoing (CONSORT 2010 participant flow)."""
    p = (participants.select("participant_id", "site_id")
         .join(sites.select("site_id", "region"), on="site_id", how="left")
         .join(infusions.select("participant_id", "dose_group"), on="participant_id", how="left")
         .join(disposition.select("participant_id", "status"), on="participant_id", how="left"))

    def agg(df: pl.DataFrame, keys: list[str]) -> pl.DataFrame:
        return df.group_by(keys).agg(
            enrolled=pl.len().cast(pl.Int32),
            *[(pl.col("dose_group") == a).sum().cast(pl.Int32).alias(f"dosed_{a}")
              for a in arms],
            completed=(pl.col("status") == "completed").sum().cast(pl.Int32),
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
