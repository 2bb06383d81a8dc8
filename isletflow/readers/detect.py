"""Detect an export's format from its content (the header line), never from its file name."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import polars as pl

from isletflow.readers.central_lab import CENTRAL_LAB_COLUMNS, read_central_lab
from isletflow.readers.clarity import CLARITY_SIGNATURE, read_clarity
from isletflow.readers.redcap import REDCAP_SIGNATURE, read_redcap


class UnknownFormatError(ValueError):
    """The file matches none of the known export formats."""


FORMATS: dict[str, Callable[[Path], pl.DataFrame]] = {
    "dexcom_clarity": read_clarity,
    "redcap": read_redcap,
    "central_lab": read_central_lab,
}

EXPECTED = (
    "a Dexcom Clarity export (header starting 'Index,Timestamp (YYYY-MM-DDThh:mm:ss),Event Type'), "
    "a REDCap flat export (header starting 'record_id,redcap_event_name'), or a central-lab "
    f"file (header '{','.join(CENTRAL_LAB_COLUMNS)}')"
)


def _first_line(path: Path) -> str:
    with path.open("rb") as fh:
        head = fh.readline(65536)
    return head.decode("utf-8-sig", errors="replace").strip().strip("\r")


def detect_format(path: Path) -> str:
    """Name of the export format of ``path``, from its first line."""
    line = _first_line(path)
    if line.startswith(CLARITY_SIGNATURE):
        return "dexcom_clarity"
    if line.startswith(REDCAP_SIGNATURE):
        return "redcap"
    if line.replace('"', "") == ",".join(CENTRAL_LAB_COLUMNS):
        return "central_lab"
    shown = line[:120] or "(empty file)"
    raise UnknownFormatError(f"{path}: unknown export format; first line is {shown!r}; expected {EXPECTED}")


def read_export(path: Path) -> tuple[str, pl.DataFrame]:
    """Detect the format of ``path`` and read it with the matching reader."""
    fmt = detect_format(path)
    return fmt, FORMATS[fmt](path)
