"""REDCap flat CSV export reader: one instrument per file, unpivoted to (row, field, value)."""

from __future__ import annotations

from pathlib import Path

import polars as pl

REDCAP_SIGNATURE = "record_id,redcap_event_name"
ID_COLUMNS = ["record_id", "redcap_event_name", "redcap_repeat_instrument",
              "redcap_repeat_instance"]
RAW_COLUMNS = ["row_number", "form", *ID_COLUMNS, "form_complete", "field", "value"]


def read_redcap(path: Path) -> pl.DataFrame:
    """Read a REDCap flat export as long text rows (one row per field of each record).

    The instrument (form) is named by its ``<form>_complete`` status column (0 incomplete,
    1 unverified, 2 complete), which REDCap writes last for every exported instrument.
    Checkbox fields (``field___code``) stay as separate fields with their 0/1 values.
    """
    df = pl.read_csv(path, infer_schema=False, row_index_name="row_number", row_index_offset=2,
                     encoding="utf8")
    complete = [c for c in df.columns if c.endswith("_complete")]
    if len(complete) != 1:
        raise ValueError(f"{path}: expected exactly one '<form>_complete' column, found {complete}")
    missing = [c for c in ID_COLUMNS if c not in df.columns]
    if missing:
        raise ValueError(f"{path}: REDCap export lacks column(s) {missing}")
    status = complete[0]
    form = status.removesuffix("_complete")
    fields = [c for c in df.columns if c not in (*ID_COLUMNS, status, "row_number")]
    long = df.unpivot(index=["row_number", *ID_COLUMNS, status], on=fields,
                      variable_name="field", value_name="value")
    return long.with_columns(
        pl.col("row_number").cast(pl.Int64), form=pl.lit(form),
        form_complete=pl.col(status),
    ).select(RAW_COLUMNS).sort("row_number", maintain_order=True)
