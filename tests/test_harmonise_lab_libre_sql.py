"""Core SQL on tiny raw tables: LibreView time formats, German values, lab unit conversions."""

from __future__ import annotations

import datetime as dt

import duckdb
import polars as pl
import pytest

from nightly_steps import load_sample_trial
from isletflow.warehouse import run_sql, write_table


def warehouse(site: str, participant: str | None = "GB01-001") -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    for name in ("schemas.sql", "audit/tables.sql", "raw/tables.sql", "quality/tables.sql"):
        run_sql(con, name)
    load_sample_trial(con)
    con.execute("CREATE TABLE core.participants (participant_id VARCHAR, site_id VARCHAR)")
    con.execute("INSERT INTO core.participants VALUES (?, ?)", [participant, site])
    con.execute("INSERT INTO audit.files VALUES ('f000000000000001', 'x', ?, 'cgm', 'p', ?, 1, "
                "TIMESTAMP '2025-01-01', 'x', 'r')", [site, participant])
    return con


def load(con, table: str, rows: dict) -> None:
    n = len(next(iter(rows.values())))
    df = pl.DataFrame({"file_id": ["f000000000000001"] * n, "row_number": list(range(3, 3 + n)),
                       **rows})
    con.register("_raw", df.to_arrow())
    con.execute(f"INSERT INTO raw.{table} BY NAME SELECT * FROM _raw")


def cgm(con) -> pl.DataFrame:
    run_sql(con, "core/01b_quarantined_files.sql")
    run_sql(con, "core/03_cgm_readings.sql")
    return con.sql("SELECT * FROM core.cgm_readings ORDER BY source_row").pl()


def test_libreview_day_first_and_us_am_pm_times_and_record_types():
    con = warehouse("GB01")
    load(con, "libreview", {
        "device_timestamp": ["27-10-2024 01:45", "27-10-2024 01:15", "03-04-2024 10:00",
                             "11-03-2024 01:30 PM"],
        "record_type": ["0", "0", "1", "0"],
        "historic_glucose": ["6.2", "5.0", None, "10.0"],
        "scan_glucose": [None, None, "7.0", None],
        "glucose_unit": ["mmol/L"] * 4, "decimal_mark": ["."] * 4,
    })
    out = cgm(con)
    assert out["device"].to_list() == ["libre_historic", "libre_historic", "libre_scan",
                                       "libre_historic"]
    assert out["interval_min"].to_list() == [15, 15, None, 15]
    assert out["timestamp_local"].to_list() == [
        dt.datetime(2024, 10, 27, 1, 45), dt.datetime(2024, 10, 27, 1, 15),
        dt.datetime(2024, 4, 3, 10, 0),        # day-first: 3 April, not 4 March
        dt.datetime(2024, 11, 3, 13, 30)]      # MM-DD-YYYY hh:mm PM: 3 November
    # London, 27 Oct 2024: 01:45 BST (UTC+1), then after the clocks went back 01:15 GMT
    assert out["timestamp_utc"].to_list()[:2] == [dt.datetime(2024, 10, 27, 0, 45),
                                                  dt.datetime(2024, 10, 27, 1, 15)]
    # 6.2 x 18.018 = 111.7 -> 112; 5.0 -> 90.09 -> 90; 7.0 -> 126.1 -> 126; 10.0 -> 180.18 -> 180
    assert out["glucose_mg_dl"].to_list() == [112.0, 90.0, 126.0, 180.0]


def test_toronto_spring_forward_keeps_five_minute_steps():
    con = warehouse("CA01", "CA01-001")
    # 10 Mar 2024, America/Toronto: 02:00 EST becomes 03:00 EDT
    load(con, "dexcom_clarity", {
        "timestamp": ["2024-03-10T01:55:00", "2024-03-10T03:00:00", "2024-03-10T03:05:00"],
        "event_type": ["EGV"] * 3, "glucose_value": ["5.5", "Low", "High"],
        "glucose_unit": ["mmol/L"] * 3, "decimal_mark": ["."] * 3,
    })
    out = cgm(con)
    assert out["timestamp_utc"].to_list() == [dt.datetime(2024, 3, 10, 6, 55),
                                              dt.datetime(2024, 3, 10, 7, 0),
                                              dt.datetime(2024, 3, 10, 7, 5)]
    assert out["glucose_mg_dl"].to_list() == [99.0, 40.0, 400.0]


