"""Dexcom Clarity CSV export reader: 14- and 12-column layouts, English and German exports."""

from __future__ import annotations

import re
from pathlib import Path

import polars as pl

from isletflow.readers.text import (ExportLayoutError, RowProblem, decode_export, first_line,
                                    map_columns, read_csv_text, sniff_delimiter)

CLARITY_SIGNATURES = ("Index,Timestamp (YYYY-MM-DDThh:mm:ss),Event Type",
                      "Index;Zeitstempel (JJJJ-MM-TTThh:mm:ss);Ereignistyp")

# Header (English / German translated export) -> raw column. None = personal data (the
# patient's name and birth date sit in "Patient Info", serials in the device columns): dropped
# here, before anything is stored. Glucose columns are matched without their unit.
_COLUMNS: dict[str, str | None] = {
    "Index": "export_index",
    "Timestamp (YYYY-MM-DDThh:mm:ss)": "timestamp",
    "Zeitstempel (JJJJ-MM-TTThh:mm:ss)": "timestamp",
    "Event Type": "event_type", "Ereignistyp": "event_type",
    "Event Subtype": "event_subtype", "Ereignis-Subtyp": "event_subtype",
    "Patient Info": None, "Patienteninfo": None,
    "Device Info": None, "Geräteinfo": None,
    "Source Device ID": None, "Quellgeräte-ID": None,
    "Glucose Value": "glucose_value", "Glukosewert": "glucose_value",
    "Insulin Value (u)": "insulin_value", "Insulinwert (E)": "insulin_value",
    "Carb Value (grams)": "carb_value", "Kohlenhydratwert (Gramm)": "carb_value",
    "Duration (hh:mm:ss)": "duration", "Dauer (hh:mm:ss)": "duration",
    "Glucose Rate of Change": "glucose_rate_of_change",
    "Glukose-Änderungsrate": "glucose_rate_of_change",
    "Transmitter Time (Long Integer)": "transmitter_time",
    "Transmitterzeit (lange Ganzzahl)": "transmitter_time",
    "Transmitter ID": None, "Transmitter-ID": None,
}
_UNIT = re.compile(r"^(Glucose Value|Glukosewert|Glucose Rate of Change|Glukose-Änderungsrate)"
                   r" \((mg/dL|mmol/L|mg/dl|mmol/l)(/min)?\)$")
REQUIRED = ["export_index", "timestamp", "event_type", "event_subtype", "glucose_value"]
RAW_COLUMNS = ["row_number", "export_index", "timestamp", "event_type", "event_subtype",
               "glucose_value", "glucose_unit", "insulin_value", "carb_value", "duration",
               "glucose_rate_of_change", "transmitter_time", "export_language", "decimal_mark"]


def read_clarity(path: Path) -> tuple[pl.DataFrame, list[RowProblem]]:
    """Read a Clarity export as text rows: personal-data columns dropped, unit, language and
    decimal mark of the export added (values stay as exported; core SQL interprets them)."""
    data, _ = decode_export(path)
    header = first_line(data)
    sep = sniff_delimiter(header)
    df, problems = read_csv_text(data, sep)
    out, unit = map_columns(path, df, _COLUMNS, _UNIT, ("Glucose Value", "Glukosewert"),
                            "Dexcom Clarity", REQUIRED, RAW_COLUMNS)
    if unit is None:
        raise ExportLayoutError(f"{path.name}: no glucose unit (mg/dL or mmol/L) in the header")
    out = out.with_columns(  # the older 12-column layout has no transmitter columns
        glucose_unit=pl.lit(unit),
        export_language=pl.lit("de" if header.startswith("Index;Zeitstempel") else "en"),
        decimal_mark=pl.lit("," if sep == ";" else "."),
    )
    return out.select(RAW_COLUMNS), problems
