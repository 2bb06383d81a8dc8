"""Dexcom Clarity export reader: the 14-, 13- and 12-column layouts, English and German,
comma, semicolon or tab delimited, quoted or not (see ``text.py``)."""

from __future__ import annotations

from pathlib import Path

import polars as pl

from isletflow.readers.text import ColumnAliases, RowProblem, header_key, read_device_export

# Header names by canonical column (case-folded, the unit taken off): English (every real
# export in shared/reference/real, G5 to G6, 2016-2025) and the German translated export.
# 12 columns (older exports), 13 (G5: no Transmitter ID), 14 (G6).
CLARITY = ColumnAliases(
    fmt="Dexcom Clarity",
    columns={
        "export_index": ("index",),
        "timestamp": ("timestamp (yyyy-mm-ddthh:mm:ss)", "zeitstempel (jjjj-mm-ttthh:mm:ss)"),
        "event_type": ("event type", "ereignistyp"),
        "event_subtype": ("event subtype", "ereignis-subtyp"),
        "glucose_value": ("glucose value", "glukosewert"),
        "insulin_value": ("insulin value (u)", "insulinwert (e)"),
        "carb_value": ("carb value (grams)", "kohlenhydratwert (gramm)"),
        "duration": ("duration (hh:mm:ss)", "dauer (hh:mm:ss)"),
        "glucose_rate_of_change": ("glucose rate of change", "glukose-änderungsrate"),
        "transmitter_time": ("transmitter time (long integer)",
                             "transmitterzeit (lange ganzzahl)"),
    },
    # the patient's name, birth date and identifier sit in Patient Info; serials in the others
    personal=("patient info", "patienteninfo", "device info", "geräteinfo", "source device id",
              "quellgeräte-id", "transmitter id", "transmitter-id"),
    not_loaded=(),
    unit_columns=("glucose_value",),
    signature=("timestamp", "event_type"),
    required=("export_index", "timestamp", "event_type", "event_subtype", "glucose_value"),
    # the 14-column export writes its non-EGV rows without the Transmitter ID field (A1, A2)
    optional_last=("transmitter id", "transmitter-id"),
)
GERMAN_TIMESTAMP = CLARITY.columns["timestamp"][1]
RAW_COLUMNS = ["row_number", "export_index", "timestamp", "event_type", "event_subtype",
               "glucose_value", "glucose_unit", "insulin_value", "carb_value", "duration",
               "glucose_rate_of_change", "transmitter_time", "export_language", "decimal_mark"]


def is_clarity_header(cells: list[str]) -> bool:
    return CLARITY.is_header(cells)


def read_clarity(path: Path) -> tuple[pl.DataFrame, list[RowProblem]]:
    """Read a Clarity export as text rows: personal-data columns never read; unit, language
    and decimal mark of the export added (see ``text.read_device_export``; values stay as
    exported, core SQL interprets them). The older 12-column layout has no transmitter
    columns: they are null."""
    df, problems, header = read_device_export(path, CLARITY)
    language = "de" if header_key(header.names["timestamp"])[0] == GERMAN_TIMESTAMP else "en"
    return df.with_columns(export_language=pl.lit(language)).select(RAW_COLUMNS), problems
