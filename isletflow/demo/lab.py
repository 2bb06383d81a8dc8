"""Central-lab result files as each site's lab writes them (names, units, number format,
delimiter, encoding, extra columns)."""

from __future__ import annotations

import csv
import io

from isletflow.demo.edc_lab import LabResult
from isletflow.demo.plans import LabStyle
from isletflow.trial import Trial, normalise_unit

LAB_COLUMNS = ["subject_id", "visit", "collection_date", "test_code", "test_name", "result",
               "unit"]
EXTRA_COLUMNS = ["accession_number", "reference_range", "abnormal_flag"]


def lab_value(r: LabResult, style: LabStyle, trial: Trial) -> str:
    """The planted value (HbA1c NGSP %, C-peptide pmol/L, ANC /mm3) as the lab reports it: in
    the lab's unit, by inverting the trial's conversion of that unit (value = result x factor
    + offset, so result = (value - offset) / factor), with the lab's decimals."""
    _, unit, decimals = style.tests[r.analyte]
    test = next(t for t in trial.lab_tests if t.code == r.test_code)
    u = next(u for u in test.units if normalise_unit(u.unit) == normalise_unit(unit))
    return f"{(r.value - u.offset) / u.factor:.{decimals}f}"


def result_text(r: LabResult, style: LabStyle, trial: Trial) -> str:
    """The result cell as the site's lab writes it (decimal comma where the lab uses one)."""
    text = lab_value(r, style, trial)
    return text.replace(".", ",") if style.comma else text


def _reference(r: LabResult, style: LabStyle, text: str) -> list[str]:
    """Accession number, reference range (low-high in the sent unit) and flag (L / H)."""
    _, _, decimals = style.tests[r.analyte]
    lo, hi = style.reference[r.analyte]
    value = float(text.replace(",", "."))
    flag = "L" if value < lo else "H" if value > hi else ""
    return [r.accession, f"{lo:.{decimals}f}-{hi:.{decimals}f}", flag]


def lab_file(results: list[LabResult], style: LabStyle, trial: Trial,
             override: dict[int, float] | None = None) -> bytes:
    """A central-lab CSV of ``results`` in the site lab's style. ``override``: planted values
    to write instead, by position in ``results`` (a result first reported wrongly)."""
    buf = io.StringIO()
    w = csv.writer(buf, delimiter=style.sep, lineterminator="\n")
    w.writerow(LAB_COLUMNS + (EXTRA_COLUMNS if style.extra_columns else []))
    for i, r in enumerate(results):
        name, unit, _ = style.tests[r.analyte]
        if override and i in override:
            r = LabResult(r.subject_id, r.visit, r.collection_date, r.test_code, override[i],
                          r.reported, r.analyte, r.accession)
        text = result_text(r, style, trial)
        row = [r.subject_id, r.visit, r.collection_date, r.test_code, name, text, unit]
        w.writerow(row + (_reference(r, style, text) if style.extra_columns else []))
    return buf.getvalue().encode(style.encoding)
