"""Long CGM CSV reader: ``id,time,gl`` (as iglu uses) or ``participant_id,timestamp,glucose_mg_dl``."""

from __future__ import annotations

from pathlib import Path

import polars as pl

from isletflow.readers.text import RowProblem, decode_export, read_csv_text

LONG_HEADERS = {
    ("id", "time", "gl"): ("id", "time", "gl"),
    ("participant_id", "timestamp", "glucose_mg_dl"): ("participant_id", "timestamp",
                                                      "glucose_mg_dl"),
}
RAW_COLUMNS = ["row_number", "participant_id", "timestamp", "glucose_value"]


def long_header(columns: list[str]) -> tuple[str, str, str] | None:
    """The (id, time, glucose) columns if ``columns`` is a long CGM header, else None.
    An unnamed leading column (the row names R writes, ``""``) is allowed."""
    cols = tuple(c for c in columns if c not in ("", '""'))
    return LONG_HEADERS.get(cols)


def read_cgm_long(path: Path) -> tuple[pl.DataFrame, list[RowProblem]]:
    """Read a long CGM file (glucose in mg/dL, local time without zone) as text rows."""
    data, _ = decode_export(path)
    df, problems = read_csv_text(data, ",")
    cols = long_header([c.strip('"') for c in df.columns[1:]])
    if cols is None:
        raise ValueError(f"{path.name}: not a long CGM file (id,time,gl)")
    pid, ts, gl = cols
    return df.select("row_number", participant_id=pl.col(pid), timestamp=pl.col(ts),
                     glucose_value=pl.col(gl)), problems
