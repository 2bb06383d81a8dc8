"""REDCap flat CSV export reader: one instrument per file, unpivoted to (row, field, value)."""

from __future__ import annotations

from pathlib import Path

import polars as pl

from isletflow.readers.text import (ExportLayoutError, RowProblem, decode_export, read_csv_text,
                                    require_columns)

REDCAP_SIGNATURE = "record_id,redcap_event_name"
ID_COLUMNS = ["record_id", "redcap_event_name", "redcap_repeat_instrument",
              "redcap_repeat_instance"]
RAW_COLUMNS = ["row_number", "form", *ID_COLUMNS, "form_complete", "field", "value"]


def read_redcap(path: Path) -> tuple[pl.DataFrame, list[RowProblem]]:
    """Read a REDCap flat export as long text rows (one row per field of each record).

    The instrument (form) is named by its ``<form>_complete`` status column (0 incomplete,
    1 unverified, 2 complete), which REDCap writes last for every exported instrument.
    Checkbox fields (``field___code``) stay as separate fields with their 0/1 values.
    """
    data, _ = decode_export(path)
    df, problems = read_csv_text(data, ",")
    require_columns(path, df.columns, ID_COLUMNS, "REDCap")
    complete = [c for c in df.columns if c.endswith("_complete")]
    if len(complete) != 1:
        raise ExportLayoutError(f"{path.name}: expected one '<form>_complete' column, "
                                f"found {complete}")
    status = complete[0]
    fields = [c for c in df.columns if c not in (*ID_COLUMNS, status, "row_number")]
    long = df.unpivot(index=["row_number", *ID_COLUMNS, status], on=fields,
                      variable_name="field", value_name="value")
    return long.with_columns(
        form=pl.lit(status.removesuffix("_complete")), form_complete=pl.col(status),
    ).select(RAW_COLUMNS).sort("row_number", maintain_order=True), problems
