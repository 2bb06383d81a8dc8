"""What a night changed, for the run's Prefect artifacts: files, rows, quarantine, endpoints.

Only counts, site ids, trial participant ids and endpoint values go in; never file names
(a site's free text after ``<participant>__`` could name the patient) or file content.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from isletflow.warehouse import connect, sql_text

CHANGE_SCHEMA = {"participant": pl.String, "measure": pl.String, "previous": pl.String,
                 "now": pl.String}


def _long(summary: pl.DataFrame) -> pl.DataFrame:
    measures = [c for c in summary.columns if c != "participant"]
    return (summary.with_columns(pl.col(measures).cast(pl.String))
            .unpivot(measures, index="participant", variable_name="measure",
                     value_name="value"))


def endpoint_changes(previous: pl.DataFrame | None, current: pl.DataFrame) -> pl.DataFrame:
    """Every (participant, measure) of the endpoint summary whose value differs between the
    previously published warehouse and this run, including participants new to the summary.
    With no previous warehouse, nothing is a change (the first run has nothing to compare)."""
    if previous is None:
        return pl.DataFrame(schema=CHANGE_SCHEMA)
    joined = _long(previous).join(_long(current), on=["participant", "measure"], how="full",
                                  coalesce=True, suffix="_now")
    return (joined.filter(pl.col("value").ne_missing(pl.col("value_now")))
            .select("participant", "measure", previous="value", now="value_now")
            .sort("participant", "measure"))


def endpoint_summary(warehouse: Path) -> pl.DataFrame | None:
    """The per-participant endpoint summary of a published warehouse (None if there is none
    or it predates the summary table)."""
    import duckdb

    if not warehouse.exists():
        return None
    try:
        with connect(warehouse, read_only=True) as con:
            return con.sql(sql_text("endpoints/summary_view.sql")).pl()
    except duckdb.Error:
        return None


def files_not_loaded(warehouse: Path) -> int:
    """Files of the published warehouse that did not load, as its table by site counts them
    (quality/quarantine_by_site.sql: landing problems, unreadable files, files set aside
    whole), so the run's summary, the artifact and the table say the same number."""
    with connect(warehouse, read_only=True) as con:
        return int(con.sql(sql_text("quality/quarantine_by_site.sql")).pl()
                   ["files_not_loaded"].sum())


def night_plan(warehouse: Path) -> dict:
    """How the published night was built (audit.build_state, isletflow/build.py plan_night):
    ``night`` full / incremental / unchanged, ``reason``, and the CGM files whose rows it built
    and kept as published."""
    with connect(warehouse, read_only=True) as con:
        rows = con.sql(sql_text("incremental/read_night_plan.sql")).pl().to_dicts()
    return rows[0] if rows else {}


def _cell(v: object) -> str:
    if v is None:
        return "–"
    return f"{v:,}" if isinstance(v, int) and not isinstance(v, bool) else str(v)


def _md_table(df: pl.DataFrame) -> str:
    if df.height == 0:
        return "_none_\n"
    lines = ["| " + " | ".join(df.columns) + " |", "|" + "---|" * df.width]
    lines += ["| " + " | ".join(_cell(v) for v in row) + " |" for row in df.iter_rows()]
    return "\n".join(lines) + "\n"


def run_markdown(summary: dict, warehouse: Path, changes: pl.DataFrame,
                 data_docs: Path | None) -> str:
    """The markdown artifact of one run, read from the warehouse it just published. Files
    not loaded are counted as in its table by site (quality/quarantine_by_site.sql: landing
    problems, unreadable files, and files set aside whole)."""
    run_id = summary["run_id"]
    with connect(warehouse, read_only=True) as con:
        files = con.sql(sql_text("audit/run_files_by_site.sql"), params={"run": run_id}).pl()
        quarantine = con.sql(sql_text("quality/quarantine_by_site.sql")).pl()
    rows = pl.DataFrame({"table": list(summary["table_rows"]),
                         "rows": list(summary["table_rows"].values())})
    layers = (rows.with_columns(layer=pl.col("table").str.split(".").list.first())
              .group_by("layer", maintain_order=True)
              .agg(tables=pl.len(), rows=pl.col("rows").sum()))
    parts = [
        f"# Nightly run `{run_id}`\n",
        f"Published `{warehouse.name}`: {summary['files']} files "
        f"({summary['files_cached']} unchanged and not re-read), "
        f"{quarantine['files_not_loaded'].sum()} not loaded, "
        f"{sum(summary['rows_quarantined'].values())} rows quarantined.\n",
        "## Files by site\n", _md_table(files),
        "## Rows per layer\n", _md_table(layers),
        "## Quarantine and data queries by site\n", _md_table(quarantine),
        "## Endpoint values changed since the previous run\n", _md_table(changes),
    ]
    if data_docs is not None:
        parts += ["## Validation\n",
                  f"Great Expectations Data Docs: [{data_docs}]({data_docs.as_uri()})\n"]
    return "\n".join(parts)
