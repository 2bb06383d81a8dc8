"""Abbott FreeStyle Libre exports: LibreView (patient download and clinic "Patient report",
2019 and later layouts, in several languages) and the FreeStyle Libre desktop app's export
(tab-separated, ``ID, Time, Record Type, ...``). Record types 0 historic, 1 scan, 2 strip,
3 ketone, 4 insulin, 5 food, 6 notes / time change."""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

import polars as pl

from isletflow.readers.text import (MAX_PREAMBLE, ColumnAliases, RowProblem, read_device_export,
                                    sniff_delimiter, split_line)

# Header names by canonical column, case-folded, the unit taken off (``Historic Glucose
# mg/dL``, ``Historic Glucose(mg/dL)`` and ``Historic Glucose (mmol/L)`` are one name).
# Sources: English, old (2019: Meter, Meter Timestamp) and new (Device, Device Timestamp),
# the desktop app (ID, Time) and Spanish (Libre Pro patient report): the real exports in
# shared/reference/real (PROVENANCE.md, B1-B7). German and French: the LibreView headers as
# public projects' tests write them (German: "Gerät,Seriennummer,Gerätezeitstempel,...";
# French: "Appareil,Numéro de série,Horodatage de l'appareil,..."). Italian: LibreView's
# Italian terms; no Italian export has been seen, so an Italian file with other names is
# refused with the unknown column named, never read wrong.
LIBRE = ColumnAliases(
    fmt="LibreView",
    columns={
        "device": ("device", "meter", "gerät", "dispositivo", "appareil"),
        "device_timestamp": ("device timestamp", "meter timestamp", "time", "gerätezeitstempel",
                             "sello de tiempo del dispositivo", "horodatage de l'appareil",
                             "timestamp dispositivo"),
        "record_type": ("record type", "aufzeichnungstyp", "tipo de registro",
                        "type d'enregistrement", "tipo di registrazione"),
        "historic_glucose": ("historic glucose", "glukosewert-verlauf", "historial de glucosa",
                             "historique de la glycémie", "storico glicemia"),
        "scan_glucose": ("scan glucose", "glukose-scan", "escaneo de glucosa",
                         "scan de glycémie", "scansione glicemia"),
        "strip_glucose": ("strip glucose", "glukose-teststreifen",
                          "tira reactiva para glucosa", "glycémie de la bandelette",
                          "glicemia da striscia"),
        "ketone_mmol_l": ("ketone", "keton", "cuerpos cetónicos", "cétone", "chetoni"),
        "rapid_insulin_u": ("rapid-acting insulin (units)",
                            "schnellwirkendes insulin (einheiten)",
                            "insulina de acción rápida (unidades)",
                            "insuline à action rapide (unités)",
                            "insulina ad azione rapida (unità)"),
        "long_insulin_u": ("long-acting insulin value (units)", "long-acting insulin (units)",
                           "depotinsulin (einheiten)", "insulina de acción larga (unidades)",
                           "insuline à action lente (unités)",
                           "insulina ad azione lenta (unità)"),
        "carbohydrates_g": ("carbohydrates (grams)", "kohlenhydrate (gramm)",
                            "carbohidratos (gramos)", "glucides (grammes)",
                            "carboidrati (grammi)"),
    },
    # serial numbers identify the patient's device; notes are free text
    personal=("serial number", "seriennummer", "número de serial", "numéro de série",
              "numero di serie", "notes", "notizen", "notas", "note"),
    not_loaded=(
        "id", "previous time", "updated time",  # desktop app: its row id, clock changes
        "non-numeric rapid-acting insulin", "non-numeric food", "carbohydrates (servings)",
        "non-numeric long-acting insulin", "meal insulin (units)", "correction insulin (units)",
        "user change insulin (units)",
        "nicht numerisches schnellwirkendes insulin", "nicht numerische nahrungsdaten",
        "kohlenhydrate (portionen)", "nicht numerisches depotinsulin",
        "mahlzeiteninsulin (einheiten)", "korrekturinsulin (einheiten)",
        "insulin-änderung durch anwender (einheiten)",
        "insulina de acción rápida no numérica", "alimento no numérico",
        "carbohidratos (porciones)", "insulina de acción larga no numérica",
        "comida e insulina (unidades)", "insulina de corrección (unidades)",
        "insulina del cambio de usuario (unidades)",
        "insuline à action rapide non numérique", "aliments non numériques",
        "glucides (portions)", "insuline à action lente non numérique",
        "insuline pour le repas (unités)", "insuline de correction (unités)",
        "insuline modifiée par l'utilisateur (unités)",
        "insulina ad azione rapida non numerica", "cibo non numerico",
        "carboidrati (porzioni)", "insulina ad azione lenta non numerica",
        "insulina pasto (unità)", "insulina di correzione (unità)",
        "modifica insulina da parte dell'utente (unità)",
    ),
    unit_columns=("historic_glucose", "scan_glucose", "strip_glucose"),
    signature=("device_timestamp", "record_type"),
    required=("device_timestamp", "record_type", "historic_glucose", "scan_glucose"),
)
RAW_COLUMNS = ["row_number", "device", "device_timestamp", "record_type", "historic_glucose",
               "scan_glucose", "strip_glucose", "glucose_unit", "rapid_insulin_u",
               "long_insulin_u", "carbohydrates_g", "ketone_mmol_l", "decimal_mark"]


