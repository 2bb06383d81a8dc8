"""Detect an export's format from its content (the first lines), never from its file name."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import polars as pl

from isletflow.readers.central_lab import CENTRAL_LAB_COLUMNS, read_central_lab
from isletflow.readers.cgm_long import long_header, read_cgm_long
from isletflow.readers.clarity import is_clarity_header, read_clarity
from isletflow.readers.libreview import is_libre_header, read_libreview
from isletflow.readers.redcap import header_cells, is_redcap_header, read_redcap
from isletflow.readers.redcap_dictionary import is_dictionary_header, read_redcap_dictionary
from isletflow.readers.text import (ExportEncodingError, RowProblem, find_header, head_text,
                                    sniff_delimiter, split_line)


class UnknownFormatError(ValueError):
    """The file matches none of the known export formats."""


Reader = Callable[[Path], tuple[pl.DataFrame, list[RowProblem]]]
FORMATS: dict[str, Reader] = {
    "dexcom_clarity": read_clarity,
    "libreview": read_libreview,
    "redcap": read_redcap,
    "redcap_dictionary": read_redcap_dictionary,
    "central_lab": read_central_lab,
    "cgm_long": read_cgm_long,
}

EXPECTED = (
    "a Dexcom Clarity export (header 'Index,Timestamp (YYYY-MM-DDThh:mm:ss),Event Type,...' or "
    "the German 'Index;Zeitstempel ...'), a FreeStyle Libre export (header 'Device,Serial "
    "Number,Device Timestamp,Record Type,...', its older, desktop-app or translated names, "
    "below up to three preamble lines), a REDCap flat "
    "export (the record id, then 'redcap_event_name' or 'redcap_repeat_instrument' columns "
    "and each form's fields before its '<form>_complete' column), a REDCap data dictionary "
    "(the 18-column header 'Variable / Field Name,Form Name,...'), a central-lab file (header "
    f"'{','.join(CENTRAL_LAB_COLUMNS)}', ',' or ';') or a long CGM file (columns id,time,gl or "
    "participant_id,timestamp,glucose_mg_dl among others)"
)


def detect_format(path: Path) -> str:
    """Name of the export format of ``path``, from its first lines: a device export's header
    may stand below a preamble of up to three lines (see ``text.find_header``)."""
    text, encoding = head_text(path)
    lines = text.splitlines()[:6]
    if find_header(lines, is_clarity_header):
        return "dexcom_clarity"
    if find_header(lines, is_libre_header):
        return "libreview"
    if encoding.startswith("utf-16"):  # only device exports are sent in UTF-16
        raise ExportEncodingError(f"{path.name}: wrong encoding: UTF-16 or binary content; "
                                  "expected UTF-8 text (Latin-1 accepted from central labs)")
    first = lines[0] if lines else ""
    if is_dictionary_header(first):
        return "redcap_dictionary"
    if is_redcap_header(header_cells(first)):
        return "redcap"
    cells = split_line(first, sniff_delimiter(first))
    if cells[:1] == ["subject_id"] and "test_code" in cells:
        return "central_lab"  # the reader names any missing or renamed column
    if long_header(cells):
        return "cgm_long"
    # Show only the start of the first line: an unknown file may carry personal data further on.
    shown = (",".join(cells[:2])[:60] + (",..." if len(cells) > 2 else "")
             if len(cells) > 1 else "")  # a line of one field may be a patient's name
    raise UnknownFormatError(f"{path.name}: unknown export format; the first line "
                             f"({len(cells)} fields) starts {shown!r}; expected {EXPECTED}"
                             if first else f"{path.name}: unknown export format (empty file); "
                             f"expected {EXPECTED}")


def read_export(path: Path, redcap_dictionary: Path | None = None
                ) -> tuple[str, pl.DataFrame, list[RowProblem]]:
    """Detect the format of ``path`` and read it with the matching reader.

    ``redcap_dictionary``: the project's REDCap data dictionary, used when ``path`` is a
    REDCap export (to assign fields to forms, decode and type values); ignored otherwise."""
    fmt = detect_format(path)
    if fmt == "redcap" and redcap_dictionary is not None:
        df, problems = read_redcap(path, redcap_dictionary)
    else:
        df, problems = FORMATS[fmt](path)
    return fmt, df, problems
