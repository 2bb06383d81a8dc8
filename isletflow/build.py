"""Build one night's warehouse in a new DuckDB file, then publish it by atomic rename.

Each function takes file paths (never a connection) and opens the build file itself, so each
can run as its own Prefect task. Readers of the published warehouse never see a half-written
night: everything happens in ``.<name>.building-<run>`` until :func:`publish` renames it.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import json
import os
import shutil
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

import duckdb
import polars as pl

from isletflow.config import PROJECT_ROOT, PipelineConfig
from isletflow.readers.redcap_dictionary import RedcapDictionary
from isletflow.trial import Trial, dictionary_path
from isletflow.endpoints.registry import ENDPOINTS, Context, Endpoint
from isletflow.broken_files import set_aside_broken_files
from isletflow.gx_docs import build_data_docs
from isletflow.landing import LandingFile, LandingProblem, sha256_of
from isletflow.runs import journal, unpublished_runs
from isletflow.quality import (ISSUE_SCHEMA, check_keys, conform, empty_issues, gx_columns,
                               gx_issues,
                               pandera_issues)
from isletflow.staging import READER_CODE, StagedFile
from isletflow.warehouse import (connect, load_raw, load_trial_rows, read_table, run_sql,
                                 sql_files, sql_text, table_counts, write_table)
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


# The export formats of CGM devices: their rows are built, validated and resolved file by
# file (an incremental night rebuilds only its new files); every other format is rebuilt whole
# on a night that brings anything (EDC and lab tables are small).
CGM_FORMATS = ("dexcom_clarity", "libreview")
OTHER_FORMATS = ("redcap", "redcap_dictionary", "central_lab")
# Core tables built from CGM files, file by file (sql/core/01b, 03, 03b)
CGM_CORE_SQL = ("core/01b_quarantined_files.sql", "core/03_cgm_readings.sql",
                "core/03b_fingerstick_glucose.sql")
FILE_PARTITIONED = ("cgm_readings", "fingerstick_glucose")
# CGM rows harmonised (and validated by pandera and GX) per statement: bounds the memory of a
# night with millions of new readings (a cold build of a large trial).
CHUNK_ROWS = 1_000_000


def _code_digest() -> str:
    """A digest of the code a warehouse is built by (SQL, schemas, build, quality, endpoints,
    readers): a night starts from the published warehouse only when it was built by the same
    code (else the night is a full rebuild)."""
    h = hashlib.sha256()
    root = PROJECT_ROOT
    paths = sorted([*(root / "sql").rglob("*.sql"), *(root / "schemas").glob("*.py"),
                    *(root / "isletflow" / "endpoints").glob("*.py"),
                    *(root / "isletflow").glob("[bqwt]*.py")])
    for p in paths:
        h.update(str(p.relative_to(root)).encode())
        h.update(p.read_bytes())
    h.update(READER_CODE.encode())
    # and the libraries (DuckDB's time-zone data, polars' arithmetic): another version may
    # compute other values, so a full rebuild
    h.update(run_environment()["package_versions"].encode())
    return h.hexdigest()[:16]


@functools.cache
def build_code() -> str:
    """:func:`_code_digest`, computed once per process."""
    return _code_digest()


@dataclass(frozen=True)
class NightPlan:
    """How a night is built: ``full`` (every file), ``incremental`` (from the published
    warehouse: the new and changed files only) or ``unchanged`` (nothing new: no data table
    changes). ``reason`` says why."""

    mode: str
    reason: str


def plan_night(cfg: PipelineConfig, partitions: pl.DataFrame, file_issue_digest: str
               ) -> NightPlan:
    """Full, incremental or unchanged: incremental when a published warehouse exists that was
    built by the same code (:func:`build_code`), trial file, data cut and site selection, and
    ``--full-refresh`` was not asked for; unchanged when, besides, tonight's staged partitions
    and file-level issues are the published night's."""
    if cfg.full_refresh:
        return NightPlan("full", "a full refresh was asked for")
    if not cfg.warehouse.exists():
        return NightPlan("full", "no published warehouse yet")
    with connect(cfg.warehouse, read_only=True) as con:
        try:
            state = next(iter(con.execute(sql_text("incremental/read_build_state.sql"))
                              .fetchall()), None)
            before = con.table("audit.staged_partitions").pl()
            # rows set aside as dated in the future: the reference time moves on, so a night
            # with nothing new still checks them again (as a full rebuild would)
            dated_later = con.execute(sql_text("incremental/dated_later.sql")).fetchall()[0][0]
        except duckdb.CatalogException:
            return NightPlan("full", "the published warehouse has no build state")
    if state is None:
        return NightPlan("full", "the published warehouse has no build state")
    code, trial_sha, as_of, sites, issues = state
    if code != build_code():
        return NightPlan("full", "the pipeline code changed since the published night")
    if trial_sha != cfg.trial.sha256:
        return NightPlan("full", "the trial definition changed")
    if (as_of, sites) != (cfg.as_of, ",".join(cfg.sites) if cfg.sites else None):
        return NightPlan("full", "another data cut or site selection than the published night")
    if issues == file_issue_digest and _same_rows(before, partitions) and not dated_later:
        return NightPlan("unchanged", "no new, changed or removed file")
    if dated_later:
        return NightPlan("incremental", "rows dated after the published night's reference "
                                        "time are checked again")
    return NightPlan("incremental", "new, changed or removed files")


