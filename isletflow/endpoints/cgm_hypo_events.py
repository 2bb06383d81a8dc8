"""CGM-detected hypoglycaemia events (level 1 and level 2)."""

from __future__ import annotations

import polars as pl

MIN_MINUTES = 15.0


def cgm_hypo_events(readings: pl.DataFrame, threshold: float) -> pl.DataFrame:
    """Hypoglycaemia events below ``threshold`` mg/dL (70: level 1, 54: level 2) per participant.

    Definition (International Consensus on Time in Range, Battelino et al., Diabetes Care
    2019;42:1593, "CGM-based hypoglycaemia event"; Danne et al., Diabetes Care 2017;40:1631):
    an event begins with at least 15 consecutive minutes below the threshold and ends with at
    least 15 consecutive minutes at or above it. A shorter return above the threshold does not
    end the event (the two runs are one event). Durations: a run of readings lasts from its
    first reading to its last plus one sampling interval. A gap in the data longer than two
    intervals ends a run (and an open event). Censored "Low" readings are below any threshold.

    Input: ``participant_id``, ``timestamp`` (UTC), ``timestamp_local``, ``glucose_mg_dl``,
    ``interval_min``, one device series (current readings only). Output per event:
    participant, start (UTC), start_local, end (last reading below the threshold + one
    interval), duration_min, nadir_mg_dl, level.
    """
    r = readings.sort("participant_id", "timestamp").with_columns(
        below=pl.col("glucose_mg_dl") < threshold,
        gap=(pl.col("timestamp").diff().over("participant_id").dt.total_seconds() / 60.0
             > 2 * pl.col("interval_min")).fill_null(False),
    )
    runs = (
        r.with_columns(run=((pl.col("below") != pl.col("below").shift(1).over("participant_id"))
                            .fill_null(True) | pl.col("gap")).cum_sum().over("participant_id"))
        .group_by("participant_id", "run", maintain_order=True)
        .agg(below=pl.col("below").first(), start=pl.col("timestamp").first(),
             start_local=pl.col("timestamp_local").first(),
             last=pl.col("timestamp").last(), interval=pl.col("interval_min").first(),
             gap_before=pl.col("gap").first(), nadir=pl.col("glucose_mg_dl").min())
        .with_columns(minutes=(pl.col("last") - pl.col("start")).dt.total_seconds() / 60.0
                      + pl.col("interval"))
    )
    events: list[dict] = []
    for (pid,), part in runs.group_by(["participant_id"], maintain_order=True):
        open_event: dict | None = None
        for run in part.iter_rows(named=True):
            if open_event and run["gap_before"]:
                events.append(open_event)
                open_event = None
            if run["below"]:
                if open_event:
                    open_event["end_last"] = run["last"]
                    open_event["nadir"] = min(open_event["nadir"], run["nadir"])
                    open_event["interval"] = run["interval"]
                elif run["minutes"] >= MIN_MINUTES:
                    open_event = {"participant_id": pid, "start": run["start"],
                                  "start_local": run["start_local"],
                                  "end_last": run["last"], "nadir": run["nadir"],
                                  "interval": run["interval"]}
            elif open_event and run["minutes"] >= MIN_MINUTES:
                events.append(open_event)
                open_event = None
        if open_event:
            events.append(open_event)
    out = pl.DataFrame(events, schema={"participant_id": pl.String, "start": pl.Datetime("us"),
                                       "start_local": pl.Datetime("us"),
                                       "end_last": pl.Datetime("us"), "nadir": pl.Float64,
                                       "interval": pl.Int32})
    return out.select(
        "participant_id", "start", "start_local",
        end=pl.col("end_last") + pl.duration(minutes=pl.col("interval")),
        duration_min=((pl.col("end_last") - pl.col("start")).dt.total_seconds() / 60.0
                      + pl.col("interval")),
        nadir_mg_dl=pl.col("nadir"),
    ).with_columns(level=pl.lit(1 if threshold >= 70 else 2, pl.Int8))
