"""Central-lab result files as each site's lab writes them (names, units, number format,
delimiter, encoding)."""

from __future__ import annotations

import csv
import io

from isletflow.demo.edc_lab import LabResult

LAB_COLUMNS = ["subject_id", "visit", "collection_date", "test_code", "test_name", "result",
               "unit"]

# How each site's central lab reports (DESIGN.md, "Site exports"): test names, units, number
# format, delimiter and encoding. Values are planted in NGSP %, pmol/L and cells/mm3 and
# converted here to what the lab sends.
LAB_STYLES = {
    "us": {"sep": ",", "comma": False, "encoding": "utf-8",
           "HBA1C": ("Hemoglobin A1c", "%"), "CPEP_FAST": ("C-peptide, fasting", "pmol/L"),
           "CPEP_STIM": ("C-peptide, 90 min mixed-meal stimulated", "pmol/L"),
           "ANC": ("Absolute neutrophil count", "cells/mm3")},
    "ca": {"sep": ",", "comma": False, "encoding": "utf-8",
           "HBA1C": ("Hemoglobin A1c", "%"), "CPEP_FAST": ("C-peptide, fasting", "nmol/L"),
           "CPEP_STIM": ("C-peptide, 90 min MMTT", "nmol/L"),
           "ANC": ("Neutrophils, absolute", "10^9/L")},
    "de": {"sep": ";", "comma": True, "encoding": "latin-1",
           "HBA1C": ("Hämoglobin A1c (IFCC)", "mmol/mol"),
           "CPEP_FAST": ("C-Peptid nüchtern", "ng/mL"),
           "CPEP_STIM": ("C-Peptid stimuliert (90 min)", "ng/mL"),
           "ANC": ("Neutrophile absolut", "G/l")},
    "gb": {"sep": ",", "comma": False, "encoding": "utf-8",
           "HBA1C": ("HbA1c (IFCC)", "mmol/mol"), "CPEP_FAST": ("C-peptide, fasting", "pmol/L"),
           "CPEP_STIM": ("C-peptide, stimulated", "pmol/L"),
           "ANC": ("Neutrophil count", "x10^9/L")},
}


def lab_value(test: str, value: float, unit: str) -> str:
    """The planted value (HbA1c NGSP %, C-peptide pmol/L, ANC /mm3) as the lab reports it."""
    if unit == "mmol/mol":
        return f"{(value - 2.15) / 0.0915:.0f}"  # IFCC-NGSP master equation, inverted
    if unit == "nmol/L":
        return f"{value / 1000:.3f}"
    if unit == "ng/mL":
        return f"{value / 331:.2f}"
    if unit in ("10^9/L", "G/l", "x10^9/L"):
        return f"{value / 1000:.2f}"
    return f"{value:.1f}" if test == "HBA1C" else f"{value:.0f}"


def result_text(r: LabResult, style: str) -> str:
    """The result cell as the site's lab writes it (decimal comma where the lab uses one)."""
    st = LAB_STYLES[style]
    text = lab_value(r.test_code, r.value, st[r.test_code][1])
    return text.replace(".", ",") if st["comma"] else text


def lab_file(results: list[LabResult], style: str,
             override: dict[int, float] | None = None) -> bytes:
    """A central-lab CSV of ``results`` in the site lab's style. ``override``: planted values
    to write instead, by position in ``results`` (a result first reported wrongly)."""
    st = LAB_STYLES[style]
    buf = io.StringIO()
    w = csv.writer(buf, delimiter=st["sep"], lineterminator="\n")
    w.writerow(LAB_COLUMNS)
    for i, r in enumerate(results):
        name, unit = st[r.test_code]
        if override and i in override:
            r = LabResult(r.subject_id, r.visit, r.collection_date, r.test_code, override[i],
                          r.reported)
        w.writerow([r.subject_id, r.visit, r.collection_date, r.test_code, name,
                    result_text(r, style), unit])
    return buf.getvalue().encode(st["encoding"])
