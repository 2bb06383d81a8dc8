"""Stage one export: parse it once into a Parquet partition keyed by its sha256."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from isletflow.landing import LandingFile
from isletflow.readers import (FORMATS, ExportEncodingError, ExportLayoutError, RowProblem,
                               UnknownFormatError, read_export)

# The export formats a site may send in each landing sub-folder.
FORMATS_BY_KIND = {"cgm": ("dexcom_clarity", "libreview"), "edc": ("redcap",),
                   "lab": ("central_lab",)}


@dataclass(frozen=True)
class StagedFile:
    """The outcome of staging one file: its Parquet partition, or why it could not be read."""

    file_id: str
    export_format: str | None
    parquet: Path | None
    n_rows: int
    error: str | None = None
    error_rule: str | None = None
    problems: tuple[RowProblem, ...] = field(default_factory=tuple)
    cached: bool = False


def staged_path(stage_dir: Path, fmt: str, sha256: str) -> Path:
    return stage_dir / fmt / f"{sha256}.parquet"


def is_staged(stage_dir: Path, sha256: str) -> bool:
    """A partition of this content exists, written by the current reader code."""
    return any(p.exists() and pl.read_parquet_metadata(p).get("reader_code") == READER_CODE
               for p in (staged_path(stage_dir, fmt, sha256) for fmt in FORMATS))


def _reader_code() -> str:
    """A digest of the code that turns an export into its partition: a new reader re-stages."""
    h = hashlib.sha256()
    here = Path(__file__).parent
    for p in [here / "staging.py", *sorted((here / "readers").glob("*.py"))]:
        h.update(p.read_bytes())
    return h.hexdigest()[:12]


READER_CODE = _reader_code()


def _rule_of(err: Exception) -> str:
    for kind, rule in ((UnknownFormatError, "unknown_format"),
                       (ExportEncodingError, "wrong_encoding"),
                       (ExportLayoutError, "missing_or_renamed_column")):
        if isinstance(err, kind):
            return rule
    return "unreadable_file"


def stage_export(f: LandingFile, stage_dir: Path, refresh: bool = False) -> StagedFile:
    """Read ``f`` with the reader its content calls for and write ``stage/<format>/<sha>.parquet``.

    An unchanged file (same sha256) is not parsed again unless ``refresh`` or the reader code
    has changed since it was staged (``READER_CODE`` in the partition's metadata). A file that cannot
    be read is not an exception: the returned record carries the error and its rule for
    quality.issues. Rows the reader could not take (a truncated last row) travel with it.
    """
    if not refresh:
        for fmt in FORMATS:
            p = staged_path(stage_dir, fmt, f.sha256)
            if p.exists():
                meta = pl.read_parquet_metadata(p)
                if meta.get("reader_code") != READER_CODE:
                    break  # written by other reader code: parse the file again
                problems = tuple(RowProblem(**d) for d in json.loads(meta.get("problems", "[]")))
                n = pl.scan_parquet(p).select(pl.len()).collect().item()
                return StagedFile(f.file_id, fmt, p, n, problems=problems, cached=True)
    if f.size_bytes == 0:
        return StagedFile(f.file_id, None, None, 0, error="empty file (0 bytes)",
                          error_rule="empty_file")
    try:
        fmt, df, problems = read_export(f.path)
    except (ValueError, pl.exceptions.PolarsError) as err:
        return StagedFile(f.file_id, None, None, 0, error=str(err), error_rule=_rule_of(err))
    if fmt not in FORMATS_BY_KIND[f.kind]:
        return StagedFile(f.file_id, fmt, None, 0, error_rule="format_not_expected_here",
                          error=f"a {fmt} file in the {f.kind}/ folder; expected "
                                f"{' or '.join(FORMATS_BY_KIND[f.kind])}")
    if df.height == 0:
        return StagedFile(f.file_id, fmt, None, 0, error_rule="header_only",
                          error="the file has a header but no data rows")
    p = staged_path(stage_dir, fmt, f.sha256)
    p.parent.mkdir(parents=True, exist_ok=True)
    tmp = p.with_suffix(".parquet.tmp")
    problems_json = json.dumps([pr.__dict__ for pr in problems])
    df.insert_column(0, pl.lit(f.file_id).alias("file_id")).write_parquet(
        tmp, compression="lz4", metadata={"problems": problems_json, "reader_code": READER_CODE})
    tmp.replace(p)
    return StagedFile(f.file_id, fmt, p, df.height, problems=tuple(problems))
