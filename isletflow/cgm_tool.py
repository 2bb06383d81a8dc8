"""``isletflow cgm-metrics``: consensus CGM metrics per participant of one file."""

from __future__ import annotations

from pathlib import Path

import polars as pl

from isletflow.endpoints.cgm_metrics import METRIC_COLUMNS, cgm_metrics
from isletflow.inspect import inspect_export
from isletflow.readers import ReadError
from isletflow.trial import load_trial

OUTPUT_COLUMNS = ["participant_id", *METRIC_COLUMNS]
UNKNOWN_PARTICIPANT = "unknown"


def infer_interval_min(timestamps: pl.Expr) -> pl.Expr:
    """The sampling interval of a series without device metadata: the most common gap
    between consecutive readings, in whole minutes (as iglu's ``dt0`` default does)."""
    return timestamps.sort().diff().dt.total_seconds().truediv(60).round(0).mode().first()


def file_metrics(path: Path, site: str | None = None,
                 participant: str | None = None) -> pl.DataFrame:
    """Consensus metrics per participant of one file: see :func:`metrics_and_note`."""
    return metrics_and_note(path, site, participant)[0]


def metrics_and_note(path: Path, site: str | None = None, participant: str | None = None,
                     trial: Path | None = None) -> tuple[pl.DataFrame, str | None]:
    """Consensus metrics (see :func:`cgm_metrics`) per participant of a Clarity or LibreView
    export or a long CSV (``id,time,gl`` or ``participant_id,timestamp,glucose_mg_dl``).

    Device exports go through the same reader and harmonisation as the nightly flow (Low/High
    kept as censored readings; Libre scans left out; the device interval 5 or 15 min). A long
    CSV has no device: its interval is inferred per participant (:func:`infer_interval_min`).
    % CGM active is of the span from the first to the last reading. Unreadable values are
    left out. Columns in the order of DESIGN.md "Contracts".

    A device export is read in its site's time zone (``site``, or a ``<site>/`` folder in the
    path) and the metrics use UTC times; without a site they use the device's local times (a
    repeated daylight-saving hour then gives some timestamps twice, and duplicate timestamps
    are left out as for any series). The participant is ``participant``, else from the file
    name (``<participant_id>__*.csv``), else ``unknown``. The note says when the metrics
    are on local times (None otherwise).
    """
    r = inspect_export(path, site=site, participant=participant,
                       trial=load_trial(trial) if trial else None)
    c = r.canonical
    note = None
    if r.export_format == "cgm_long":
        readings = c.filter(pl.col("glucose_mg_dl").is_not_null() & pl.col("timestamp").is_not_null()
                            ).with_columns(
            censored=pl.lit(None, pl.String),
            interval_min=infer_interval_min(pl.col("timestamp")).over("participant_id"))
    elif r.export_format in ("dexcom_clarity", "libreview"):
        readings = c.with_columns(
            timestamp=pl.coalesce("timestamp_utc", "timestamp_local"),
            participant_id=pl.col("participant_id").fill_null(UNKNOWN_PARTICIPANT),
        ).filter((pl.col("device") != "libre_scan") & pl.col("glucose_mg_dl").is_not_null()
                 & pl.col("timestamp").is_not_null())
        if c["site_id"].null_count() == c.height:
            note = ("no site (--site, or a <site>/ folder in the path): metrics on the "
                    "device's local times")
    else:
        raise ReadError(f"{path.name}: a {r.export_format} file has no CGM readings")
    return cgm_metrics(readings.select("participant_id", "timestamp", "glucose_mg_dl",
                                       "censored", "interval_min")).select(OUTPUT_COLUMNS), note

