"""CGM hypoglycaemia events per participant and analysis window."""

from __future__ import annotations

from collections.abc import Sequence

import polars as pl

from isletflow.config import AnalysisWindow
from isletflow.endpoints.study_day import with_study_day


def cgm_hypo_event_counts(events: pl.DataFrame, infusions: pl.DataFrame,
                          windows: Sequence[AnalysisWindow]) -> pl.DataFrame:
    """Number of level 1 (< 70 mg/dL) and level 2 (< 54 mg/dL) CGM hypoglycaemia events
    (:func:`cgm_hypo_events`) that start in each analysis window, by the local study day of
    their start (``start_local``). Every participant with an infusion date gets a row per
    window (0 when none). Consensus 2019 reports events per window; a level 2 event is also a
    level 1 event only if it was detected as one at 70 mg/dL (counted independently here).
    """
    e = with_study_day(events, infusions, "start_local")
    rows = []
    for w in windows:
        in_w = e.filter(pl.col("study_day").is_between(w.start_day, w.end_day))
        rows.append(in_w.group_by("participant_id").agg(
            n_level1=(pl.col("level") == 1).sum().cast(pl.Int32),
            n_level2=(pl.col("level") == 2).sum().cast(pl.Int32),
        ).with_columns(window=pl.lit(w.name)))
    counts = pl.concat(rows) if rows else pl.DataFrame()
    grid = infusions.select("participant_id").unique().join(
        pl.DataFrame({"window": [w.name for w in windows],
                      "_o": list(range(len(windows)))}), how="cross")
    return (grid.join(counts, on=["participant_id", "window"], how="left")
            .with_columns(pl.col("n_level1").fill_null(0), pl.col("n_level2").fill_null(0))
            .sort("participant_id", "_o").drop("_o"))
