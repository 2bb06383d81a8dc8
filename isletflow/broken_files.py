"""Broken files: set aside a file most of whose rows fail the same rule, with one query.

A Clarity export re-saved by Excel has every timestamp as ``M/D/YYYY HH:MM``: one query per
reading would bury the site's listing under tens of thousands of lines that all say the same.
Instead the file's rows of that table are set aside (the file is recorded in
``quality.quarantined_files``; every row of it in that core table moves to
``quality.quarantined_rows``; a whole-project REDCap export keeps its other forms) with one
file-level query
(rule ``broken_file``) that says what the failing values look like and what to ask the site.
The row issues stay in ``quality.issues``; the listing (``quality.site_queries``) shows the
first of them per file and rule plus a count. The SQL and its definitions are in
``sql/quality/broken_files/``.
"""

from __future__ import annotations

import duckdb
import polars as pl

from isletflow.warehouse import run_sql, sql_text
from schemas.core import CORE_MODELS

# A file is broken when, for one core table and one rule, at least MIN_FAILING_ROWS of its rows
# fail the rule and they are at least MIN_FAILING_SHARE of its rows of that table. 20 rows: a
# few bad rows in a short file (a lab file of 3 results, 2 of them wrong) stay row queries the
# site answers one by one; 50 %: a file with a bad minority of rows still loads its good rows.
MIN_FAILING_ROWS = 20
MIN_FAILING_SHARE = 0.5


def set_aside_broken_files(con: duckdb.DuckDBPyConnection, moved: dict[str, int]) -> list[str]:
    """Find the broken files among the row issues in quality.issues, record each with one
    file-level query, and move their rows of the broken table out of core (counted in
    ``moved``; a whole-project REDCap export keeps its other forms). Returns the file ids."""
    tables = list(CORE_MODELS)
    sizes = pl.concat([con.sql(sql_text("quality/broken_files/file_rows.sql")
                               .replace("{table}", t)).pl() for t in tables])
    con.register("_file_rows", sizes.to_arrow())
    try:
        run_sql(con, "quality/broken_files/find.sql",
                {"min_rows": MIN_FAILING_ROWS, "min_share": MIN_FAILING_SHARE})
    finally:
        con.unregister("_file_rows")
    broken = [r[0] for r in con.sql("SELECT file_id FROM broken_files ORDER BY 1").fetchall()]
    for t in tables if broken else ():
        before = con.table(f"core.{t}").count("*").fetchall()[0][0]
        con.execute(sql_text("quality/broken_files/set_aside.sql").replace("{table}", t))
        moved[t] = moved.get(t, 0) + before - con.table(f"core.{t}").count("*").fetchall()[0][0]
    con.execute("DROP TABLE broken_files")
    return broken
