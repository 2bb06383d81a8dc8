"""Stage one export: parse it once into a Parquet partition keyed by its sha256."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import polars as pl

from isletflow.landing import LandingFile
from isletflow.readers import FORMATS, read_export


@dataclass(frozen=True)
class StagedFile:
    """The outcome of staging one file: its Parquet partition, or why it could not be read."""

    file_id: str
    export_format: str | None
    parquet: Path | None
    n_rows: int
    error: str | None = None
    cached: bool = False


def staged_path(stage_dir: Path, fmt: str, sha256: str) -> Path:
    return stage_dir / fmt / f"{sha256}.parquet"


def stage_export(f: LandingFile, stage_dir: Path, refresh: bool = False) -> StagedFile:
    """Read ``f`` with the reader its content calls for and write ``stage/<format>/<sha>.parquet``.

    An unchanged file (same sha256) is not parsed again unless ``refresh``. A file that cannot
    be read is not an exception: the returned record carries the error for quality.issues.
    """
    if not refresh:
        for fmt in FORMATS:
            p = staged_path(stage_dir, fmt, f.sha256)
            if p.exists():
                n = pl.scan_parquet(p).select(pl.len()).collect().item()
                return StagedFile(f.file_id, fmt, p, n, cached=True)
    try:
        fmt, df = read_export(f.path)
    except (ValueError, pl.exceptions.PolarsError, UnicodeDecodeError) as err:
        return StagedFile(f.file_id, None, None, 0, error=str(err).replace(str(f.path), f.rel_path))
    p = staged_path(stage_dir, fmt, f.sha256)
    p.parent.mkdir(parents=True, exist_ok=True)
    tmp = p.with_suffix(".parquet.tmp")
    df.insert_column(0, pl.lit(f.file_id).alias("file_id")).write_parquet(tmp)
    tmp.replace(p)
    return StagedFile(f.file_id, fmt, p, df.height)
