"""Inspect one export on its own: what was read, dropped and set aside, and the canonical rows.

The file goes through the same reader and the same core SQL as in the nightly build, in an
in-memory DuckDB, so what ``isletflow inspect`` shows is what the warehouse would hold.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import polars as pl

from isletflow.config import SITES, SITES_BY_ID
from isletflow.readers import read_export
from isletflow.readers.text import head_lines, sniff_delimiter
from isletflow.warehouse import run_sql, write_table

# The core SQL that turns each format's raw rows into canonical rows, and the table it fills.
CANONICAL = {
    "dexcom_clarity": (["core/01b_quarantined_files.sql", "core/03_cgm_readings.sql"],
                       "core.cgm_readings"),
    "libreview": (["core/01b_quarantined_files.sql", "core/03_cgm_readings.sql"],
                  "core.cgm_readings"),
    "central_lab": (["core/09_lab_results.sql"], "core.lab_results"),
}
REDCAP_FORMS = {
    "enrolment": ("core/01_participants.sql", "core.participants"),
    "infusion": ("core/02_infusions.sql", "core.infusions"),
    "severe_hypoglycemia": ("core/04_she_events.sql", "core.she_events"),
    "insulin_diary": ("core/05_insulin_diary.sql", "core.insulin_diary"),
    "adverse_events": ("core/06_adverse_events.sql", "core.adverse_events"),
    "concomitant_medications": ("core/07_concomitant_medications.sql",
                                "core.concomitant_medications"),
    "disposition": ("core/08_disposition.sql", "core.disposition"),
}
NO_SITE = "(no site)"  # a CGM export read outside the trial: its clock taken as UTC
PERSONAL_COLUMNS = {"Patient Info", "Device Info", "Source Device ID", "Transmitter ID",
                    "Patienteninfo", "Geräteinfo", "Quellgeräte-ID", "Transmitter-ID",
                    "Serial Number", "Notes"}


@dataclass
class Inspection:
    path: Path
    export_format: str
    rows_read: int
    dropped_columns: list[str]
    set_aside: list[tuple[int, str, str]]          # (line, rule, message)
    canonical: pl.DataFrame
    not_canonical: dict[str, int] = field(default_factory=dict)  # rows by kind, not readings
    unreadable: int = 0


def _site_for(path: Path, site: str | None) -> str | None:
    if site:
        if site not in SITES_BY_ID:
            raise ValueError(f"unknown site {site!r}; known sites: {sorted(SITES_BY_ID)}")
        return site
    for part in reversed(path.resolve().parts[:-1]):
        if part in SITES_BY_ID:
            return part
    return None


def inspect_export(path: Path, site: str | None = None, participant: str | None = None,
                   require_site: bool = True) -> Inspection:
    """Read ``path`` as the nightly build would and harmonise it on its own.

    CGM exports need the site (for its time zone): from ``site`` or from a ``<site>/``
    folder in the path; without ``require_site`` a CGM export of no known site is read with
    UTC as its clock (local times are then as exported). The participant comes from
    ``participant`` or the file name (``<participant_id>__*.csv``), else the file's stem.
    """
    fmt, df, problems = read_export(path)
    header = head_lines(path, 2)[1 if fmt == "libreview" else 0]
    dropped = [c for c in (h.strip('"') for h in header.split(sniff_delimiter(header)))
               if c in PERSONAL_COLUMNS]
    site_id = _site_for(path, site)
    pid = participant or (path.stem.split("__")[0] if "__" in path.stem else None)
    if fmt in ("dexcom_clarity", "libreview") and (site_id is None or pid is None):
        if require_site:
            raise ValueError(f"{path.name}: a CGM export needs --site (for the time zone) and "
                             "a participant (--participant or a <participant_id>__*.csv name)")
        site_id, pid = site_id or NO_SITE, pid or path.stem
    con = duckdb.connect()
    for name in ("schemas.sql", "audit/tables.sql", "raw/tables.sql", "quality/tables.sql"):
        run_sql(con, name)
    write_table(con, "core.sites", pl.DataFrame(
        [{"site_id": s.site_id, "timezone": s.timezone} for s in SITES]
        + [{"site_id": NO_SITE, "timezone": "UTC"}]))
    write_table(con, "core.participants", pl.DataFrame(
        {"participant_id": [pid], "site_id": [site_id]},
        schema={"participant_id": pl.String, "site_id": pl.String}))
    file_id = hashlib.sha256(path.read_bytes()).hexdigest()[:16]
    con.execute("INSERT INTO audit.files VALUES (?, ?, ?, 'inspect', ?, ?, ?, ?, ?, 'inspect')",
                [file_id, file_id, site_id or "", path.name, pid, path.stat().st_size,
                 dt.datetime(2000, 1, 1), fmt])
    raw = df.insert_column(0, pl.lit(file_id).alias("file_id"))
    con.register("_raw", raw.to_arrow())
    if fmt == "cgm_long":
        canonical = df.select(
            participant_id=pl.col("participant_id"),
            timestamp=pl.col("timestamp").str.to_datetime(strict=False),
            glucose_mg_dl=pl.col("glucose_value").cast(pl.Float64, strict=False),
            source_row=pl.col("row_number"))
        unreadable = canonical.filter(pl.col("glucose_mg_dl").is_null()
                                      | pl.col("timestamp").is_null()).height
        return Inspection(path, fmt, df.height, dropped,
                          [(p.row_number, p.rule, p.message) for p in problems], canonical,
                          unreadable=unreadable)
    con.execute(f"INSERT INTO raw.{fmt} BY NAME SELECT * FROM _raw")
    if fmt == "redcap":
        form = df["form"][0]
        sql, table = REDCAP_FORMS.get(form, (None, None))
        if sql is None:
            raise ValueError(f"{path.name}: REDCap form {form!r} is not one the trial collects "
                             f"({', '.join(REDCAP_FORMS)})")
        scripts = ["core/01_participants.sql", sql] if form != "enrolment" else [sql]
    else:
        scripts, table = CANONICAL[fmt]
    for name in scripts:
        run_sql(con, name)
    canonical = con.table(table).pl().sort("source_file_id", "source_row")
    not_canonical: dict[str, int] = {}
    if fmt == "dexcom_clarity":
        not_canonical = dict(df.filter(pl.col("event_type") != "EGV")
                             .group_by("event_type").len().sort("event_type").iter_rows())
    elif fmt == "libreview":
        not_canonical = {f"record type {k}": v for k, v in df.filter(
            ~pl.col("record_type").is_in(["0", "1"])).group_by("record_type").len()
            .sort("record_type").iter_rows()}
    value_col = {"core.cgm_readings": "glucose_mg_dl", "core.lab_results": "value"}.get(table)
    unreadable = canonical[value_col].null_count() if value_col else 0
    return Inspection(path, fmt, df.height, dropped,
                      [(p.row_number, p.rule, p.message) for p in problems], canonical,
                      not_canonical, unreadable)
