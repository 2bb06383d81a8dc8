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

from isletflow.readers import FORMATS, ReadError, detect_format
from isletflow.readers.redcap import RedcapExport, dictionary_beside, read_redcap_export
from isletflow.readers.redcap_dictionary import RedcapDictionary, read_redcap_dictionary
from isletflow.readers.device import device_personal_columns
from isletflow.readers.archive import is_compressed, plain_export
from isletflow.trial import Trial, load_trial
from isletflow.warehouse import load_trial_rows, run_sql, write_table

# The core SQL that turns each format's raw rows into canonical rows, and the table it fills.
CANONICAL = {
    "dexcom_clarity": (["core/03_cgm_readings.sql"], "core.cgm_readings"),
    "libreview": (["core/03_cgm_readings.sql", "core/03b_fingerstick_glucose.sql"],
                  "core.cgm_readings"),
    "central_lab": (["core/09_lab_results.sql"], "core.lab_results"),
}
# The core SQL of each core table read from REDCap (which form feeds it: the trial file).
REDCAP_CORE_SQL = {
    "participants": "core/01_participants.sql",
    "infusions": "core/02_infusions.sql",
    "she_events": "core/04_she_events.sql",
    "insulin_diary": "core/05_insulin_diary.sql",
    "adverse_events": "core/06_adverse_events.sql",
    "concomitant_medications": "core/07_concomitant_medications.sql",
    "disposition": "core/08_disposition.sql",
}
CGM_FORMATS = ("dexcom_clarity", "libreview")


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
    details: list[str] = field(default_factory=list)  # what the file holds, one line each


def site_for(path: Path, site: str | None, trial: Trial) -> str | None:
    """``site`` (checked against the trial's sites), else a site folder in the path, else
    None."""
    if site:
        if site not in trial.sites_by_id:
            raise ReadError(f"unknown site {site!r}; sites of {trial.study.id}: "
                            f"{trial.site_ids}")
        return site
    for part in reversed(path.resolve().parts[:-1]):
        if part in trial.sites_by_id:
            return part
    return None


def inspect_export(path: Path, site: str | None = None, participant: str | None = None,
                   folder: Path | None = None, trial: Trial | None = None) -> Inspection:
    """Read ``path`` as the nightly build would and harmonise it on its own.

    A CGM export's site (its time zone) comes from ``site`` or a ``<site>/`` folder in the
    path; without one the device's local times are kept and ``timestamp_utc`` is left empty
    (never faked as UTC). The participant comes from ``participant`` or the file name
    (``<participant_id>__*.csv``), else it is unknown (empty): never the rest of the file
    name, which may carry the patient's name. ``details`` says which, one line each.
    ``folder``: where the file was received (the archive's folder, for a compressed file),
    searched for a REDCap data dictionary. ``trial``: the trial definition whose sites, clocks
    and REDCap / lab mappings apply (default: the sample trial, trials/islet-101.toml).
    """
    trial = trial or load_trial()
    if is_compressed(path):  # a .gz, or a .zip of one export: the export inside, same name
        with plain_export(path) as plain:
            return inspect_export(plain, site or site_for(path, None, trial), participant,
                                  path.parent, trial)
    fmt = detect_format(path)
    if fmt == "redcap_dictionary":
        return _inspect_redcap_dictionary(path)
    rc = read_redcap_export(path, dictionary_beside(path, folder)) if fmt == "redcap" else None
    df, problems = (rc.rows, rc.problems) if rc else FORMATS[fmt](path)
    # personal-data columns by header name (a REDCap export's are named by its reader)
    dropped = device_personal_columns(path, fmt) if fmt in CGM_FORMATS else []
    site_id = site_for(path, site, trial)
    pid = participant or (path.stem.split("__")[0] if "__" in path.stem else None)
    con = duckdb.connect()
    for name in ("schemas.sql", "audit/tables.sql", "raw/tables.sql", "quality/tables.sql"):
        run_sql(con, name)
    load_trial_rows(con, trial, "trial")
    run_sql(con, "core/00_sites.sql")
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
    if rc is not None:
        return _inspect_redcap(path, con, rc, trial)
    scripts, table = CANONICAL[fmt]
    for name in scripts:
        run_sql(con, name)
    canonical = con.table(table).pl().sort("source_file_id", "source_row")
    not_canonical: dict[str, int] = {}
    details: list[str] = []
    if fmt in CGM_FORMATS:
        canonical, not_canonical, details = _cgm_summary(con, df, fmt, canonical, site_id,
                                                         pid, site, participant, trial)
    value_col = {"core.cgm_readings": "glucose_mg_dl", "core.lab_results": "value"}.get(table)
    unreadable = canonical[value_col].null_count() if value_col else 0
    return Inspection(path, fmt, df.height, dropped,
                      [(p.row_number, p.rule, p.message) for p in problems], canonical,
                      not_canonical, unreadable, details)


