"""Build one night's warehouse in a new DuckDB file, then publish it by atomic rename.

Each function takes file paths (never a connection) and opens the build file itself, so each
can run as its own Prefect task. Readers of the published warehouse never see a half-written
night: everything happens in ``.<name>.building-<run>`` until :func:`publish` renames it.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

import polars as pl

from isletflow.config import PROJECT_ROOT, PipelineConfig
from isletflow.readers.redcap_dictionary import RedcapDictionary
from isletflow.trial import Trial, dictionary_path
from isletflow.endpoints.adverse_event_summary import adverse_event_summary
from isletflow.endpoints.c_peptide import c_peptide_by_visit
from isletflow.endpoints.cgm_hypo_event_counts import cgm_hypo_event_counts
from isletflow.endpoints.cgm_hypo_events import cgm_hypo_events
from isletflow.endpoints.cgm_window_metrics import cgm_window_metrics
from isletflow.endpoints.deaths import deaths
from isletflow.endpoints.disposition_summary import disposition_summary
from isletflow.endpoints.prohibited_medications import prohibited_medications
from isletflow.endpoints.igls import igls_outcome
from isletflow.endpoints.insulin_at_visit import insulin_at_visit
from isletflow.endpoints.neutropenia import neutropenia
from isletflow.endpoints.she_listing import she_listing
from isletflow.endpoints.hba1c import hba1c_by_visit
from isletflow.endpoints.insulin_independence import insulin_independence
from isletflow.endpoints.participant_summary import participant_summary
from isletflow.endpoints.primary_endpoint import primary_endpoint
from isletflow.endpoints.she_free import she_free
from isletflow.broken_files import set_aside_broken_files
from isletflow.gx_docs import build_data_docs
from isletflow.landing import LandingFile, LandingProblem, sha256_of
from isletflow.runs import unpublished_runs
from isletflow.quality import (ISSUE_SCHEMA, check_keys, conform, empty_issues, gx_issues,
                               pandera_issues)
from isletflow.staging import StagedFile
from isletflow.warehouse import (connect, load_trial_rows, read_table, run_sql, sql_files,
                                 sql_text, table_counts, write_table)
from schemas.core import CORE_MODELS, core_contracts
from schemas.gx_suites import GX_SUITES
from schemas.keys import CORE_KEYS
from schemas.redcap_suites import edc_issues

PACKAGES = ("isletflow", "prefect", "duckdb", "polars", "pandera", "great-expectations",
            "fastapi", "pyarrow")


RUN_SCHEMA = {"run_id": pl.String, "flow_run_id": pl.String, "started_at": pl.Datetime("us"),
              "finished_at": pl.Datetime("us"), "status": pl.String, "as_of": pl.Date,
              "sites": pl.String, "full_refresh": pl.Boolean, "n_files": pl.Int32,
              "package_versions": pl.String, "git_commit": pl.String, "error": pl.String,
              "trial_file_id": pl.String}


# Reader problems with a value whose row is still loaded (REDCap values checked against the
# data dictionary): a warning to the site, not a row set aside.
ROW_KEPT_RULES = frozenset({"redcap_unknown_choice", "redcap_invalid_value",
                            "redcap_out_of_range", "redcap_trial_field_dropped"})
# The reader's checks of values against a site's own dictionary: where the trial names its
# REDCap dictionary, that dictionary's EDC suites check the values instead (same rule names).
DICTIONARY_VALUE_RULES = frozenset({"redcap_unknown_choice", "redcap_invalid_value",
                                    "redcap_out_of_range"})
# Reader notes that ask nothing of the site (fields of the site's REDCap project the trial does
# not collect, left out by name): recorded in quality.issues as 'info', not in the listing.
INFO_RULES = frozenset({"redcap_fields_not_collected"})


@dataclass(frozen=True)
class RunInfo:
    run_id: str
    flow_run_id: str | None
    started_at: dt.datetime


def build_path_for(warehouse: Path, run_id: str) -> Path:
    return warehouse.with_name(f".{warehouse.name}.building-{run_id}")


def trial_manifest_rows(trial: Trial, run_id: str) -> list[dict]:
    """The trial definition file (kind 'trial') and the REDCap data dictionary it names (kind
    'trial_dictionary', whose EDC suites the run checks with) as rows of audit.files, no
    site: registered like landing files, so what is built from them carries their file_id
    as lineage and a run or cut says which definition it used."""
    path = trial.source
    if path is None or trial.sha256 is None:
        raise ValueError("the trial was not loaded from a file (isletflow.trial.load_trial)")
    rows = [_definition_row(path, trial.sha256, "trial", "trial_definition", run_id)]
    dictionary = dictionary_path(trial)
    if dictionary is not None:
        rows.append(_definition_row(dictionary, sha256_of(dictionary), "trial_dictionary",
                                    "redcap_dictionary", run_id))
    return rows


def _definition_row(path: Path, sha256: str, kind: str, fmt: str, run_id: str) -> dict:
    try:
        shown = str(path.relative_to(PROJECT_ROOT))
    except ValueError:
        shown = str(path)
    st = path.stat()
    return {"file_id": sha256[:16], "sha256": sha256, "site_id": None, "kind": kind,
            "rel_path": shown, "participant_id": None, "size_bytes": st.st_size,
            "received_at": dt.datetime.fromtimestamp(st.st_mtime, dt.UTC).replace(tzinfo=None),
            "export_format": fmt, "run_id": run_id}


def create_build(cfg: PipelineConfig, build: Path, files: Sequence[LandingFile],
                 staged: Sequence[StagedFile], problems: Sequence[LandingProblem],
                 run: RunInfo) -> dict[str, int]:
    """Create the build file: schemas, audit history, raw rows, harmonised core tables."""
    build.parent.mkdir(parents=True, exist_ok=True)
    build.unlink(missing_ok=True)
    by_id = {s.file_id: s for s in staged}
    with connect(build) as con:
        run_sql(con, "schemas.sql")
        run_sql(con, "audit/tables.sql")
        run_sql(con, "quality/tables.sql")
        if cfg.warehouse.exists():
            con.execute("ATTACH ? AS prev (READ_ONLY)", [str(cfg.warehouse)])
            run_sql(con, "audit/carry_over.sql")
            con.execute("DETACH prev")
        unpublished = unpublished_runs(cfg.warehouse, run.run_id)
        if unpublished:
            con.register("_journal", pl.DataFrame(unpublished, schema=RUN_SCHEMA).to_arrow())
            run_sql(con, "audit/unpublished_runs.sql")
            con.unregister("_journal")
        definition = trial_manifest_rows(cfg.trial, run.run_id)
        landed = {f.file_id for f in files}  # the same bytes landed too (a site sent the
        # project's dictionary): registered once, by content
        manifest = pl.DataFrame(
            [{"file_id": f.file_id, "sha256": f.sha256, "site_id": f.site_id, "kind": f.kind,
              "rel_path": f.rel_path, "participant_id": f.participant_id,
              "size_bytes": f.size_bytes, "received_at": f.received_at,
              "export_format": by_id[f.file_id].export_format, "run_id": run.run_id}
             for f in files] + [r for r in definition if r["file_id"] not in landed],
            schema={"file_id": pl.String, "sha256": pl.String, "site_id": pl.String,
                    "kind": pl.String, "rel_path": pl.String, "participant_id": pl.String,
                    "size_bytes": pl.Int64, "received_at": pl.Datetime("us"),
                    "export_format": pl.String, "run_id": pl.String},
        )
        con.register("manifest", manifest.to_arrow())
        run_sql(con, "audit/register_files.sql")
        con.unregister("manifest")
        run_sql(con, "raw/tables.sql")
        load_trial_rows(con, cfg.trial, definition[0]["file_id"])
        for fmt in ("dexcom_clarity", "libreview", "redcap", "redcap_dictionary",
                    "central_lab"):
            parts = sorted(str(s.parquet) for s in staged if s.export_format == fmt and s.parquet)
            if parts:
                run_sql(con, f"raw/load_{fmt}.sql", {"files": parts})
        for name in sql_files("core"):
            run_sql(con, name)
        # with the trial's own REDCap dictionary, its EDC suites check the values (validate_build)
        trial_checks_values = dictionary_path(cfg.trial) is not None
        file_issues = [
            {"table_name": "(file)", "source_file_id": None, "source_row": None,
             "rule": p.rule, "severity": p.severity, "column_name": None, "value": None,
             "message": p.message, "site_id": p.site_id, "file": p.rel_path} for p in problems
        ] + [
            {"table_name": "(file)", "source_file_id": s.file_id, "source_row": None,
             "rule": s.error_rule, "severity": "error", "column_name": None, "value": None,
             "message": s.error} for s in staged if s.error
        ] + [
            {"table_name": "(file)", "source_file_id": s.file_id, "source_row": p.row_number,
             "rule": p.rule, "severity": "info" if p.rule in INFO_RULES
             else "warning" if p.rule in ROW_KEPT_RULES else "error",
             "column_name": p.column, "value": p.value,
             "message": p.message} for s in staged for p in s.problems
            if not (trial_checks_values and p.rule in DICTIONARY_VALUE_RULES)
        ]
        if file_issues:
            con.register("_issues", pl.DataFrame(file_issues, schema=ISSUE_SCHEMA).to_arrow())
            run_sql(con, "quality/insert_issues.sql")
            con.unregister("_issues")
            run_sql(con, "quality/first_report_of_repeated_warnings.sql")
        return table_counts(con)


def validate_build(build: Path, now: dt.datetime, trial: Trial, docs_dir: Path | None = None,
                   run_name: str | None = None) -> dict[str, int]:
    """Check the core tables and move failing rows to quality.quarantined_rows:

    1. record identity is resolved (``record_status`` of every row, schemas/keys.py), and a
       later export that lacks a record an earlier one had is a warning query;
    2. the row rules of ``sql/quality/rules/`` (unknown participant, wrong site, unreadable
       values, future or pre-enrolment dates, conflicting values within a file; ``now`` is the
       run's reference time, UTC), and two rows of one record in one file with other values;
    3. the pandera contract of every core table (with ``trial``'s own checks:
       schemas/core.py core_contracts), and the GX suites of CGM readings and lab results, on
       what is left;
    4. record identity is resolved again on what is left (a quarantined newer row leaves the
       older one current: a warning query on the newer file says so; equal records under
       different keys from different exports are a warning too), and each core table's key
       must be unique over its current rows:
       :class:`~isletflow.quality.KeyViolationError` stops the run otherwise; where the trial
       names its REDCap data dictionary, its EDC suites check the current REDCap rows
       (:func:`edc_dictionary_issues`, warnings).

    With ``docs_dir``, the GX suites' results on the tables as they reached step 3 are
    rendered as Great Expectations Data Docs there (``index.html``; runs accumulate).
    Returns rows quarantined per core table.
    """
    moved = dict.fromkeys(CORE_MODELS, 0)
    for_docs = {}
    with connect(build) as con:
        resolve_identity(con, preliminary=True)
        _quarantine(con, pl.concat([_select_text(con, keyed_sql(
            "quality/missing_from_later_export.sql", t)) for t, k in CORE_KEYS.items()
            if k.check_missing]), moved)
        rule_issues = [_select(con, name, {"now": now}) for name in sql_files("quality/rules")]
        rule_issues += [_select_text(con, keyed_sql("quality/key_conflicts_in_file.sql", t))
                        for t in CORE_KEYS if t not in SPECIAL_RESOLUTION]
        _quarantine(con, pl.concat(rule_issues), moved)
        for table, model in core_contracts(trial).items():
            df = read_table(con, f"core.{table}")
            issues = pandera_issues(df, model, table)
            if table in GX_SUITES:
                issues = pl.concat([issues, gx_issues(df, GX_SUITES[table], table)])
                if docs_dir is not None:
                    for_docs[table] = (df.drop("source_file_id", "source_row",
                                               "record_status").to_pandas(),
                                       GX_SUITES[table])
            _quarantine(con, issues, moved)
        set_aside_broken_files(con, moved)  # most rows of a file fail one rule: one file query
        resolve_identity(con)
        _quarantine(con, edc_dictionary_issues(con, trial), moved)
        _quarantine(con, pl.concat([_select_text(
            con, keyed_sql("quality/reinstated_records.sql", t),
            {"paths": [f"$.{c}" for c in k.columns]}) for t, k in CORE_KEYS.items()]
            + [_select_text(con, keyed_sql("quality/possible_duplicate_records.sql", t))
               for t, k in CORE_KEYS.items() if k.check_duplicates]), moved)
        keys = {t: (con.table(f"core.{t}").filter("record_status = 'current'")
                    .select(*k.columns).pl(), k.columns) for t, k in CORE_KEYS.items()}
        keys["sites"] = (con.table("core.sites").select("site_id").pl(), ("site_id",))
        check_keys(keys)
        run_sql(con, "quality/site_queries.sql")
    if docs_dir is not None and for_docs:
        build_data_docs(for_docs, docs_dir, run_name or "run")
    return moved


def edc_dictionary_issues(con, trial: Trial) -> pl.DataFrame:
    """The EDC checks of the trial's REDCap data dictionary (the trial file's
    ``redcap.dictionary``): one Great Expectations suite per form built from the dictionary
    (field types and validations, min/max, choice codes, checkbox columns, required fields;
    schemas/redcap_suites.py), run on the REDCap rows; warnings on each record's current row
    or a row set aside, not on the older rows a later export replaced
    (sql/quality/older_redcap_rows.sql). None when the trial names no dictionary."""
    path = dictionary_path(trial)
    if path is None:
        return empty_issues()
    dic = RedcapDictionary.from_file(path)
    issues = edc_issues(con.table("raw.redcap").pl(), dic, forms=list(trial.redcap_fields))
    table_of_form = {fm.form: table for table, fm in trial.redcap.forms.items()}
    table_of_column = {c: table_of_form.get(spec.form) if spec else None
                       for c in issues["column_name"].unique().drop_nulls()
                       for spec in [dic.field_of_column(c) or dic.fields.get(c)]}
    older = con.sql(sql_text("quality/older_redcap_rows.sql")).pl()
    return (issues.with_columns(core_table=pl.col("column_name").replace_strict(
                table_of_column, default=None, return_dtype=pl.String))
            .join(older, on=["core_table", "source_file_id", "source_row"], how="anti")
            .drop("core_table"))


# Core tables whose record identity has its own SQL (sql/resolve/): CGM readings are millions
# of rows, and only the UTC times given more than once need ranking. (column, ranking)
SPECIAL_RESOLUTION = {"cgm_readings": ("resolve/00_cgm_status_column.sql",
                                       "resolve/01_cgm_overlaps.sql")}


def keyed_sql(name: str, table: str) -> str:
    """The SQL template ``sql/<name>`` for core table ``table``: ``{table}``, ``{key}``,
    ``{key_names}`` and ``{not_compared}`` filled in from schemas.keys.CORE_KEYS only."""
    key = CORE_KEYS[table]
    return (sql_text(name).replace("{table}", table).replace("{key}", ", ".join(key.columns))
            .replace("{key_names}", ", ".join(key.columns))
            .replace("{not_compared}", "".join(f", {c}" for c in key.not_compared)))


def resolve_identity(con, preliminary: bool = False) -> None:
    """Set ``record_status`` (current / overlap / superseded) of every row of every core table
    from its key (sql/resolve/): the row from the file received last is current.
    ``preliminary`` (before validation): CGM readings only get the column, all 'current'."""
    for table in CORE_KEYS:
        if table in SPECIAL_RESOLUTION:
            column, ranking = SPECIAL_RESOLUTION[table]
            run_sql(con, column)
            if not preliminary:
                run_sql(con, ranking)
        else:
            con.execute(keyed_sql("resolve/record_identity.sql", table))


def _select(con, name: str, params: dict) -> pl.DataFrame:
    return _select_text(con, sql_text(name), params)


def _select_text(con, text: str, params: dict | None = None) -> pl.DataFrame:
    """The issues a rule's SELECT returns, in quality.issues' columns."""
    used = {k: v for k, v in (params or {}).items() if f"${k}" in text}
    return conform(con.sql(text, params=used or None).pl())


def _quarantine(con, issues: pl.DataFrame, moved: dict[str, int]) -> None:
    """Record ``issues`` and move their error rows out of their core tables."""
    if issues.height == 0:
        return
    con.register("_issues", issues.to_arrow())
    run_sql(con, "quality/insert_issues.sql")
    con.unregister("_issues")
    errors = issues.filter(pl.col("severity") == "error")
    for (table,), part in errors.group_by(["table_name"], maintain_order=True):
        if table not in CORE_MODELS:
            raise ValueError(f"not a core table: {table}")
        bad = part.select("source_file_id", "source_row").unique()
        con.register("bad", bad.to_arrow())
        con.execute(sql_text("quality/quarantine.sql").replace("{table}", table))
        con.unregister("bad")
        moved[table] += bad.height


def compute_endpoints(build: Path, cfg: PipelineConfig) -> dict[str, int]:
    """Compute every endpoint table from the validated core tables (pure polars functions)."""
    with connect(build) as con:
        # endpoints count each record once: its current row (schemas/keys.py); CGM readings
        # keep their record_status column for the metrics' own filter
        core = {t: read_table(con, f"core.{t}", order_by="source_file_id, source_row",
                              where="record_status = 'current'")
                for t in CORE_MODELS}
        core = {t: df if t == "cgm_readings" else df.drop("record_status")
                for t, df in core.items()}
        trial = cfg.trial
        ep, ii, visit_days = trial.endpoints, trial.endpoints.insulin_independence, \
            trial.lab_visit_days
        # the study-day convention travels with the infusion dates (endpoints/study_day.py)
        inf = core["infusions"].with_columns(infusion_day=pl.lit(trial.infusion_day, pl.Int32))
        she = she_free(core["she_events"], inf, *ep.primary.she_days)
        hba1c = hba1c_by_visit(core["lab_results"], inf, visit_days)
        cgm = cgm_window_metrics(core["cgm_readings"], inf, cfg.windows)
        insulin = insulin_independence(core["insulin_diary"], inf, core["participants"],
                                       *ii.days, ii.baseline_days)
        primary = primary_endpoint(she, hba1c, inf, *ep.primary.hba1c_days,
                                   ep.primary.she_days, ep.primary.hba1c_below_pct,
                                   ep.primary.hba1c_drop_pp, trial.efficacy_arms)
        summary = participant_summary(core["participants"], inf, she, hba1c, cgm, insulin,
                                      primary, core["disposition"], ep.summary_window)
        series = core["cgm_readings"].filter(pl.col("device") != "libre_scan").select(
            "participant_id", "timestamp_local", "glucose_mg_dl", "interval_min",
            timestamp="timestamp_utc")
        hypo = pl.concat([cgm_hypo_events(series, 70.0), cgm_hypo_events(series, 54.0)])
        cpep = c_peptide_by_visit(core["lab_results"], inf, visit_days,
                                  trial.safety.c_peptide_lloq_pmol_l)
        tables = {"cgm_metrics": cgm, "she_free": she, "hba1c": hba1c,
                  "insulin_independence": insulin, "primary_endpoint": primary,
                  "participant_summary": summary,
                  "cgm_hypo_events": hypo.sort("participant_id", "level", "start"),
                  "cgm_hypo_event_counts": cgm_hypo_event_counts(hypo, inf, cfg.windows),
                  "she_listing": she_listing(core["she_events"], inf, *ep.primary.she_days),
                  "insulin_at_visit": insulin_at_visit(core["insulin_diary"], inf, visit_days,
                                                       ii.days_before_visit),
                  "c_peptide": cpep,
                  "igls": igls_outcome(hba1c, core["she_events"], core["insulin_diary"], cpep,
                                       core["participants"], inf, ep.igls, ii.baseline_days),
                  "adverse_events_by_term": adverse_event_summary(core["adverse_events"], inf),
                  "neutropenia": neutropenia(core["lab_results"], core["adverse_events"], inf,
                                             trial.safety.anc_lln_per_mm3),
                  "deaths": deaths(core["disposition"], core["adverse_events"], inf),
                  "prohibited_medications": prohibited_medications(
                      core["concomitant_medications"], inf,
                      trial.safety.prohibited_medications),
                  "disposition": disposition_summary(core["participants"], inf,
                                                     core["disposition"],
                                                     read_table(con, "core.sites"),
                                                     [a.id for a in trial.arms])}
        for name, df in tables.items():
            write_table(con, f"endpoints.{name}", df)
        return {f"endpoints.{k}": v.height for k, v in tables.items()}


def _git_commit() -> str | None:
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True,
                             cwd=Path(__file__).parent, timeout=5, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None


def run_environment() -> dict[str, str | None]:
    """What produced a run: package versions (JSON) and the git commit of the code."""
    versions = {}
    for pkg in PACKAGES:
        try:
            versions[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            versions[pkg] = None
    return {"package_versions": json.dumps(versions, sort_keys=True), "git_commit": _git_commit()}


def publish(build: Path, cfg: PipelineConfig, run: RunInfo, n_files: int) -> dict[str, int]:
    """Record the run in audit, then swap the build file in place of the warehouse (atomic
    rename on the same file system). Returns rows per data table (raw, core, quality,
    endpoints) of the published warehouse, as recorded in audit.table_rows."""
    with connect(build) as con:
        counts = {k: v for k, v in table_counts(con).items() if not k.startswith("audit.")}
        run_row = pl.DataFrame([{
            "run_id": run.run_id, "flow_run_id": run.flow_run_id, "started_at": run.started_at,
            "finished_at": dt.datetime.now(dt.UTC).replace(tzinfo=None), "status": "published",
            "as_of": cfg.as_of, "sites": ",".join(cfg.sites) if cfg.sites else None,
            "full_refresh": cfg.full_refresh, "n_files": n_files, **run_environment(),
            "error": None, "trial_file_id": cfg.trial.sha256[:16] if cfg.trial.sha256 else None,
        }], schema=RUN_SCHEMA)
        con.register("_run", run_row.to_arrow())
        con.register("_rows", pl.DataFrame({"run_id": [run.run_id] * len(counts),
                                            "table_name": list(counts),
                                            "n_rows": list(counts.values())}).to_arrow())
        run_sql(con, "audit/record_run.sql")
        con.execute("CHECKPOINT")
    os.replace(build, cfg.warehouse)
    return counts


def write_site_queries(warehouse: Path, out_dir: Path) -> dict[str, int]:
    """Write ``<site>_queries.csv`` (the site's open data queries) for every site with issues."""
    out_dir.mkdir(parents=True, exist_ok=True)
    written: dict[str, int] = {}
    with connect(warehouse, read_only=True) as con:
        df = con.table("quality.site_queries").pl()
    for old in out_dir.glob("*_queries.csv"):
        old.unlink()
    for (site,), part in df.group_by(["site_id"], maintain_order=True):
        name = site or "UNASSIGNED"
        part.write_csv(out_dir / f"{name}_queries.csv")
        written[name] = part.height
    return written