def is_libre_header(cells: list[str]) -> bool:
    return LIBRE.is_header(cells)


# A date (day, month, year in any order, any of - . /) and a time, as LibreView writes them in
# every language seen: 13-12-2020 10:23 UTC, 01-31-2020 04:20 PM, 2016/11/15 00:08.
_DATE = r"\d{1,4}[-./]\s?\d{1,2}[-./]\s?\d{1,4}\.?"
_DATE_TIME = re.compile(_DATE + r"[ T]\d{1,2}[:.]\d{2}")
RECORD_TYPES = frozenset("0123456")
MIN_HEADER_NAMES = 15  # LibreView writes 18 or 19 columns, the desktop app 19


def libre_like_header(lines: Sequence[str]) -> list[str] | None:
    """The header cells of a file that is recognisably a FreeStyle Libre export whose header
    names are not in ``LIBRE`` (a language this version does not know), else None.

    The header: one of the top lines (below up to ``MAX_PREAMBLE`` preamble lines) with at
    least ``MIN_HEADER_NAMES`` non-empty names and no digit in any (so never a data line, nor
    a preamble line padded with delimiters, which holds a name in one or two cells). It is
    LibreView's when either
    (a) a line above it is LibreView's title line: a date in cell 3 between two cells that
        begin alike, as "Generated on" / "Generated by" do in every language ("Erstellt am" /
        "Erstellt von", "Généré le" / "Généré par"); or
    (b) the line below it has LibreView's row shape: a date and time followed by a record
        type 0-6 in the first four cells (``Device, Serial, Timestamp, Record Type`` or the
        desktop app's ``ID, Time, Record Type``).
    """
    top = list(lines[: MAX_PREAMBLE + 2])
    for i, line in enumerate(top[: MAX_PREAMBLE + 1]):
        delimiter = sniff_delimiter(line)
        cells = split_line(line, delimiter)
        if (sum(1 for c in cells if c) < MIN_HEADER_NAMES
                or any(ch.isdigit() for c in cells for ch in c)):
            continue
        titled = any(_is_title(split_line(t, sniff_delimiter(t))) for t in top[:i])
        below = next((split_line(t, delimiter) for t in top[i + 1:] if t.strip()), [])
        shaped = any(_DATE_TIME.match(below[j]) and below[j + 1] in RECORD_TYPES
                     for j in range(min(3, len(below) - 1)))
        if titled or shaped:
            return cells
    return None


def _is_title(cells: list[str]) -> bool:
    """LibreView's title line: ``<title>, Generated on, <date time>, Generated by, <name>``."""
    if len(cells) < 4 or not re.match(_DATE, cells[2]):
        return False
    a, b = cells[1].casefold(), cells[3].casefold()
    return a != b and len(a) >= 2 and a[:2] == b[:2] and not any(ch.isdigit() for ch in a + b)


def read_libreview(path: Path) -> tuple[pl.DataFrame, list[RowProblem]]:
    """Read a FreeStyle Libre export as text rows (see ``text.read_device_export``).

    The preamble (LibreView's title line with the patient's name; a Libre Pro report's
    patient line with ID and date of birth; the desktop app's ``Patient Name``) is never read:
    the header is found below it. Serial number and notes are never read.
    """
    df, problems, _ = read_device_export(path, LIBRE)
    return df.select(RAW_COLUMNS), problems
