"""Abbott FreeStyle Libre exports: LibreView (patient download and clinic "Patient report",
2019 and later layouts, in several languages) and the FreeStyle Libre desktop app's export
(tab-separated, ``ID, Time, Record Type, ...``). Record types 0 historic, 1 scan, 2 strip,
3 ketone, 4 insulin, 5 food, 6 notes / time change."""

from __future__ import annotations

from pathlib import Path

import polars as pl

from isletflow.readers.text import ColumnAliases, RowProblem, read_device_export

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


def read_libreview(path: Path) -> tuple[pl.DataFrame, list[RowProblem]]:
    """Read a FreeStyle Libre export as text rows (see ``text.read_device_export``).

    The preamble (LibreView's title line with the patient's name; a Libre Pro report's
    patient line with ID and date of birth; the desktop app's ``Patient Name``) is never read:
    the header is found below it. Serial number and notes are never read.
    """
    df, problems, _ = read_device_export(path, LIBRE)
    return df.select(RAW_COLUMNS), problems