def _same_rows(a: pl.DataFrame, b: pl.DataFrame) -> bool:
    key = ["file_id", "export_format", "partition"]
    return a.select(key).sort(key).equals(b.select(key).sort(key))


def staged_partitions(staged: Sequence[StagedFile]) -> pl.DataFrame:
    """The Parquet partition each loaded file's raw rows come from (its name says which content,
    reader, trial fields and site dictionary made it)."""
    return pl.DataFrame([{"file_id": s.file_id, "export_format": s.export_format,
                          "partition": s.parquet.name, "n_rows": s.n_rows}
                         for s in staged if s.parquet is not None],
                        schema={"file_id": pl.String, "export_format": pl.String,
                                "partition": pl.String, "n_rows": pl.Int64})


def create_build(cfg: PipelineConfig, build: Path, files: Sequence[LandingFile],
                 staged: Sequence[StagedFile], problems: Sequence[LandingProblem],
                 run: RunInfo) -> dict[str, int]:
    """Create the build file: schemas, audit history, raw rows, harmonised core tables.

    A full night builds a new file from every file of the landing folder. An incremental night
    (:func:`plan_night`) starts from a copy of the published warehouse: the EDC and lab tables
    are rebuilt whole (small), the CGM rows only for the night's new files and for known files
    whose context changed (their participant's enrolment; readings that were in the future),
    removed files' rows are deleted, and every other CGM row, with its quality records, is kept
    as published (sql/incremental/). An unchanged night only registers the run. The plan is
    kept in the build's ``work`` schema for :func:`validate_build` and
    :func:`compute_endpoints`; :func:`publish` drops it."""
    build.parent.mkdir(parents=True, exist_ok=True)
    build.unlink(missing_ok=True)
    by_id = {s.file_id: s for s in staged}
    file_issues = _file_issues(cfg, staged, problems)
    parts = staged_partitions(staged)
    plan = plan_night(cfg, parts, _issue_digest(file_issues))
    if plan.mode != "full":
        shutil.copyfile(cfg.warehouse, build)
    with connect(build) as con:
        run_sql(con, "schemas.sql")
        run_sql(con, "audit/tables.sql")
        run_sql(con, "quality/tables.sql")
        if plan.mode == "full" and cfg.warehouse.exists():
            con.execute("ATTACH ? AS prev (READ_ONLY)", [str(cfg.warehouse)])
            run_sql(con, "audit/carry_over.sql")
            con.execute("DETACH prev")
        run_sql(con, "incremental/work_tables.sql")
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
        con.execute("INSERT INTO work.night VALUES (?, ?, ?)",
                    [plan.mode, plan.reason, plan.mode != "unchanged"])
        con.execute("INSERT INTO work.build_state VALUES (?, ?, ?, ?, ?, ?, ?, 0, 0)",
                    [build_code(), cfg.trial.sha256, cfg.as_of,
                     ",".join(cfg.sites) if cfg.sites else None, _issue_digest(file_issues),
                     plan.mode, plan.reason])
        if plan.mode == "unchanged":
            return table_counts(con)
        if plan.mode == "incremental":
            _prev_participant_digests(con)
        _load_raw(con, cfg, staged, definition[0]["file_id"], plan)
        con.register("_parts", parts.to_arrow())  # (after _load_raw: it reads the published)
        con.execute("CREATE OR REPLACE TABLE audit.staged_partitions AS SELECT * FROM _parts")
        con.unregister("_parts")
        for name in sql_files("core"):
            if name not in CGM_CORE_SQL:
                run_sql(con, name)
        con.execute("CREATE OR REPLACE TEMP TABLE _prev_context AS "
                    "SELECT * FROM audit.cgm_context" if plan.mode == "incremental" else
                    "CREATE OR REPLACE TEMP TABLE _prev_context (participant_id VARCHAR, "
                    "digest VARCHAR)")
        run_sql(con, "incremental/cgm_context.sql")
        if plan.mode == "incremental":
            run_sql(con, "incremental/plan_scope.sql")
        run_sql(con, "incremental/count_scope.sql")  # (takes the scope out of _kept_loaded)
        kept = {r[0] for r in con.sql("SELECT file_id FROM _kept_loaded").fetchall()}
        if plan.mode == "incremental":
            run_sql(con, "incremental/set_aside_kept.sql")
        run_sql(con, CGM_CORE_SQL[0])
        harmonise_cgm(con, staged)
        if file_issues:
            con.register("_issues", pl.DataFrame(
                [i for i in file_issues if i["source_file_id"] not in kept],
                schema=ISSUE_SCHEMA).to_arrow())
            run_sql(con, "quality/insert_issues.sql")
            con.unregister("_issues")
            run_sql(con, "quality/first_report_of_repeated_warnings.sql")
        return table_counts(con)


