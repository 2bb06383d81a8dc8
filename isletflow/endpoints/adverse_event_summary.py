"""Adverse events by system organ class and preferred term."""

from __future__ import annotations

import polars as pl


def adverse_event_summary(adverse_events: pl.DataFrame, infusions: pl.DataFrame) -> pl.DataFrame:
    """Per MedDRA system organ class (SOC) and preferred term (PT), by dose group: number of
    events, number of participants with the event, events and participants with a serious
    event (ICH E2A: results in death, is life-threatening, requires or prolongs
    hospitalisation, disability, congenital anomaly, or other important medical event, as
    recorded on the form), and the worst CTCAE grade. Counting rule of ICH E3 section 12.2:
    a participant counts once per term however many events they had. A row with
    ``preferred_term`` = '(any)' totals each SOC.
    """
    ae = adverse_events.join(infusions.select("participant_id", "dose_group"),
                             on="participant_id", how="left")

    def agg(df: pl.DataFrame, keys: list[str]) -> pl.DataFrame:
        return df.group_by(keys).agg(
            n_events=pl.len().cast(pl.Int32),
            n_participants=pl.col("participant_id").n_unique().cast(pl.Int32),
            n_serious_events=pl.col("serious").sum().cast(pl.Int32),
            n_participants_serious=pl.col("participant_id").filter(pl.col("serious"))
            .n_unique().cast(pl.Int32),
            worst_grade=pl.col("ctcae_grade").max(),
        )

    keys = ["dose_group", "system_organ_class"]
    by_pt = agg(ae, [*keys, "preferred_term"])
    by_soc = agg(ae, keys).with_columns(preferred_term=pl.lit("(any)"))
    return pl.concat([by_pt, by_soc.select(by_pt.columns)]).sort(
        "dose_group", "system_organ_class", pl.col("preferred_term") != "(any)",
        "preferred_term")
