"""Abbott LibreView CSV export reader (title line, 19-column header, record types 0-6)."""

from __future__ import annotations

import re
from pathlib import Path

import polars as pl

from isletflow.readers.text import (ExportLayoutError, RowProblem, decode_export, first_line,
                                    map_columns, read_csv_text, sniff_delimiter)

LIBRE_TITLE = "Glucose Data,Generated on"
LIBRE_HEADER_START = "Device,Serial Number,Device Timestamp,Record Type"

# Header -> raw column; None = personal data or free text (serial number, notes): dropped.
_COLUMNS: dict[str, str | None] = {
    "Device": "device", "Serial Number": None, "Device Timestamp": "device_timestamp",
    "Record Type": "record_type", "Historic Glucose": "historic_glucose",
    "Scan Glucose": "scan_glucose", "Non-numeric Rapid-Acting Insulin": "rapid_insulin_text",
    "Rapid-Acting Insulin (units)": "rapid_insulin_u", "Non-numeric Food": "food_text",
    "Carbohydrates (grams)": "carbohydrates_g", "Carbohydrates (servings)": "carbohydrates_serv",
    "Non-numeric Long-Acting Insulin": "long_insulin_text",
    "Long-Acting Insulin Value (units)": "long_insulin_u", "Notes": None,
    "Strip Glucose": "strip_glucose", "Ketone": "ketone_mmol_l",
    "Meal Insulin (units)": "meal_insulin_u", "Correction Insulin (units)": "correction_insulin_u",
    "User Change Insulin (units)": "user_change_insulin_u",
}
_UNIT = re.compile(r"^(Historic Glucose|Scan Glucose|Strip Glucose|Ketone) (mg/dL|mmol/L)$")
REQUIRED = ["device_timestamp", "record_type", "historic_glucose", "scan_glucose"]
RAW_COLUMNS = ["row_number", "device", "device_timestamp", "record_type", "historic_glucose",
               "scan_glucose", "strip_glucose", "glucose_unit", "rapid_insulin_u",
               "long_insulin_u", "carbohydrates_g", "ketone_mmol_l", "decimal_mark"]


def read_libreview(path: Path) -> tuple[pl.DataFrame, list[RowProblem]]:
    """Read a LibreView export as text rows. Line 1 (title with the patient's full name) is
    skipped; the header is line 2. Serial number and notes are dropped."""
    data, _ = decode_export(path)
    if data.count(b"\n", 0, 65536) < 1:
        raise ExportLayoutError(f"{path.name}: LibreView export without a header line")
    sep = sniff_delimiter(first_line(data, 2))
    df, problems = read_csv_text(data, sep, header_line=2)
    out, unit = map_columns(path, df, _COLUMNS, _UNIT,
                            ("Historic Glucose", "Scan Glucose", "Strip Glucose"), "LibreView",
                            REQUIRED, RAW_COLUMNS)
    out = out.with_columns(glucose_unit=pl.lit(unit), decimal_mark=pl.lit("," if sep == ";" else "."))
    return out.select(RAW_COLUMNS), problems