def _cgm_summary(con: duckdb.DuckDBPyConnection, df: pl.DataFrame, fmt: str,
                 canonical: pl.DataFrame, site_id: str | None, pid: str | None,
                 site: str | None, participant: str | None, trial: Trial
                 ) -> tuple[pl.DataFrame, dict[str, int], list[str]]:
    """What a device export holds, for ``inspect``: its readings by device (Low/High among
    them), its fingerstick glucose (Libre strips: core.fingerstick_glucose, never CGM), the
    rows that are not readings, and where the site and participant came from."""
    tz = trial.sites_by_id[site_id].timezone if site_id else None
    details = [
        (f"site {site_id} ({tz}, {'--site' if site else 'from the path'}): timestamp_utc from "
         "the device's local time" if site_id else
         "no site (--site, or a <site>/ folder in the path): times are the device's local "
         "times; timestamp_utc is left empty"),
        (f"participant {pid} ({'--participant' if participant else 'from the file name'})"
         if pid else "participant unknown (--participant, or a file named "
                     "<participant_id>__*.csv)"),
    ]
    for (device,), part in canonical.group_by(["device"], maintain_order=True):
        censored = part["censored"].drop_nulls().value_counts(sort=True).rows()
        details.append(f"{device}: {part.height:,} readings"
                       + "".join(f", {n:,} {c}" for c, n in censored))
    if fmt == "dexcom_clarity":
        not_canonical = dict(df.filter(pl.col("event_type") != "EGV")
                             .group_by("event_type").len().sort("event_type").iter_rows())
    else:
        strips = con.table("core.fingerstick_glucose").count("*").fetchall()[0][0]
        details.append(f"strip (fingerstick) glucose: {strips:,} rows to "
                       "core.fingerstick_glucose (not CGM)")
        not_canonical = {f"record type {k}": v for k, v in df.filter(
            ~pl.col("record_type").is_in(["0", "1", "2"])).group_by("record_type").len()
            .sort("record_type").iter_rows()}
    if site_id is None:  # audit.files needs a value; the rows have no site
        canonical = canonical.with_columns(site_id=pl.lit(None, pl.String))
    return canonical, not_canonical, details


