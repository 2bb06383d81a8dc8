"""Turn contract failures (pandera, Great Expectations) into row-level quality issues.

Pure functions: a frame and a contract in, a frame of issues out. Every issue names the row
by its lineage (source file id, line number) so the data manager can send it back to the site.
"""

from __future__ import annotations

import re

import functools

import pandas as pd
import pandera.polars as pa
import polars as pl

ISSUE_SCHEMA = {
    "table_name": pl.String, "source_file_id": pl.String, "source_row": pl.Int64,
    "rule": pl.String, "severity": pl.String, "column_name": pl.String, "value": pl.String,
    "message": pl.String, "site_id": pl.String, "file": pl.String,
}


class ContractError(RuntimeError):
    """A core table breaks its contract as a whole (a missing column, a wrong type): a bug in
    harmonisation, not a bad row, so the run stops instead of quarantining everything."""


def empty_issues() -> pl.DataFrame:
    return pl.DataFrame(schema=ISSUE_SCHEMA)


def conform(df: pl.DataFrame) -> pl.DataFrame:
    """``df`` with exactly the issue columns, in order (absent ones null)."""
    return df.select([pl.col(c).cast(t) if c in df.columns else pl.lit(None, t).alias(c)
                      for c, t in ISSUE_SCHEMA.items()])


def pandera_issues(df: pl.DataFrame, model: type[pa.DataFrameModel] | pa.DataFrameSchema,
                   table: str) -> pl.DataFrame:
    """One issue per (row, check) of ``df`` that fails ``model`` (a model class or a schema,
    schemas/core.py core_contracts); empty when all rows pass."""
    name = model.name if isinstance(model, pa.DataFrameSchema) else model.__name__
    try:
        model.validate(df, lazy=True)
        return empty_issues()
    except pa.errors.SchemaErrors as err:
        fc = err.failure_cases
    whole = fc.filter(pl.col("index").is_null())
    if whole.height:
        raise ContractError(f"core.{table} breaks its contract {name}: "
                            + "; ".join(f"{r['column']}: {r['check']} ({r['failure_case']})"
                                        for r in whole.iter_rows(named=True)))
    lineage = df.select("source_file_id", "source_row").with_row_index("index")
    return conform(
        fc.with_columns(pl.col("index").cast(pl.UInt32))
        .join(lineage, on="index", how="left")
        .select(
            table_name=pl.lit(table),
            source_file_id=pl.col("source_file_id"),
            source_row=pl.col("source_row"),
            rule=pl.concat_str(pl.lit("pandera:"), pl.col("check")),
            severity=pl.lit("error"),
            column_name=pl.col("column"),
            value=pl.col("failure_case").cast(pl.String),
            message=pl.format("{} failed the check {} of contract {}", pl.col("column"),
                              pl.col("check"), pl.lit(name)),
        )
        .sort("source_file_id", "source_row", "rule")
    )


@functools.lru_cache(maxsize=1)
def _gx_batch_definition():
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig

    context = gx.get_context(mode="ephemeral")
    # no tqdm bars on the run's output: the flow logs its own progress
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    asset = context.data_sources.add_pandas("core").add_dataframe_asset("table")
    return asset.add_batch_definition_whole_dataframe("whole_table")


def gx_columns(suite_factory, available: list[str]) -> list[str]:
    """The columns of ``available`` the suite ``suite_factory()`` reads (what a frame needs to
    be validated): each expectation's column and the columns its row condition names."""
    _gx_batch_definition()  # (a suite needs a GX context first)
    return _suite_columns(suite_factory(), available)


def _suite_columns(suite, available: list[str]) -> list[str]:
    used = set()
    for e in suite.expectations:
        if getattr(e, "column", None):
            used.add(e.column)
        condition = str(getattr(e, "row_condition", None) or "")
        used |= {c for c in available if re.search(rf"\b{re.escape(c)}\b", condition)}
    return [c for c in available if c in used]


def gx_issues(df: pl.DataFrame, suite_factory, table: str) -> pl.DataFrame:
    """One issue per (row, expectation) of ``df`` that fails the suite ``suite_factory()``.

    The frame is validated as a pandas batch; rows are identified by their lineage columns.
    (GX needs its context before a suite can be built, hence a factory, not a suite.)
    """
    if df.height == 0:
        return empty_issues()
    batch_definition = _gx_batch_definition()
    suite = suite_factory()
    # only the columns the suite reads, and the lineage (a CGM chunk as pandas: a third of
    # the memory of every column)
    used = set(_suite_columns(suite, df.columns)) | {"source_file_id", "source_row"}
    pdf: pd.DataFrame = df.select([c for c in df.columns if c in used]).to_pandas()
    batch = batch_definition.get_batch(batch_parameters={"dataframe": pdf})
    result = batch.validate(suite, result_format={
        "result_format": "COMPLETE",
        "unexpected_index_column_names": ["source_file_id", "source_row"],
    })
    rows: list[dict] = []
    for res in result.results:
        if res.success:
            continue
        cfg = res.expectation_config
        column = cfg.kwargs.get("column")
        analyte = (cfg.meta or {}).get("analyte")
        what = f"{analyte} {column}" if analyte else column
        if "min_value" in cfg.kwargs:
            lo, hi = cfg.kwargs.get("min_value"), cfg.kwargs.get("max_value")
            message = f"{what} is outside the plausible range {lo:g} to {hi:g}"
        elif cfg.type == "expect_column_values_to_not_be_null":
            message = f"{what} is missing"
        else:
            message = f"{what} failed {cfg.type}"
        for item in res.result.get("unexpected_index_list") or []:
            rows.append({
                "table_name": table, "source_file_id": item["source_file_id"],
                "source_row": int(item["source_row"]), "rule": f"gx:{cfg.type}",
                "severity": "error", "column_name": column,
                "value": None if item.get(column) is None else str(item.get(column)),
                "message": message,
            })
    return pl.DataFrame(rows, schema=ISSUE_SCHEMA).sort("source_file_id", "source_row", "rule")


class KeyViolationError(ContractError):
    """A record is counted twice: the key of a core table is not unique over its current rows
    after record identity was resolved. The run stops (an endpoint would be wrong)."""


def key_violations(current: pl.DataFrame, key: tuple[str, ...], table: str) -> pl.DataFrame:
    """The current rows of ``table`` whose key (``key`` columns) another current row shares,
    checked with pandera's multi-column uniqueness (``DataFrameSchema(unique=key)``); nulls in
    a key column compare equal. Empty when every record is counted once."""
    schema = pa.DataFrameSchema(unique=list(key), name=f"core.{table} key")
    try:
        schema.validate(current.select(*key), lazy=True)
        return current.clear()
    except pa.errors.SchemaErrors as err:
        idx = err.failure_cases["index"].drop_nulls().cast(pl.UInt32)
    return current.with_row_index("_i").filter(pl.col("_i").is_in(idx.implode())).drop("_i")


def check_keys(tables: dict[str, tuple[pl.DataFrame, tuple[str, ...]]]) -> None:
    """Raise :class:`KeyViolationError` naming every core table whose key is not unique over
    its current rows (``tables``: name -> (current rows, key columns)), with up to three
    example keys each (participant ids, dates and codes: no personal data)."""
    broken = []
    for table, (current, key) in tables.items():
        dup = key_violations(current, key, table)
        if dup.height:
            examples = dup.select(*key).unique(maintain_order=True).head(3).rows()
            broken.append(f"core.{table}: {dup.height} current rows share a key "
                          f"({', '.join(key)}), e.g. {examples}")
    if broken:
        raise KeyViolationError("record counted more than once: " + "; ".join(broken))
