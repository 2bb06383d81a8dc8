"""DuckDB helpers: SQL files from ``sql/``, connections, and tables in and out as polars."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import duckdb
import polars as pl

from isletflow.config import SQL_DIR
from isletflow.trial import Trial

LAYERS = ("raw", "core", "quality", "endpoints", "audit")


def sql_text(name: str) -> str:
    """The text of ``sql/<name>`` (e.g. ``core/03_cgm_readings.sql``)."""
    return (SQL_DIR / name).read_text(encoding="utf-8")


def run_sql(con: duckdb.DuckDBPyConnection, name: str, params: dict | None = None) -> None:
    """Run every statement of ``sql/<name>`` with named parameters (``$files``)."""
    if params:
        for stmt in _statements(sql_text(name)):
            con.execute(stmt, {k: v for k, v in params.items() if f"${k}" in stmt})
    else:
        con.execute(sql_text(name))


def _statements(text: str) -> list[str]:
    body = "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("--"))
    return [s.strip() for s in body.split(";") if s.strip()]


def sql_files(folder: str) -> list[str]:
    """The SQL files of ``sql/<folder>`` in run order (their numeric prefixes)."""
    return [f"{folder}/{p.name}" for p in sorted((SQL_DIR / folder).glob("*.sql"))]


def connect(path: Path, read_only: bool = False) -> duckdb.DuckDBPyConnection:
    """Open a warehouse file; read-only connections never block the nightly build.

    Writers load in parallel without keeping insertion order (measured: the raw CGM load
    takes about half the time); no table's row order is a contract, every query that needs
    an order says so (lineage columns make any row findable)."""
    con = duckdb.connect(str(path), read_only=read_only)
    if not read_only:
        con.execute("SET preserve_insertion_order = false")
        # DuckDB's buffer pool grows to 80 % of RAM unless limited: a cap keeps the night's
        # peak memory bounded (operators past it spill to disk next to the file)
        con.execute("SET memory_limit = ?", [os.environ.get("ISLETFLOW_DUCKDB_MEMORY",
                                                            DUCKDB_MEMORY)])
    return con


# DuckDB's memory cap for the build (environment ISLETFLOW_DUCKDB_MEMORY overrides it)
DUCKDB_MEMORY = "2GB"


def read_table(con: duckdb.DuckDBPyConnection, name: str, order_by: str | None = None,
               where: str | None = None) -> pl.DataFrame:
    """A table as a polars frame (``name`` = ``schema.table``): the rows ``where`` keeps
    (a fixed filter of the caller's, never user input), in ``order_by`` order when given
    (floating-point sums depend on row order: a fixed order makes reruns bit-identical)."""
    rel = con.table(name)
    rel = rel.filter(where) if where else rel
    return (rel.order(order_by) if order_by else rel).pl()


def write_table(con: duckdb.DuckDBPyConnection, name: str, df: pl.DataFrame) -> None:
    """Create or replace table ``name`` with the contents of ``df``."""
    con.register("_incoming", df.to_arrow())
    try:
        con.execute(sql_text("endpoints/replace_table.sql").replace("{table}", _ident(name)))
    finally:
        con.unregister("_incoming")


def _ident(name: str) -> str:
    schema, _, table = name.partition(".")
    if schema not in LAYERS or not table.replace("_", "").isalnum():
        raise ValueError(f"not a warehouse table name: {name!r}")
    return f'{schema}."{table}"'


def table_counts(con: duckdb.DuckDBPyConnection) -> dict[str, int]:
    """Rows per table of every warehouse layer, as ``{schema.table: n}``."""
    tables = con.sql(sql_text("audit/list_tables.sql")).fetchall()
    return {f"{s}.{t}": con.table(f'{s}."{t}"').count("*").fetchall()[0][0] for s, t in tables}


def table_digests(path: Path, schemas: tuple[str, ...] = ("endpoints",)) -> dict[str, str]:
    """sha256 of every table's full contents (rows sorted), per table of ``schemas``: equal
    digests mean equal tables, whatever the physical order or file layout."""
    out = {}
    with connect(path, read_only=True) as con:
        for schema, table in con.sql(sql_text("audit/list_tables.sql")).fetchall():
            if schema in schemas:
                df = con.table(f'{schema}."{table}"').pl()
                rows = df.sort(df.columns, nulls_last=True).rows() if df.width else []
                out[f"{schema}.{table}"] = hashlib.sha256(repr(rows).encode()).hexdigest()
    return out


def load_raw(con: duckdb.DuckDBPyConnection, fmt: str, partitions: list[str]) -> None:
    """The raw rows of the staged ``partitions`` (paths) of export format ``fmt``: CGM exports
    (``dexcom_clarity``, ``libreview``) as a view over the partitions (one text copy of the
    readings, sql/raw/load_dexcom_clarity.sql), every other format inserted into its table."""
    if fmt not in CGM_VIEWS:
        run_sql(con, f"raw/load_{fmt}.sql", {"files": partitions})
        return
    listed = "[" + ", ".join("'" + p.replace("'", "''") + "'" for p in partitions) + "]"
    kind = con.execute("SELECT table_type FROM information_schema.tables WHERE "
                       "table_schema = 'raw' AND table_name = ?", [fmt]).fetchall()
    if kind and kind[0][0] == "BASE TABLE":  # (the empty table of raw/tables.sql)
        con.execute(f"DROP TABLE raw.{fmt}")
    con.execute(sql_text(f"raw/load_{fmt}.sql").replace("{files}", listed))


# Export formats whose raw rows are a view over their staged Parquet partitions.
CGM_VIEWS = ("dexcom_clarity", "libreview")


def load_trial_rows(con: duckdb.DuckDBPyConnection, trial: Trial, file_id: str) -> None:
    """The trial definition as rows of raw.trial_* (sql/raw/load_trial.sql)."""
    tables = trial.tables(file_id)
    for name, df in tables.items():
        con.register(f"_{name}", df.to_arrow())
    try:
        run_sql(con, "raw/load_trial.sql")
    finally:
        for name in tables:
            con.unregister(f"_{name}")