def _inspect_redcap(path: Path, con: duckdb.DuckDBPyConnection, rc: RedcapExport,
                    trial: Trial) -> Inspection:
    """A REDCap export: its layout (records, forms, events, repeats, checkboxes, dropped
    personal-data fields, by name only), and as canonical rows the core table of its form
    when it holds one form the trial collects, else its records as long rows (with the
    dictionary's decoded and typed values when a dictionary that covers it is beside it).
    The forms the trial collects are harmonised by their core SQL and counted."""
    with_data = [f for f, n in rc.forms.items() if n]
    tables = {fm.form: f"core.{t}" for t, fm in trial.redcap.forms.items()}
    core_rows: dict[str, int] = {}
    run_sql(con, "core/00b_redcap_values.sql")
    for form in [f for f in with_data if f in tables]:
        table = tables[form]
        for name in dict.fromkeys([REDCAP_CORE_SQL["participants"],
                                   REDCAP_CORE_SQL[table.removeprefix("core.")]]):
            run_sql(con, name)
        core_rows[table] = con.table(table).pl().height
    if len(with_data) == 1 and with_data[0] in tables:
        table = tables[with_data[0]]
        canonical = con.table(table).pl().sort("source_file_id", "source_row")
    else:
        canonical = rc.rows.select(
            "row_number", "record_id", "redcap_event_name", "redcap_repeat_instrument",
            "redcap_repeat_instance", "form", "field", "value",
            *(["value_label", "value_typed"] if rc.dictionary else []))
    reasons: dict[str, list[str]] = {}
    for column, why in rc.dropped.items():
        reasons.setdefault(why, []).append(column)
    checkbox = sum(len(c) for c in rc.checkbox_fields.values())
    details = [
        f"{rc.records:,} records (record id column {rc.record_id_column!r}) in {rc.n_rows:,} "
        f"rows; {len(rc.forms)} forms, {len(with_data)} with data",
        "forms (rows with data): " + ", ".join(f"{f} {n:,}" for f, n in rc.forms.items()),
        (f"events ({len(rc.events)}): " + ", ".join(rc.events)) if rc.events
        else "no events (not a longitudinal project)",
        ("repeat instruments: " + ", ".join(f"{k} {n:,} rows, {u} instance(s)" for k, (n, u)
                                            in rc.repeat_instruments.items()))
        if rc.repeat_instruments else "no repeating instruments",
        (f"checkbox fields ({len(rc.checkbox_fields)}, {checkbox} columns): "
         + ", ".join(f"{k} ({len(v)})" for k, v in rc.checkbox_fields.items()))
        if rc.checkbox_fields else "no checkbox fields",
        *([f"data access groups: {', '.join(rc.data_access_groups)}"]
          if rc.data_access_groups else []),
        *(f"dropped ({why}): {', '.join(cols)}" for why, cols in reasons.items()),
        (f"data dictionary {rc.dictionary} (beside the file): forms, choice labels and "
         f"types from it; {len(rc.problems)} value(s) do not fit it" if rc.dictionary else
         "no data dictionary beside the file that covers its columns: forms by column "
         "position, values as exported"),
        *(f"{table}: {n:,} rows (the trial's core SQL)" for table, n in core_rows.items()),
    ]
    invalid = sum(p.rule == "redcap_invalid_value" for p in rc.problems)
    return Inspection(path, "redcap", rc.n_rows, list(rc.dropped),
                      [(p.row_number, p.rule, p.message) for p in rc.problems], canonical,
                      unreadable=invalid, details=details)


def _inspect_redcap_dictionary(path: Path) -> Inspection:
    """A REDCap data dictionary: its fields, forms, field types, validations and the fields
    it flags as identifiers (dropped from the exports read with it)."""
    df, problems = read_redcap_dictionary(path)
    dic = RedcapDictionary.from_frame(df, path.name)

    def counts(col: str) -> str:
        vc = df[col].drop_nulls().value_counts(sort=True)
        return ", ".join(f"{k} {n}" for k, n in vc.iter_rows()) or "none"

    details = [
        f"{len(dic.fields)} fields in {len(dic.forms)} forms: {', '.join(dic.forms)}",
        f"field types: {counts('field_type')}",
        f"validations: {counts('validation')}",
        "identifier fields (dropped from the exports read with it): "
        + (", ".join(f.name for f in dic.fields.values() if f.identifier) or "none"),
        f"{len(dic.export_columns())} data columns in a whole-project export "
        "(checkbox fields one column per choice)",
    ]
    canonical = df.select("row_number", "field_name", "form_name", "field_type", "validation",
                          "validation_min", "validation_max", "identifier")
    return Inspection(path, "redcap_dictionary", df.height, [],
                      [(p.row_number, p.rule, p.message) for p in problems], canonical,
                      details=details)
