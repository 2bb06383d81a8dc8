"""Central-lab results reader (one result per row: subject, visit, date, test, result, unit)."""

from __future__ import annotations

from pathlib import Path

import polars as pl

CENTRAL_LAB_COLUMNS = ["subject_id", "visit", "collection_date", "test_code", "test_name",
                       "result", "unit"]


def read_central_lab(path: Path) -> pl.DataFrame:
    """Read a central-lab result file as text rows with their line numbers."""
    df = pl.read_csv(path, infer_schema=False, row_index_name="row_number", row_index_offset=2,
                     encoding="utf8")
    return df.with_columns(pl.col("row_number").cast(pl.Int64)).select(
        ["row_number", *CENTRAL_LAB_COLUMNS]
    )
