"""GX suites run on the columns they read only (isletflow/quality.py gx_columns): a row
condition's column (lab_results: the analyte) is one of them, so a chunk of a table validated
without its other columns still finds what the whole table would."""

from __future__ import annotations

import datetime as dt

import polars as pl

from isletflow.quality import gx_columns, gx_issues
from schemas.gx_suites import GX_SUITES


def lab_frame() -> pl.DataFrame:
    # HbA1c 25 % is outside 3-20 %; 25 pmol/L fasting C-peptide is inside 0-5000: only the
    # analyte (a column no expectation names, only a row condition) tells them apart
    return pl.DataFrame({
        "participant_id": ["US01-001", "US01-001", "US01-002"],
        "analyte": ["hba1c", "c_peptide_fasting", "hba1c"],
        "value": [25.0, 25.0, 6.5],
        "collection_date": [dt.date(2025, 1, 2)] * 3,
        "unit": ["%", "pmol/L", "%"],
        "accession": ["A1", "A2", "A3"],
        "source_file_id": ["f1", "f1", "f1"],
        "source_row": [2, 3, 4],
    })


def test_row_condition_columns_are_read():
    assert gx_columns(GX_SUITES["lab_results"], lab_frame().columns) == [
        "analyte", "value", "collection_date"]
    assert gx_columns(GX_SUITES["cgm_readings"], ["participant_id", "device", "glucose_mg_dl",
                                                  "timestamp_utc", "censored"]) == [
        "participant_id", "glucose_mg_dl", "timestamp_utc"]


def test_only_the_out_of_range_analyte_is_an_issue():
    issues = gx_issues(lab_frame(), GX_SUITES["lab_results"], "lab_results")
    assert issues.select("source_row", "column_name", "value").rows() == [(2, "value", "25.0")]
    assert "hba1c value is outside the plausible range 3 to 20" in issues["message"][0]
