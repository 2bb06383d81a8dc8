"""Dexcom Clarity CSV export reader (the 14-column layout; unit taken from the header)."""

from __future__ import annotations

import re
from pathlib import Path

import polars as pl

CLARITY_SIGNATURE = "Index,Timestamp (YYYY-MM-DDThh:mm:ss),Event Type"

# Export header -> raw column name. Columns mapped to None hold personal data (the patient's
# name and date of birth sit in "Patient Info"; device and transmitter serials in the others)
# and are dropped here, before anything is stored.
_COLUMNS: dict[str, str | None] = {
    "Index": "export_index",
    "Timestamp (YYYY-MM-DDThh:mm:ss)": "timestamp",
    "Event Type": "event_type",
    "Event Subtype": "event_subtype",
    "Patient Info": None,
    "Device Info": None,
    "Source Device ID": None,
    "Glucose Value": "glucose_value",
    "Insulin Value (u)": "insulin_value",
    "Carb Value (grams)": "carb_value",
    "Duration (hh:mm:ss)": "duration",
    "Glucose Rate of Change": "glucose_rate_of_change",
    "Transmitter Time (Long Integer)": "transmitter_time",
    "Transmitter ID": None,
}
_UNIT = re.compile(r"^(Glucose Value|Glucose Rate of Change) \((mg/dL|mmol/L)(/min)?\)$")
RAW_COLUMNS = ["row_number", "export_index", "timestamp", "event_type", "event_subtype",
               "glucose_value", "glucose_unit", "insulin_value", "carb_value", "duration",
               "glucose_rate_of_change", "transmitter_time"]


def read_clarity(path: Path) -> pl.DataFrame:
    """Read a Clarity export as text rows, personal-data columns dropped, glucose unit added."""
    df = pl.read_csv(path, infer_schema=False, row_index_name="row_number", row_index_offset=2,
                     encoding="utf8")
    unit = None
    rename: dict[str, str] = {}
    drop: list[str] = []
    for col in df.columns[1:]:
        m = _UNIT.match(col)
        key = m.group(1) if m else col
        if m and m.group(1) == "Glucose Value":
            unit = m.group(2)
        if key not in _COLUMNS:
            raise ValueError(f"{path}: unexpected Clarity column {col!r}")
        target = _COLUMNS[key]
        if target is None:
            drop.append(col)
        else:
            rename[col] = target
    if unit is None:
        raise ValueError(f"{path}: no 'Glucose Value (mg/dL|mmol/L)' column in the header")
    out = df.drop(drop).rename(rename).with_columns(
        pl.col("row_number").cast(pl.Int64), glucose_unit=pl.lit(unit)
    )
    for col in RAW_COLUMNS:
        if col not in out.columns:
            out = out.with_columns(pl.lit(None, pl.String).alias(col))
    return out.select(RAW_COLUMNS)