def test_german_decimal_comma_and_words():
    con = warehouse("DE01", "DE01-001")
    load(con, "dexcom_clarity", {
        "timestamp": ["2024-05-01T10:00:00", "2024-05-01T10:05:00", "2024-05-01T10:10:00"],
        "event_type": ["EGV"] * 3, "glucose_value": ["5,5", "Niedrig", "Hoch"],
        "glucose_unit": ["mmol/L"] * 3, "decimal_mark": [","] * 3,
    })
    out = cgm(con)
    assert out["glucose_mg_dl"].to_list() == [99.0, 40.0, 400.0]
    assert out["censored"].to_list() == [None, "low", "high"]


def test_cgm_file_of_an_unknown_or_misplaced_participant_stays_out_of_core():
    con = warehouse("US01", "CA01-002")  # enrolled at US01 here, file says CA01-002 at US01
    con.execute("UPDATE core.participants SET site_id = 'CA01'")
    load(con, "dexcom_clarity", {"timestamp": ["2024-05-01T10:00:00"], "event_type": ["EGV"],
                                 "glucose_value": ["100"], "glucose_unit": ["mg/dL"],
                                 "decimal_mark": ["."]})
    assert cgm(con).height == 0
    assert con.sql("SELECT rule FROM quality.quarantined_files").fetchall() == [("wrong_site",)]


@pytest.mark.parametrize("analyte,result,unit,mark,expected", [
    ("HBA1C", "6.4", "%", ".", 6.4),
    ("HBA1C", "53", "mmol/mol", ".", 0.0915 * 53 + 2.15),   # 7.0995 %
    ("HBA1C", "48", "mmol/mol", ",", 0.0915 * 48 + 2.15),   # 6.542 %
    ("CPEP_FAST", "450", "pmol/L", ".", 450.0),
    ("CPEP_FAST", "0.45", "nmol/L", ".", 450.0),
    ("CPEP_FAST", "1,52", "ng/mL", ",", 1.52 * 331),        # 503.12 pmol/L
    ("ANC", "3100", "cells/mm3", ".", 3100.0),
    ("ANC", "0.64", "10^9/L", ".", 640.0),
    ("ANC", "0,95", "G/l", ",", 950.0),
    ("ANC", "3.4", "x10^9/L", ".", 3400.0),
])
def test_lab_units_are_converted_and_the_original_kept(analyte, result, unit, mark, expected):
    con = warehouse("DE01", "DE01-001")
    load(con, "central_lab", {"subject_id": ["DE01-001"], "visit": ["day_90"],
                              "collection_date": ["2024-06-03"], "test_code": [analyte],
                              "test_name": ["x"], "result": [result], "unit": [unit],
                              "decimal_mark": [mark]})
    run_sql(con, "core/09_lab_results.sql")
    row = con.sql("SELECT * FROM core.lab_results").pl().row(0, named=True)
    assert row["value"] == pytest.approx(expected, rel=1e-12)
    assert (row["value_original"], row["unit_original"]) == (result, unit)
    assert row["unit"] == {"HBA1C": "%", "CPEP_FAST": "pmol/L", "ANC": "cells/mm3"}[analyte]


def test_unknown_lab_unit_gives_no_value():
    con = warehouse("US01", "US01-001")
    load(con, "central_lab", {"subject_id": ["US01-001"], "visit": ["day_90"],
                              "collection_date": ["2024-06-03"], "test_code": ["HBA1C"],
                              "test_name": ["x"], "result": ["6.1"], "unit": ["mg/dL"],
                              "decimal_mark": ["."]})
    run_sql(con, "core/09_lab_results.sql")
    assert con.sql("SELECT value FROM core.lab_results").fetchall() == [(None,)]
