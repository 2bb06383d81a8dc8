"""sql/core/03_cgm_readings.sql on a tiny raw table: units, censoring, local time -> UTC."""

from __future__ import annotations

import datetime as dt

import duckdb
import polars as pl
import pytest

from nightly_steps import load_sample_trial
from isletflow.warehouse import run_sql, write_table


def harmonise(site: str, rows: list[tuple[str, str]], unit: str = "mg/dL") -> pl.DataFrame:
    """Run the core CGM SQL on EGV rows (local timestamp, glucose text) of one file."""
    con = duckdb.connect()
    run_sql(con, "schemas.sql")
    run_sql(con, "audit/tables.sql")
    run_sql(con, "raw/tables.sql")
    run_sql(con, "quality/tables.sql")
    load_sample_trial(con)
    con.execute("INSERT INTO audit.files VALUES ('f000000000000001', 'x', ?, 'cgm', 'p', "
                "'US01-001', 1, TIMESTAMP '2025-01-01', 'dexcom_clarity', 'r')", [site])
    raw = pl.DataFrame({
        "file_id": "f000000000000001", "row_number": list(range(10, 10 + len(rows))),
        "timestamp": [t for t, _ in rows], "event_type": "EGV", "glucose_value": [g for _, g in rows],
        "glucose_unit": unit,
    })
    con.register("_raw", raw.to_arrow())
    con.execute("INSERT INTO raw.dexcom_clarity BY NAME SELECT * FROM _raw")
    run_sql(con, "core/03_cgm_readings.sql")
    run_sql(con, "resolve/00_cgm_status_column.sql")
    run_sql(con, "resolve/01_cgm_overlaps.sql")
    return con.sql("SELECT * FROM core.cgm_readings ORDER BY source_row").pl()


def utc(s: str) -> dt.datetime:
    return dt.datetime.fromisoformat(s)


def test_chicago_clocks_go_back_no_hour_lost_or_doubled():
    # 3 Nov 2024, America/Chicago: 01:00-01:59 happens twice (CDT = UTC-5, then CST = UTC-6)
    local = ["2024-11-03T01:50:00", "2024-11-03T01:55:00",   # CDT, first pass
             "2024-11-03T01:00:00", "2024-11-03T01:05:00",   # CST, second pass
             "2024-11-03T01:55:00", "2024-11-03T02:00:00"]
    out = harmonise("US01", [(t, "100") for t in local])
    assert out["timestamp_utc"].to_list() == [
        utc("2024-11-03 06:50"), utc("2024-11-03 06:55"),
        utc("2024-11-03 07:00"), utc("2024-11-03 07:05"),
        utc("2024-11-03 07:55"), utc("2024-11-03 08:00")]
    assert out["record_status"].unique().to_list() == ["current"]


def test_berlin_clocks_go_forward_and_a_non_existent_time_reads_as_standard_time():
    # 31 Mar 2024, Europe/Berlin: 02:00-02:59 does not exist (CET = UTC+1 -> CEST = UTC+2)
    out = harmonise("DE01", [("2024-03-31T01:55:00", "100"), ("2024-03-31T03:00:00", "100"),
                             ("2024-03-31T02:30:00", "100")])
    assert out["timestamp_utc"].to_list() == [utc("2024-03-31 00:55"), utc("2024-03-31 01:00"),
                                              utc("2024-03-31 01:30")]


def test_berlin_clocks_go_back_on_another_date_than_north_america():
    # 27 Oct 2024, Europe/Berlin: 02:00-02:59 twice (CEST = UTC+2, then CET = UTC+1)
    out = harmonise("DE01", [("2024-10-27T02:55:00", "100"), ("2024-10-27T02:00:00", "100")])
    assert out["timestamp_utc"].to_list() == [utc("2024-10-27 00:55"), utc("2024-10-27 01:00")]
    # the same wall-clock times in Chicago that day are ordinary CDT (UTC-5)
    out = harmonise("US01", [("2024-10-27T02:55:00", "100")])
    assert out["timestamp_utc"].to_list() == [utc("2024-10-27 07:55")]


def test_low_high_are_censored_boundary_values_and_mmol_is_converted():
    out = harmonise("CA01", [("2024-06-01T10:00:00", "Low"), ("2024-06-01T10:05:00", "High"),
                             ("2024-06-01T10:10:00", "5.5")], unit="mmol/L")
    assert out["censored"].to_list() == ["low", "high", None]
    # 5.5 mmol/L x 18.018 = 99.099 -> 99 mg/dL
    assert out["glucose_mg_dl"].to_list() == [40.0, 400.0, 99.0]
    assert out["glucose_original"].to_list() == ["Low", "High", "5.5"]


def test_a_repeated_reading_in_one_file_is_an_overlap_not_dropped():
    out = harmonise("US01", [("2024-06-01T10:00:00", "100"), ("2024-06-01T10:00:00", "100")])
    assert out["record_status"].to_list() == ["current", "overlap"]


@pytest.mark.parametrize("text", ["abc", ""])
def test_unparseable_glucose_becomes_null_for_the_contract_to_catch(text):
    out = harmonise("US01", [("2024-06-01T10:00:00", text)])
    assert out["glucose_mg_dl"].to_list() == [None]


