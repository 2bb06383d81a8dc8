"""Shared text handling for CSV exports: encoding, delimiter, line numbers, truncation."""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from pathlib import Path

import polars as pl


class ExportEncodingError(ValueError):
    """The bytes of the file are not in an encoding this export format is sent in."""


class ExportLayoutError(ValueError):
    """The header lacks a column the format requires, or has one it does not know."""


@dataclass(frozen=True)
class RowProblem:
    """A row the reader could not take, with the line it stands on."""

    row_number: int
    rule: str
    value: str | None
    message: str


def decode_export(path: Path, allow_latin1: bool = False) -> tuple[bytes, str]:
    """The file's content as UTF-8 bytes (BOM removed) and the encoding it was read with.

    UTF-8 (with or without BOM) always; Windows-1252/Latin-1 only where the format is known to
    come that way (``allow_latin1``, European central labs), re-encoded to UTF-8. UTF-16 and
    binary files are refused with a message that says so.
    """
    data = path.read_bytes()
    if data.startswith((b"\xff\xfe", b"\xfe\xff")) or b"\x00" in data[:4096]:
        raise ExportEncodingError(f"{path.name}: wrong encoding: UTF-16 or binary content; "
                                  "expected UTF-8 text")
    data = data.removeprefix(b"\xef\xbb\xbf")
    try:
        data.decode("utf-8")
        return data, "utf-8"
    except UnicodeDecodeError as err:
        if allow_latin1:
            return data.decode("latin-1").encode("utf-8"), "latin-1"
        raise ExportEncodingError(
            f"{path.name}: wrong encoding: byte 0x{data[err.start]:02x} at offset {err.start} "
            "is not UTF-8; expected UTF-8 text") from err


def first_line(data: bytes, n: int = 1) -> str:
    """Line ``n`` (1-based) of UTF-8 ``data``, without its line end."""
    return data.split(b"\n", n)[n - 1].decode("utf-8").rstrip("\r") if data else ""


def head_lines(path: Path, n: int = 2) -> list[str]:
    """The first ``n`` lines, decoded leniently, for format detection."""
    with path.open("rb") as fh:
        raw = [fh.readline(65536) for _ in range(n)]
    out = []
    for b in raw:
        try:
            s = b.decode("utf-8-sig")
        except UnicodeDecodeError:
            s = b.decode("latin-1")
        out.append(s.lstrip("\ufeff").rstrip("\r\n"))
    return out


def sniff_delimiter(header: str) -> str:
    """``;`` for European exports (decimal comma), else ``,``."""
    return ";" if header.count(";") > header.count(",") else ","


def read_csv_text(data: bytes, sep: str, header_line: int = 1
                  ) -> tuple[pl.DataFrame, list[RowProblem]]:
    """All-text frame of UTF-8 CSV ``data`` whose header is line ``header_line``;
    ``row_number`` is the line of each record (header_line + 1 for the first).

    A last line cut off mid-row (no line end, fewer fields than the line before) is not kept:
    it is returned as a ``truncated_row`` problem so it can be quarantined by line number.
    """
    problems: list[RowProblem] = []
    if data and not data.endswith(b"\n"):
        cut = data.rfind(b"\n")
        header_end = -1
        for _ in range(header_line):
            header_end = data.find(b"\n", header_end + 1)
        if cut > header_end >= 0:  # at least one complete data row before the last line
            prev = data.rfind(b"\n", 0, cut) + 1
            last = next(csv.reader([data[cut + 1:].decode("utf-8")], delimiter=sep))
            before = next(csv.reader([data[prev:cut].decode("utf-8")], delimiter=sep))
            if len(last) < len(before):
                # only the first field as the value: later fields may hold personal data
                problems.append(RowProblem(data.count(b"\n", 0, cut + 1) + 1, "truncated_row",
                                           last[0][:40] if last else None,
                                           f"the file ends mid-row: {len(last)} of "
                                           f"{len(before)} fields; the row is not loaded"))
                data = data[:cut + 1]
    df = pl.read_csv(data, separator=sep, infer_schema=False, skip_rows=header_line - 1,
                     row_index_name="row_number", row_index_offset=header_line + 1,
                     quote_char='"')
    return df.with_columns(pl.col("row_number").cast(pl.Int64)), problems


def require_columns(path: Path, present: list[str], required: list[str], fmt: str) -> None:
    missing = [c for c in required if c not in present]
    if missing:
        raise ExportLayoutError(f"{path.name}: {fmt} export lacks column(s) {missing} "
                                "(renamed or removed?)")


def map_columns(path: Path, df: pl.DataFrame, columns: dict[str, str | None],
                unit_pattern: re.Pattern[str], glucose_keys: tuple[str, ...], fmt: str,
                required: list[str], raw_columns: list[str]) -> tuple[pl.DataFrame, str | None]:
    """Rename a device export's header to raw columns, drop the personal-data ones (mapped
    to None), read the glucose unit from the header (``unit_pattern``: group 1 the column
    without its unit, group 2 the unit), and add absent optional columns as nulls.
    Returns the frame (in ``raw_columns`` order, less the unit) and the unit."""
    unit = None
    rename: dict[str, str] = {}
    drop: list[str] = []
    for col in df.columns[1:]:
        m = unit_pattern.match(col)
        key = m.group(1) if m else col
        if m and m.group(1) in glucose_keys:
            unit = {"mg/dl": "mg/dL", "mmol/l": "mmol/L"}.get(m.group(2), m.group(2))
        if key not in columns:
            raise ExportLayoutError(f"{path.name}: unexpected {fmt} column {col!r}")
        if columns[key] is None:
            drop.append(col)
        else:
            rename[col] = columns[key]
    require_columns(path, list(rename.values()), required, fmt)
    out = df.drop(drop).rename(rename)
    missing = [c for c in raw_columns if c not in out.columns and c not in ("glucose_unit",
                                                                           "decimal_mark",
                                                                           "export_language")]
    return out.with_columns([pl.lit(None, pl.String).alias(c) for c in missing]), unit
