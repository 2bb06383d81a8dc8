"""Detect an export's format from its content (the first lines), never from its file name."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import polars as pl

from isletflow.readers.central_lab import CENTRAL_LAB_COLUMNS, read_central_lab
from isletflow.readers.cgm_long import long_header, read_cgm_long
from isletflow.readers.clarity import is_clarity_header, read_clarity
from isletflow.readers.libreview import LIBRE, is_libre_header, libre_like_header, read_libreview
from isletflow.readers.redcap import header_cells, is_redcap_header, read_redcap
from isletflow.readers.redcap_dictionary import is_dictionary_header, read_redcap_dictionary
from isletflow.readers.text import (ExportEncodingError, ReadError, RowProblem, find_header,
                                    head_text, shape, sniff_delimiter, split_line, split_lines)


class UnknownFormatError(ReadError):
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
    lines = split_lines(text)[:6]
    if find_header(lines, is_clarity_header):
        return "dexcom_clarity"
    if find_header(lines, is_libre_header):
        return "libreview"
    if encoding.startswith("utf-16"):  # only device exports are sent in UTF-16
        _refuse_libre_like(path, lines)
        raise ExportEncodingError(f"{path.name}: wrong encoding: UTF-16 or binary content; "
                                  "expected UTF-8 text (Latin-1 accepted from central labs)")
    first = lines[0] if lines else ""
    if is_dictionary_header(first):
        return "redcap_dictionary"
    if is_redcap_header(header_cells(first)):
        return "redcap"
    delimiter = sniff_delimiter(first)
    cells = split_line(first, delimiter)
    if cells[:1] == ["subject_id"] and "test_code" in cells:
        return "central_lab"  # the reader names any missing or renamed column
    if long_header(cells):
        return "cgm_long"
    _refuse_libre_like(path, lines)
    # Never the text of the line (an unknown file may start with a patient's name, e.g. a
    # translated desktop-reader export "Patiëntnaam<TAB>Jan Jansen"): its shape only.
    shown = shape(delimiter.join(cells[:2])) + (delimiter + "..." if len(cells) > 2 else "")
    fields = f"{len(cells)} field" + ("" if len(cells) == 1 else "s")
    raise UnknownFormatError(f"{path.name}: unknown export format; the first line has "
                             f"{fields}, its first cells shaped {shown!r} "
                             f"(letters as A, digits as 9); expected {EXPECTED}"
                             if first else f"{path.name}: unknown export format (empty file); "
                             f"expected {EXPECTED}")


def _refuse_libre_like(path: Path, lines: list[str]) -> None:
    """Raise the unknown-format error that names a LibreView export's unknown header names
    when the top ``lines`` are recognisably LibreView's (``libreview.libre_like_header``: a
    language the alias tables lack). Checked only once no other format matched, so a REDCap
    export that happens to have LibreView's row shape is never refused by it. Header names
    are not personal data; the preamble and the rows are never shown."""
    header = libre_like_header(lines)
    if header and (unknown := LIBRE.unknown_names(header)):
        raise UnknownFormatError(f"{path.name}: looks like a LibreView export with header names "
                                 f"this version does not know: {unknown}; ask the site for the "
                                 "export in English, or add the names to the alias tables "
                                 "(isletflow/readers/libreview.py)")


def read_export(path: Path, redcap_dictionary: Path | None = None,
                redcap_fields: dict[str, tuple[str, ...]] | None = None
                ) -> tuple[str, pl.DataFrame, list[RowProblem]]:
    """Detect the format of ``path`` and read it with the matching reader.

    ``redcap_dictionary``: the project's REDCap data dictionary, used when ``path`` is a
    REDCap export (to assign fields to forms, decode and type values); ignored otherwise.
    ``redcap_fields``: the only REDCap fields to keep, per form (the nightly's
    the trial file's ``Trial.redcap_fields``; see redcap.read_redcap_export); ignored for other formats."""
    fmt = detect_format(path)
    if fmt == "redcap" and (redcap_dictionary is not None or redcap_fields is not None):
        df, problems = read_redcap(path, redcap_dictionary, redcap_fields)
    else:
        df, problems = FORMATS[fmt](path)
    return fmt, df, problems