def test_overlapping_exports_of_a_receiver_left_on_summer_time_agree_on_every_reading():
    """A receiver at a Berlin site whose clock stayed on summer time after the site's
    fall-back (2024-10-27): file A covers 20-27 Oct, file B 23 Oct - 3 Nov. A reading in both
    files must get the same UTC time in both, or the overlap would count it twice."""
    t0 = dt.datetime(2024, 10, 20)

    def egv(start: dt.datetime, end: dt.datetime) -> list[tuple[str, int]]:
        n = int((end - start).total_seconds() // 300)
        return [((start + dt.timedelta(minutes=5 * i)).strftime("%Y-%m-%dT%H:%M:%S"),
                 int((start - t0).total_seconds()) + 300 * i + 100_000) for i in range(n)]

    con = duckdb.connect()
    for name in ("schemas.sql", "audit/tables.sql", "raw/tables.sql", "quality/tables.sql"):
        run_sql(con, name)
    load_sample_trial(con)
    files = {"fa00000000000001": (egv(t0, dt.datetime(2024, 10, 27)), "2024-10-27"),
             "fb00000000000002": (egv(dt.datetime(2024, 10, 23), dt.datetime(2024, 11, 3)),
                                  "2024-11-03")}
    for fid, (rows, received) in files.items():
        con.execute("INSERT INTO audit.files VALUES (?, ?, 'DE01', 'cgm', ?, 'DE01-001', 1, ?, "
                    "'dexcom_clarity', 'r')", [fid, fid, f"DE01/cgm/DE01-001__{fid}.csv",
                                               dt.datetime.fromisoformat(received)])
        con.register("_raw", pl.DataFrame({
            "file_id": fid, "row_number": list(range(2, len(rows) + 2)),
            "timestamp": [t for t, _ in rows], "event_type": "EGV", "glucose_value": "100",
            "glucose_unit": "mg/dL", "transmitter_time": [str(tt) for _, tt in rows]}).to_arrow())
        con.execute("INSERT INTO raw.dexcom_clarity BY NAME SELECT * FROM _raw")
        con.unregister("_raw")
    run_sql(con, "core/03_cgm_readings.sql")
    run_sql(con, "resolve/00_cgm_status_column.sql")
    run_sql(con, "resolve/01_cgm_overlaps.sql")
    disagree = con.sql("SELECT count(*) FROM core.cgm_readings AS a JOIN core.cgm_readings AS b "
                       "USING (timestamp_local) WHERE a.source_file_id < b.source_file_id "
                       "AND a.timestamp_utc <> b.timestamp_utc").fetchall()[0][0]
    assert disagree == 0
    # 14 days x 288 readings a day, each counted once
    assert con.sql("SELECT count(*) FROM core.cgm_readings "
                   "WHERE record_status = 'current'").fetchall()[0][0] == 14 * 288



def test_a_receiver_set_back_a_week_late_keeps_each_reading_at_one_utc_in_every_export():
    """A Berlin receiver left on summer time after the site's fall-back (27 Oct) until the user
    set it back on 2 Nov (09:00 UTC): readings 5 minutes apart, the receiver's local time and
    transmitter time as a G6 writes them. Exports A (20 Oct - 3 Nov, local dates) and B (28 Oct
    - 9 Nov) both hold the hour the clock repeated; each reading must get one UTC time. (The
    week the receiver ran an hour ahead of the site cannot be placed right from the site's
    zone; what matters is that both exports place it alike.)"""
    t0, fix = dt.datetime(2024, 10, 19, 22, 0, 17), dt.datetime(2024, 11, 2, 9, 0)
    readings = []  # (local text, value, transmitter time); a G6 reads every 5 min +- seconds
    for i in range(12 * 24 * 22):
        u = t0 + dt.timedelta(minutes=5 * i, seconds=(i * i * 31 + i // 12) % 4)
        local = u + dt.timedelta(hours=2 if u < fix else 1)
        readings.append((local.strftime("%Y-%m-%dT%H:%M:%S"), str(60 + i % 300), 10_000 + 300 * i))
    readings.sort()
    files = {"fa00000000000001": ("2024-10-20", "2024-11-04", "2024-11-04"),
             "fb00000000000002": ("2024-10-28", "2024-11-10", "2024-11-10")}
    con = duckdb.connect()
    for name in ("schemas.sql", "audit/tables.sql", "raw/tables.sql", "quality/tables.sql"):
        run_sql(con, name)
    load_sample_trial(con)
    for fid, (a, b, received) in files.items():
        rows = [r for r in readings if a <= r[0] < b]
        con.execute("INSERT INTO audit.files VALUES (?, ?, 'DE01', 'cgm', ?, 'DE01-001', 1, ?, "
                    "'dexcom_clarity', 'r')", [fid, fid, f"DE01/cgm/DE01-001__{fid}.csv",
                                               dt.datetime.fromisoformat(received)])
        con.register("_raw", pl.DataFrame({
            "file_id": fid, "row_number": list(range(2, len(rows) + 2)),
            "timestamp": [r[0] for r in rows], "event_type": "EGV",
            "glucose_value": [r[1] for r in rows], "glucose_unit": "mg/dL",
            "transmitter_time": [str(r[2]) for r in rows]}).to_arrow())
        con.execute("INSERT INTO raw.dexcom_clarity BY NAME SELECT * FROM _raw")
        con.unregister("_raw")
    run_sql(con, "core/03_cgm_readings.sql")
    run_sql(con, "resolve/00_cgm_status_column.sql")
    run_sql(con, "resolve/01_cgm_overlaps.sql")
    # the same reading (local time and value) in both exports: one UTC time
    assert con.sql("SELECT count(*) FROM core.cgm_readings AS a JOIN core.cgm_readings AS b "
                   "USING (timestamp_local, glucose_original) WHERE a.source_file_id < "
                   "b.source_file_id AND a.timestamp_utc <> b.timestamp_utc").fetchall() == [(0,)]
    # and a re-export never looks like a correction of the first: no value is superseded
    assert con.sql("SELECT count(*) FROM core.cgm_readings WHERE record_status = 'superseded'"
                   ).fetchall() == [(0,)]
