"""Long CGM CSV reader: any CSV with the columns ``id,time,gl`` (as iglu writes them) or
``participant_id,timestamp,glucose_mg_dl`` among its columns."""

from __future__ import annotations

from pathlib import Path

import polars as pl

from isletflow.readers.text import (ExportLayoutError, RowProblem, TextLayout, decode_export,
                                    first_line, read_delimited, sniff_delimiter, split_line)

LONG_HEADERS = (("id", "time", "gl"), ("participant_id", "timestamp", "glucose_mg_dl"))
RAW_COLUMNS = ["row_number", "participant_id", "timestamp", "glucose_value"]


def long_header(columns: list[str]) -> tuple[str, str, str] | None:
    """The (id, time, glucose) column names if ``columns`` hold a long CGM header, else None.

    Other columns are allowed and not read: the row names R writes first (an unnamed
    column, ``""``) and extra columns such as iglu's ``diagnosis``.
    """
    names = {c.strip().strip('"') for c in columns}
    return next((h for h in LONG_HEADERS if set(h) <= names), None)


def read_cgm_long(path: Path) -> tuple[pl.DataFrame, list[RowProblem]]:
    """Read a long CGM file (glucose in mg/dL, local time without zone) as text rows."""
    data, _ = decode_export(path)
    header = first_line(data)
    sep = sniff_delimiter(header)
    cells = split_line(header, sep)
    cols = long_header(cells)
    if cols is None:
        raise ExportLayoutError(f"{path.name}: not a long CGM file (no id,time,gl or "
                                "participant_id,timestamp,glucose_mg_dl columns)")
    keep = {cells.index(c): raw for c, raw in zip(cols, RAW_COLUMNS[1:], strict=True)}
    df, problems = read_delimited(data, TextLayout(sep, 1, tuple(cells)),
                                  dict(sorted(keep.items())))
    return df.select(RAW_COLUMNS), problems
