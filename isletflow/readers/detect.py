"""Detect an export's format from its content (the first lines), never from its file name."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import polars as pl

from isletflow.readers.central_lab import CENTRAL_LAB_COLUMNS, read_central_lab
from isletflow.readers.cgm_long import long_header, read_cgm_long
from isletflow.readers.clarity import CLARITY_SIGNATURES, read_clarity
from isletflow.readers.libreview import LIBRE_HEADER_START, LIBRE_TITLE, read_libreview
from isletflow.readers.redcap import REDCAP_SIGNATURE, read_redcap
from isletflow.readers.text import ExportEncodingError, RowProblem, head_lines, sniff_delimiter


class UnknownFormatError(ValueError):
    """The file matches none of the known export formats."""


Reader = Callable[[Path], tuple[pl.DataFrame, list[RowProblem]]]
FORMATS: dict[str, Reader] = {
    "dexcom_clarity": read_clarity,
    "libreview": read_libreview,
    "redcap": read_redcap,
    "central_lab": read_central_lab,
    "cgm_long": read_cgm_long,
}

EXPECTED = (
    "a Dexcom Clarity export (header 'Index,Timestamp (YYYY-MM-DDThh:mm:ss),Event Type,...' or "
    "the German 'Index;Zeitstempel ...'), a LibreView export (title 'Glucose Data,Generated "
    "on,...' then 'Device,Serial Number,Device Timestamp,Record Type,...'), a REDCap flat "
    "export (header 'record_id,redcap_event_name,...'), a central-lab file (header "
    f"'{','.join(CENTRAL_LAB_COLUMNS)}', ',' or ';') or a long CGM file (id,time,gl)"
)


def detect_format(path: Path) -> str:
    """Name of the export format of ``path``, from its first two lines."""
    with path.open("rb") as fh:
        start = fh.read(4096)
    if start.startswith((b"\xff\xfe", b"\xfe\xff")) or b"\x00" in start:
        raise ExportEncodingError(f"{path.name}: wrong encoding: UTF-16 or binary content; "
                                  "expected UTF-8 text (Latin-1 accepted from central labs)")
    first, second = (head_lines(path, 2) + ["", ""])[:2]
    if first.startswith(CLARITY_SIGNATURES):
        return "dexcom_clarity"
    if first.startswith(LIBRE_TITLE) or second.startswith(LIBRE_HEADER_START):
        return "libreview"
    if first.startswith(REDCAP_SIGNATURE):
        return "redcap"
    cells = [c.strip().strip('"') for c in first.split(sniff_delimiter(first))]
    if cells[:1] == ["subject_id"] and "test_code" in cells:
        return "central_lab"  # the reader names any missing or renamed column
    if long_header(cells):
        return "cgm_long"
    # Show only the start of the first line: an unknown file may carry personal data further on.
    shown = ",".join(cells[:2])[:60] + (",..." if len(cells) > 2 else "") if first else ""
    raise UnknownFormatError(f"{path.name}: unknown export format; the first line "
                             f"({len(cells)} fields) starts {shown!r}; expected {EXPECTED}"
                             if first else f"{path.name}: unknown export format (empty file); "
                             f"expected {EXPECTED}")


def read_export(path: Path) -> tuple[str, pl.DataFrame, list[RowProblem]]:
    """Detect the format of ``path`` and read it with the matching reader."""
    fmt = detect_format(path)
    df, problems = FORMATS[fmt](path)
    return fmt, df, problems