def _file_issues(cfg: PipelineConfig, staged: Sequence[StagedFile],
                 problems: Sequence[LandingProblem]) -> list[dict]:
    """quality.issues rows of the files themselves: landing problems, files staging could not
    read, and the problems of rows the readers refused or flagged."""
    # with the trial's own REDCap dictionary, its EDC suites check the values (validate_build)
    trial_checks_values = dictionary_path(cfg.trial) is not None
    return [
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


def _issue_digest(issues: list[dict]) -> str:
    rows = sorted(json.dumps(i, sort_keys=True, default=str) for i in issues)
    return hashlib.sha256("\n".join(rows).encode()).hexdigest()[:16]


def _load_raw(con, cfg: PipelineConfig, staged: Sequence[StagedFile], trial_file_id: str,
              plan: NightPlan) -> set[str]:
    """The night's raw rows: every format but CGM loaded anew; the CGM views over every loaded
    file's partition (sql/raw/load_dexcom_clarity.sql). Fills work.cgm_scope (new CGM files) and
    work.cgm_removed, and the temp table _kept_loaded (CGM files kept as published), whose ids
    are returned."""
    if plan.mode == "full":
        run_sql(con, "raw/tables.sql")
        before: set[str] = set()
    else:
        run_sql(con, "incremental/clear_raw.sql")
        before = {r[0] for r in con.sql(sql_text("incremental/loaded_cgm_files.sql")).fetchall()}
    load_trial_rows(con, cfg.trial, trial_file_id)
    tonight = {s.file_id for s in staged if s.export_format in CGM_FORMATS and s.parquet}
    new, removed, kept = tonight - before, before - tonight, before & tonight
    for fmt in (*CGM_FORMATS, *OTHER_FORMATS):
        parts = sorted(str(s.parquet) for s in staged if s.export_format == fmt and s.parquet)
        if parts:  # (CGM: a view over every loaded file's partition)
            load_raw(con, fmt, parts)
        elif fmt in CGM_FORMATS:  # none (any more): the empty table of raw/tables.sql
            if con.execute("SELECT count(*) FROM information_schema.tables WHERE "
                           "table_schema = 'raw' AND table_name = ? AND table_type = 'VIEW'",
                           [fmt]).fetchall()[0][0]:
                con.execute(f"DROP VIEW raw.{fmt}")
            run_sql(con, "raw/tables.sql")  # (CREATE TABLE IF NOT EXISTS)
    for table, ids in (("work.cgm_scope", new), ("work.cgm_removed", removed)):
        if ids:
            con.executemany(f"INSERT INTO {table} VALUES (?)", [[i] for i in sorted(ids)])
    con.register("_kept_ids", pl.DataFrame({"file_id": sorted(kept)},
                                           schema={"file_id": pl.String}).to_arrow())
    con.execute("CREATE OR REPLACE TEMP TABLE _kept_loaded AS SELECT * FROM _kept_ids")
    con.unregister("_kept_ids")
    return kept


def harmonise_cgm(con, staged: Sequence[StagedFile]) -> None:
    """The core rows of the CGM files of work.cgm_scope (sql/core/03_cgm_readings.sql,
    03b_fingerstick_glucose.sql), in chunks of files of at most :data:`CHUNK_ROWS` staged
    rows; ``staged``: the night's staged files (their row counts and partitions)."""
    run_sql(con, "incremental/work_tables_chunk.sql")
    by_id = {s.file_id: s for s in staged}
    chunks = _chunks(con, "work.cgm_scope", by_id)
    for chunk in chunks:
        con.execute("DELETE FROM work.cgm_chunk")
        if chunk:
            con.executemany("INSERT INTO work.cgm_chunk VALUES (?)", [[f] for f in chunk])
        if len(chunks) > 1:  # the raw views over this chunk's partitions only: a view over
            # every partition would be scanned again for each chunk (thousands of files)
            _raw_cgm_views(con, [s for s in staged if s.file_id in set(chunk)])
        for name in CGM_CORE_SQL[1:]:
            run_sql(con, name)
    if len(chunks) > 1:
        _raw_cgm_views(con, staged)


def _raw_cgm_views(con, staged: Sequence[StagedFile]) -> None:
    """raw.dexcom_clarity and raw.libreview as views over the partitions of ``staged``."""
    for fmt in CGM_FORMATS:
        parts = sorted(str(s.parquet) for s in staged if s.export_format == fmt and s.parquet)
        if parts:
            load_raw(con, fmt, parts)


def _chunks(con, scope_table: str, by_id: dict[str, StagedFile]) -> list[list[str]]:
    """The files of ``scope_table`` in chunks of at most :data:`CHUNK_ROWS` staged rows (a
    larger file is a chunk of its own), in file id order; one empty chunk when it has none."""
    ids = [r[0] for r in con.sql(f"SELECT file_id FROM {scope_table} ORDER BY 1").fetchall()]
    chunks = _pack([(i, by_id[i].n_rows if i in by_id else 0) for i in ids])
    return [c for c in chunks if c] or [[]]  # (no file: the tables still made, empty)


def _pack(sizes: list[tuple[str, int]]) -> list[list[str]]:
    """File ids (with their row counts, in order) in consecutive chunks of at most
    :data:`CHUNK_ROWS` rows; a larger file is a chunk of its own."""
    chunks: list[list[str]] = [[]]
    rows = 0
    for file_id, n in sizes:
        if chunks[-1] and rows + n > CHUNK_ROWS:
            chunks.append([])
            rows = 0
        chunks[-1].append(file_id)
        rows += n
    return chunks


def _prev_participant_digests(con) -> None:
    """Before an incremental night rebuilds them: per participant, the digest of the published
    current rows of every core table a by-participant endpoint reads (besides the CGM tables,
    whose changes are their touched keys)."""
    con.execute("CREATE OR REPLACE TABLE work.prev_digests (table_name VARCHAR, "
                "participant_id VARCHAR, digest VARCHAR)")
    for table in _by_participant_core_inputs():
        con.execute("INSERT INTO work.prev_digests " + keyed_sql(
            "incremental/participant_digests.sql", table))


def _by_participant_core_inputs() -> list[str]:
    return sorted({i.partition(".")[2] for e in ENDPOINTS if e.by_participant for i in e.inputs
                   if i.startswith("core.") and i.partition(".")[2] not in FILE_PARTITIONED})


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
        mode = night_mode(con)
        if mode == "unchanged":
            return moved
        resolve_identity(con, preliminary=True)
        _quarantine(con, pl.concat([_select_text(con, keyed_sql(
            "quality/missing_from_later_export.sql", t)) for t, k in CORE_KEYS.items()
            if k.check_missing]), moved)
        rule_issues = [_select(con, name, {"now": now}) for name in sql_files("quality/rules")]
        rule_issues += [_select_text(con, keyed_sql("quality/key_conflicts_in_file.sql", t))
                        for t in CORE_KEYS if t not in SPECIAL_RESOLUTION]
        _quarantine(con, pl.concat(rule_issues), moved)
        for table, model in core_contracts(trial).items():
            for df in _table_parts(con, table):
                issues = pandera_issues(df, model, table)
                if table in GX_SUITES:
                    issues = pl.concat([issues, gx_issues(df, GX_SUITES[table], table)])
                    if docs_dir is not None and table not in for_docs:  # (a large night:
                        # the first chunk of its CGM rows)
                        used = gx_columns(GX_SUITES[table], df.columns)
                        for_docs[table] = (df.select(used).to_pandas(), GX_SUITES[table])
                _quarantine(con, issues, moved)
        set_aside_broken_files(con, moved)  # most rows of a file fail one rule: one file query
        if mode == "incremental":
            run_sql(con, "incremental/merge_kept.sql")
        resolve_identity(con, touched_only=mode == "incremental")
        _quarantine(con, edc_dictionary_issues(con, trial), moved)
        _quarantine(con, pl.concat([_select_text(
            con, keyed_sql("quality/reinstated_records.sql", t),
            {"paths": [f"$.{c}" for c in k.columns]}) for t, k in CORE_KEYS.items()]
            + [_select_text(con, keyed_sql("quality/possible_duplicate_records.sql", t))
               for t, k in CORE_KEYS.items() if k.check_duplicates]), moved)
        keys = {t: (_current_keys(con, t, k.columns), k.columns) for t, k in CORE_KEYS.items()}
        keys["sites"] = (con.table("core.sites").select("site_id").pl(), ("site_id",))
        check_keys(keys)
        missing_data_queries(con, trial)  # (issue 13, part 3: the missing-data queries)
        run_sql(con, "quality/site_queries.sql")
        _record_changes(con, mode)
    if docs_dir is not None and for_docs:
        build_data_docs(for_docs, docs_dir, run_name or "run")
    return moved


# ---- issue 13, part 3: the missing-data queries -------------------------------------------
def missing_data_queries(con, trial: Trial) -> None:
    """quality.missing_data, worked out again from the validated core tables with the trial's
    settings (``missing_data``, isletflow/trial.py MissingData): sql/quality/missing_data/.
    Run on every night that builds (full or incremental); each query holds the reference
    date it is due on, and the listing (quality.site_queries) shows those due by the published
    night's, so an unchanged night (no data table rebuilt) moves them on too."""
    md = trial.missing_data
    params = {"cgm_gap_days": md.cgm_gap_days, "cgm_windows": md.cgm_expected == "cgm_windows",
              "infusion_day": trial.infusion_day, "hba1c_visits": trial.hba1c_visits,
              "visit_forms": list(md.visit_forms),
              "form_incomplete_days": md.form_incomplete_days}
    for name in sql_files("quality/missing_data"):
        run_sql(con, name, params)


def night_mode(con) -> str:
    """The plan of the night being built (work.night: full, incremental or unchanged); a build
    file without one (made by other tools) is a full build."""
    try:
        rows = con.execute("SELECT mode FROM work.night").fetchall()
    except duckdb.CatalogException:
        return "full"
    return rows[0][0] if rows else "full"


def _table_parts(con, table: str):
    """The rows of core.``table`` as polars frames, one per chunk of its source files of at
    most :data:`CHUNK_ROWS` rows (a large night's readings, or years of cumulative REDCap
    exports, never in memory at once; the contracts check rows, and a file's rows stay in
    one frame)."""
    yield from _file_chunks(con, f"core.{table}", "source_file_id")


def _file_chunks(con, table: str, file_column: str):
    """``table``'s rows as polars frames, by chunks of whole files (``file_column``) of at
    most :data:`CHUNK_ROWS` rows (one frame, possibly empty, when the table fits)."""
    sizes = con.sql(f"SELECT {file_column}, count(*) FROM {table} GROUP BY ALL "
                    "ORDER BY 1").fetchall()
    if sum(n for _, n in sizes) <= CHUNK_ROWS:
        yield con.table(table).pl()
        return
    chunks = _pack(sizes)
    for chunk in chunks:
        if not chunk and len(chunks) > 1:
            continue
        con.register("_chunk_files", pl.DataFrame({"file_id": chunk},
                                                  schema={"file_id": pl.String}).to_arrow())
        try:
            yield con.sql(f"SELECT * FROM {table} WHERE {file_column} IN "
                          "(SELECT file_id FROM _chunk_files)").pl()
        finally:
            con.unregister("_chunk_files")


def _current_keys(con, table: str, columns: tuple[str, ...]) -> pl.DataFrame:
    """The key columns of core.``table``'s current rows, for the uniqueness check. CGM
    readings: only the keys given more than once among them (found in DuckDB; millions of
    keys never reach memory): pandera's check then names those, as it would among all."""
    rel = con.table(f"core.{table}").filter("record_status = 'current'").select(*columns)
    if table not in FILE_PARTITIONED:
        return rel.pl()
    return con.sql(keyed_sql("quality/repeated_current_keys.sql", table)).pl()


def _record_changes(con, mode: str) -> None:
    """work.changed: per core table, the participants whose inputs of a by-participant
    endpoint changed this night (compute_endpoints); a full night changes everything (no
    rows: compute_endpoints computes all)."""
    if mode != "incremental":
        return
    run_sql(con, "incremental/changed_cgm.sql")
    con.execute("CREATE OR REPLACE TEMP TABLE _new_digests (table_name VARCHAR, "
                "participant_id VARCHAR, digest VARCHAR)")
    for table in _by_participant_core_inputs():
        con.execute("INSERT INTO _new_digests " + keyed_sql(
            "incremental/participant_digests.sql", table))
    run_sql(con, "incremental/changed_digests.sql")


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
    # by chunks of whole export files (a row's checks depend on its file and values only)
    issues = pl.concat([edc_issues(part, dic, forms=list(trial.redcap_fields))
                        for part in _file_chunks(con, "raw.redcap", "file_id")])
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


def resolve_identity(con, preliminary: bool = False, touched_only: bool = False) -> None:
    """Set ``record_status`` (current / overlap / superseded) of every row of every core table
    from its key (sql/resolve/): the row from the file received last is current.
    ``preliminary`` (before validation): CGM readings only get the column, all 'current'.
    ``touched_only`` (an incremental night): CGM readings are ranked again only for the keys
    whose rows the night added or removed (work.touched_keys)."""
    for table in CORE_KEYS:
        if table in SPECIAL_RESOLUTION:
            column, ranking = SPECIAL_RESOLUTION[table]
            run_sql(con, column)
            if not preliminary:
                run_sql(con, "resolve/02_cgm_overlaps_touched.sql" if touched_only
                        else ranking)
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


# Participants per batch of a by-participant endpoint (the CGM endpoints): their readings are
# in memory at once (100 participants of the 100x bench trial, ~10 M readings, took the
# process to 4.6 GB; 20 is ~2 M readings).
PARTICIPANT_BATCH = 20


def compute_endpoints(build: Path, cfg: PipelineConfig) -> dict[str, int]:
    """Compute the endpoint tables declared in isletflow/endpoints/registry.py from the
    validated core tables (pure polars functions; current rows only, in lineage order:
    floating-point sums depend on row order, a fixed one makes reruns bit-identical).

    A full night computes every table. An incremental night computes the tables one of whose
    inputs changed (work.changed and the declarations): a by-participant endpoint only for
    the participants whose inputs changed (their rows replaced), every other one whole. An
    unchanged night computes nothing. By-participant endpoints are computed in batches of
    :data:`PARTICIPANT_BATCH` participants. Returns rows per endpoint table."""
    with connect(build) as con:
        mode = night_mode(con)
        ctx = Context(cfg.trial, cfg.windows)
        # None: every participant changed; else the participants whose inputs changed
        changed: dict[str, set[str] | None] = {}
        if mode == "incremental":
            for table, pid in con.sql("SELECT table_name, participant_id FROM work.changed"
                                      ).fetchall():
                changed.setdefault(f"core.{table}", set()).add(pid)
            # EDC and lab tables are rebuilt whole each night that brings anything
            for table in CORE_MODELS:
                if table not in FILE_PARTITIONED and table not in _by_participant_core_inputs():
                    changed[f"core.{table}"] = None
            changed["core.sites"] = None
        elif mode == "full":
            changed = {f"core.{t}": None for t in [*CORE_MODELS, "sites"]}
        frames: dict[str, pl.DataFrame] = {}
        for e in ENDPOINTS:
            inputs = [i for i in e.inputs if i in changed]
            if not inputs:
                continue
            who = None if any(changed[i] is None for i in inputs) else \
                set().union(*(changed[i] for i in inputs))
            if e.by_participant:
                _compute_by_participant(con, e, ctx, who)
                changed[f"endpoints.{e.name}"] = who
            else:
                t = {i: frames[i] if i in frames else _input(con, i) for i in e.inputs}
                frames[f"endpoints.{e.name}"] = df = e.compute(t, ctx)
                write_table(con, f"endpoints.{e.name}", df)
                changed[f"endpoints.{e.name}"] = None
        return {f"endpoints.{e.name}": con.table(f"endpoints.{e.name}").count("*").fetchall()
                [0][0] for e in ENDPOINTS}


def _input(con, name: str, participants: list[str] | None = None) -> pl.DataFrame:
    """An endpoint input as a frame: core tables' current rows in lineage order (CGM readings
    keep their record_status column for the metrics' own filter; the others drop it), an
    endpoint table as computed; with ``participants``, only their rows."""
    schema, _, table = name.partition(".")
    rel = con.table(f'{schema}."{table}"')
    if participants is not None:
        con.register("_batch", pl.DataFrame({"participant_id": participants},
                                            schema={"participant_id": pl.String}).to_arrow())
        rel = con.sql(f'SELECT * FROM {schema}."{table}" WHERE participant_id IN '
                      "(SELECT participant_id FROM _batch)")
    if schema == "core" and table != "sites":
        rel = rel.filter("record_status = 'current'").order("source_file_id, source_row")
    df = rel.pl()
    if participants is not None:
        con.unregister("_batch")
    return df if table in FILE_PARTITIONED or schema != "core" or "record_status" not in \
        df.columns else df.drop("record_status")


def _compute_by_participant(con, e: Endpoint, ctx: Context, who: set[str] | None) -> None:
    """Compute ``e`` for the participants ``who`` (None: all, the table replaced) in batches,
    replacing their rows of endpoints.<name>."""
    name = f"endpoints.{e.name}"
    if who is None:
        ids = sorted({r[0] for i in e.inputs for r in con.sql(
            f'SELECT DISTINCT participant_id FROM {i.partition(".")[0]}.'
            f'"{i.partition(".")[2]}"').fetchall() if r[0] is not None})
    else:
        ids = sorted(p for p in who if p is not None)
    batches = [ids[k:k + PARTICIPANT_BATCH] for k in range(0, len(ids), PARTICIPANT_BATCH)]
    exists = con.execute("SELECT count(*) FROM information_schema.tables WHERE "
                         "table_schema = 'endpoints' AND table_name = ?", [e.name]
                         ).fetchall()[0][0] > 0
    if who is None or not exists:  # the table anew: the first batch replaces it
        first = batches.pop(0) if batches else []
        write_table(con, name, e.compute({i: _input(con, i, first) for i in e.inputs}, ctx))
    elif ids:
        con.register("_batch", pl.DataFrame({"participant_id": ids}).to_arrow())
        con.execute(f'DELETE FROM endpoints."{e.name}" WHERE participant_id IN '
                    "(SELECT participant_id FROM _batch)")
        con.unregister("_batch")
    for batch in batches:
        df = e.compute({i: _input(con, i, batch) for i in e.inputs}, ctx)
        if df.height:
            con.register("_incoming", df.to_arrow())
            con.execute(f'INSERT INTO endpoints."{e.name}" BY NAME SELECT * FROM _incoming')
            con.unregister("_incoming")


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
    endpoints) of the published warehouse, as recorded in audit.table_rows.

    Safe to retry (the publish task has retries): the run's audit rows, the build state and
    the drop of the ``work`` schema are one transaction, skipped when the build already holds
    the run; when the build file is gone because the rename was done, the published
    warehouse's own record of the run is returned (anything else is an error)."""
    if not build.exists():
        published = _published_counts(cfg.warehouse, run.run_id)
        if published is None:
            raise FileNotFoundError(f"build file {build.name} is missing and {cfg.warehouse} "
                                    f"does not record run {run.run_id} as published")
        journal(cfg.warehouse, run.run_id, "published")
        return published
    with connect(build) as con:
        if _published_counts_in(con, run.run_id) is None:
            counts = {k: v for k, v in table_counts(con).items() if not k.startswith("audit.")}
            run_row = pl.DataFrame([{
                "run_id": run.run_id, "flow_run_id": run.flow_run_id,
                "started_at": run.started_at,
                "finished_at": dt.datetime.now(dt.UTC).replace(tzinfo=None),
                "status": "published", "as_of": cfg.as_of,
                "sites": ",".join(cfg.sites) if cfg.sites else None,
                "full_refresh": cfg.full_refresh, "n_files": n_files, **run_environment(),
                "error": None,
                "trial_file_id": cfg.trial.sha256[:16] if cfg.trial.sha256 else None,
            }], schema=RUN_SCHEMA)
            con.register("_run", run_row.to_arrow())
            con.register("_rows", pl.DataFrame({"run_id": [run.run_id] * len(counts),
                                                "table_name": list(counts),
                                                "n_rows": list(counts.values())}).to_arrow())
            con.execute("BEGIN TRANSACTION")
            run_sql(con, "audit/record_run.sql")
            run_sql(con, "incremental/build_state.sql")
            con.execute("DROP SCHEMA IF EXISTS work CASCADE")
            con.execute("COMMIT")
        counts = _published_counts_in(con, run.run_id)
        con.execute("CHECKPOINT")
    os.replace(build, cfg.warehouse)
    journal(cfg.warehouse, run.run_id, "published")  # the journal outlives a restored warehouse
    return counts


def _published_counts_in(con: duckdb.DuckDBPyConnection, run_id: str) -> dict[str, int] | None:
    """Rows per table recorded for ``run_id`` as published (audit.table_rows), else None."""
    rows = con.execute(sql_text("audit/published_run_rows.sql"), [run_id]).fetchall()
    return {name: n for name, n in rows if name is not None} if rows else None


def _published_counts(warehouse: Path, run_id: str) -> dict[str, int] | None:
    if not warehouse.exists():
        return None
    with connect(warehouse, read_only=True) as con:
        return _published_counts_in(con, run_id)


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
