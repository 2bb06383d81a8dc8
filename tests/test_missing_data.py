"""The missing-data queries (sql/quality/missing_data/, isletflow/build.py
missing_data_queries, the listing quality.site_queries) on tiny hand-made tables, each date
worked out by hand in the comments; the settings (isletflow/trial.py MissingData).

The sample trial's planted cases are checked on the whole sample trial's warehouse in
tests/test_headline.py (test_the_planted_missing_data_is_listed), whose module fixture already
builds it.
"""

from __future__ import annotations

import datetime as dt

import duckdb
import pytest

from isletflow.build import missing_data_queries
from isletflow.trial import TrialError, check_trial, load_trial
from isletflow.warehouse import run_sql
from nightly_steps import load_sample_trial

TRIAL = load_trial()  # the sample trial: N = 14, M = 14, day-0 convention
CORE = {
    "participants": "participant_id VARCHAR, site_id VARCHAR, enrolment_date DATE",
    "infusions": "participant_id VARCHAR, infusion_date DATE",
    "disposition": "participant_id VARCHAR, status VARCHAR, status_date DATE",
    "cgm_readings": "participant_id VARCHAR, timestamp_local TIMESTAMP",
    "lab_results": "participant_id VARCHAR, visit VARCHAR, collection_date DATE, "
                   "analyte VARCHAR, value DOUBLE",
    "she_events": "participant_id VARCHAR, event_date DATE",
    "insulin_diary": "participant_id VARCHAR, diary_date DATE",
    "adverse_events": "participant_id VARCHAR, onset_date DATE",
    "concomitant_medications": "participant_id VARCHAR, start_date DATE",
}


def warehouse() -> duckdb.DuckDBPyConnection:
    """Empty schemas, the sample trial's definition rows and the core columns the queries
    read (every row current unless a test says otherwise)."""
    con = duckdb.connect()
    for name in ("schemas.sql", "audit/tables.sql", "raw/tables.sql", "quality/tables.sql"):
        run_sql(con, name)
    load_sample_trial(con)
    for table, cols in CORE.items():
        con.execute(f"CREATE TABLE core.{table} ({cols}, source_file_id VARCHAR, "
                    "source_row BIGINT, record_status VARCHAR DEFAULT 'current')")
    return con


def add(con, table: str, *rows: tuple) -> None:
    cols = [c.split()[0] for c in CORE[table].split(", ")]
    for row in rows:
        con.execute(f"INSERT INTO core.{table} ({', '.join(cols)}) VALUES "
                    f"({', '.join('?' * len(row))})", list(row))


def enrol(con, pid: str = "US01-001", enrolled: str = "2024-01-01",
          infused: str | None = None) -> None:
    add(con, "participants", (pid, pid[:4], enrolled))
    if infused:
        add(con, "infusions", (pid, infused))


def listed(con, reference: str, trial=TRIAL) -> list[tuple]:
    """The missing-data lines of the listing on the reference date ``reference`` (the
    published run's as-of date): (rule, participant, value, since)."""
    missing_data_queries(con, trial)
    run_sql(con, "quality/site_queries.sql")
    con.execute("DELETE FROM audit.runs")
    con.execute("INSERT INTO audit.runs (run_id, started_at, finished_at, status, as_of, "
                "full_refresh, package_versions) VALUES ('r', TIMESTAMP '2030-01-01', "
                "TIMESTAMP '2030-01-01', 'published', ?, false, '{}')", [reference])
    return con.sql("SELECT rule, participant_id, value, since FROM quality.site_queries "
                   "WHERE participant_id IS NOT NULL ORDER BY ALL").fetchall()


def d(s: str) -> dt.date:
    return dt.date.fromisoformat(s)


# ---- (a) no CGM reading for more than N days -------------------------------------------------

def test_a_cgm_gap_of_exactly_n_days_is_no_query_and_n_plus_one_is():
    con = warehouse()
    enrol(con)
    add(con, "cgm_readings", ("US01-001", "2024-03-01 23:55:00"))
    # no reading from 2 March on: on 15 March that is 14 days (2..15), on 16 March 15 (> 14)
    assert listed(con, "2024-03-15") == []
    assert listed(con, "2024-03-16") == [("cgm_gap", "US01-001", "2024-03-01", d("2024-03-02"))]


def test_a_participant_without_any_reading_is_missing_data_since_enrolment():
    con = warehouse()
    enrol(con, enrolled="2024-01-10")
    # 10 January + 14 days = 24 January: the 15th day without a reading
    assert listed(con, "2024-01-23") == []
    assert listed(con, "2024-01-24") == [("cgm_gap", "US01-001", None, d("2024-01-10"))]


def test_a_withdrawn_participant_gets_no_query():
    con = warehouse()
    enrol(con, infused="2024-01-15")
    add(con, "cgm_readings", ("US01-001", "2024-03-01 08:00:00"))
    add(con, "disposition", ("US01-001", "withdrew", "2024-05-01"))
    # neither the CGM gap nor the day-90 visit (window to 28 April) past its window
    assert listed(con, "2025-01-01") == []


def test_follow_up_that_ended_bounds_the_gap():
    con = warehouse()
    enrol(con, "US01-001")
    enrol(con, "US01-002")
    for pid in ("US01-001", "US01-002"):
        add(con, "cgm_readings", (pid, "2024-03-01 12:00:00"))
    # US01-001 completed on 15 March: 2..15 March is 14 days, never more: no query;
    # US01-002 died on 16 March: 15 days without CGM data while on study: a query
    add(con, "disposition", ("US01-001", "completed", "2024-03-15"),
        ("US01-002", "died", "2024-03-16"))
    assert listed(con, "2025-01-01") == [("cgm_gap", "US01-002", "2024-03-01", d("2024-03-02"))]


def test_cgm_worn_in_the_analysis_windows_counts_only_their_days():
    trial = TRIAL.model_copy(update={"missing_data": TRIAL.missing_data.model_copy(
        update={"cgm_expected": "cgm_windows"})})
    con = warehouse()
    enrol(con, enrolled="2023-11-20", infused="2024-01-01")
    add(con, "cgm_readings", ("US01-001", "2023-12-31 23:55:00"))  # study day -1
    # the next window, day_90, is days 63..90: 4 March to 31 March 2024 (day 0 = 1 January,
    # a leap year); its 15th day without a reading is 18 March
    got = [r for r in listed(con, "2024-03-17", trial) if r[0] == "cgm_gap"]
    assert got == []
    got = [r for r in listed(con, "2024-03-18", trial) if r[0] == "cgm_gap"]
    assert got == [("cgm_gap", "US01-001", "2023-12-31", d("2024-03-04"))]


# ---- (b) a visit past its window with no HbA1c or no visit form -------------------------------

def test_a_visit_past_its_window_without_hba1c_or_diary():
    con = warehouse()
    enrol(con, enrolled="2023-12-01", infused="2024-01-01")
    # day_90: window days 76..104 = 17 March to 14 April 2024
    add(con, "cgm_readings", ("US01-001", "2024-04-30 12:00:00"))
    assert listed(con, "2024-04-14") == [  # still inside its window: nothing about day_90
        ("visit_no_form", "US01-001", "day_28", d("2024-02-05")),   # days 21..35
        ("visit_no_form", "US01-001", "day_56", d("2024-03-04")),   # days 49..63
        ("visit_no_hba1c", "US01-001", "screening", d("2023-12-25")),  # days -35..-7
    ]
    got = listed(con, "2024-04-15")
    assert ("visit_no_hba1c", "US01-001", "day_90", d("2024-04-14")) in got
    assert ("visit_no_form", "US01-001", "day_90", d("2024-04-14")) in got


def test_an_hba1c_labelled_with_the_visit_or_collected_in_its_window_and_a_diary_day_count():
    con = warehouse()
    enrol(con, "US01-001", enrolled="2023-12-01", infused="2024-01-01")
    enrol(con, "US01-002", enrolled="2023-12-01", infused="2024-01-01")
    for pid in ("US01-001", "US01-002"):
        add(con, "cgm_readings", (pid, "2024-04-30 12:00:00"))
        add(con, "insulin_diary", (pid, "2024-04-14"))  # the window's last day
    add(con, "lab_results", ("US01-001", "day_90", "2024-05-02", "hba1c", 6.5),  # labelled
        ("US01-002", "unscheduled", "2024-03-17", "hba1c", 6.4),               # in the window
        ("US01-002", "day_90", "2024-03-20", "anc", 3000.0))                   # not an HbA1c
    got = [r for r in listed(con, "2024-04-15") if r[2] == "day_90"]
    assert got == []


def test_a_death_before_a_window_ends_owes_no_visit():
    con = warehouse()
    enrol(con, enrolled="2023-12-01", infused="2024-01-01")
    add(con, "cgm_readings", ("US01-001", "2024-04-10 12:00:00"))
    add(con, "disposition", ("US01-001", "died", "2024-04-12"))  # day_90 ends 14 April
    assert [r for r in listed(con, "2025-01-01") if r[2] in ("day_90", "day_120")] == []


def test_a_study_completed_early_owes_the_visits_whose_window_had_opened():
    con = warehouse()
    enrol(con, enrolled="2023-12-01", infused="2024-01-01")
    add(con, "cgm_readings", ("US01-001", "2024-04-30 12:00:00"))
    # the sponsor stopped the study: completed on 1 May; day_120's window opened on 16 April
    # (day 106), day_180's opens on 15 June (day 166)
    add(con, "disposition", ("US01-001", "completed", "2024-05-01"))
    visits = {(r[0], r[2]) for r in listed(con, "2025-06-01") if r[0].startswith("visit_")}
    assert ("visit_no_form", "day_120") in visits
    assert {v for _, v in visits} & {"day_180", "day_270", "day_365"} == set()
    assert [r for r in listed(con, "2025-06-01") if r[0] == "cgm_gap"] == []


def test_a_final_status_without_its_date_owes_nothing_open_ended():
    con = warehouse()
    enrol(con, enrolled="2023-12-01", infused="2024-01-01")
    add(con, "cgm_readings", ("US01-001", "2024-03-01 12:00:00"))
    add(con, "disposition", ("US01-001", "died", None))
    assert listed(con, "2025-06-01") == []


# ---- (c) a form left incomplete for more than M days ------------------------------------------

def _export(con, file_id: str, received: str, status: str, values: dict[str, str]) -> None:
    con.execute("INSERT INTO audit.files BY NAME SELECT ? AS file_id, 'sha' AS sha256, "
                "'US01' AS site_id, 'edc' AS kind, ? AS rel_path, 1 AS size_bytes, "
                "?::TIMESTAMP AS received_at, 'r' AS first_seen_run",
                [file_id, f"US01/edc/adverse_events_{received}.csv", received + " 06:00:00"])
    for field, value in values.items():
        con.execute("INSERT INTO raw.redcap (file_id, row_number, form, record_id, "
                    "redcap_event_name, redcap_repeat_instrument, redcap_repeat_instance, "
                    "form_complete, field, value) VALUES (?, 2, 'adverse_events', 'US01-001', "
                    "'follow_up_arm_1', 'adverse_events', '1', ?, ?, ?)",
                    [file_id, status, field, value])
    con.execute("INSERT INTO core.adverse_events VALUES ('US01-001', '2024-01-02', ?, 2, ?)",
                [file_id, "current" if file_id == "f3" else "overlap"])


def test_a_form_incomplete_since_its_last_change_for_more_than_m_days():
    con = warehouse()
    enrol(con, enrolled="2023-12-01")
    add(con, "cgm_readings", ("US01-001", "2024-12-31 12:00:00"))
    _export(con, "f1", "2024-01-07", "0", {"ae_term": "Headache", "ae_grade": ""})
    _export(con, "f2", "2024-01-14", "0", {"ae_term": "Headache", "ae_grade": "1"})  # changed
    # the same, and a field added to the form, empty: no change
    _export(con, "f3", "2024-01-21", "0", {"ae_term": "Headache", "ae_grade": "1",
                                           "ae_action_taken": ""})
    # unchanged since 14 January: 14 days on the 28th, 15 (> 14) on the 29th
    assert listed(con, "2024-01-28") == []
    assert listed(con, "2024-01-29") == [
        ("form_incomplete_overdue", "US01-001", "0", d("2024-01-14"))]
    row = con.sql("SELECT file, row, column_name FROM quality.site_queries "
                  "WHERE rule = 'form_incomplete_overdue'").fetchall()
    assert row == [("US01/edc/adverse_events_2024-01-21.csv", 2, "adverse_events_complete")]


def test_a_form_completed_since_gets_no_query():
    con = warehouse()
    enrol(con, enrolled="2023-12-01")
    add(con, "cgm_readings", ("US01-001", "2024-12-31 12:00:00"))
    _export(con, "f1", "2024-01-07", "0", {"ae_term": "Headache"})
    _export(con, "f3", "2024-01-14", "2", {"ae_term": "Headache"})
    assert listed(con, "2024-12-31") == []


# ---- the listing and the settings ------------------------------------------------------------

def test_no_published_run_lists_no_missing_data():
    con = warehouse()
    enrol(con)
    missing_data_queries(con, TRIAL)
    run_sql(con, "quality/site_queries.sql")
    assert con.sql("SELECT count(*) FROM quality.missing_data").fetchall() == [(1,)]
    assert con.sql("SELECT count(*) FROM quality.site_queries").fetchall() == [(0,)]


def test_the_settings_default_and_are_checked(tmp_path):
    src = (TRIAL.source.read_text(encoding="utf-8")
           .split("\n# Missing-data queries")[0])  # the sample trial without [missing_data]
    (tmp_path / "islet-101.redcap-dictionary.csv").write_bytes(
        (TRIAL.source.parent / "islet-101.redcap-dictionary.csv").read_bytes())
    plain = tmp_path / "plain.toml"
    plain.write_text(src, encoding="utf-8")
    t = load_trial(plain)
    assert (t.missing_data.cgm_gap_days, t.missing_data.form_incomplete_days) == (14, 14)
    assert t.missing_data.visit_forms == ["insulin_diary"]
    # default HbA1c visits: nominal day in endpoints.primary.hba1c_days = [180, 365]
    assert t.hba1c_visits == ["day_180", "day_270", "day_365"]
    bad = tmp_path / "bad.toml"
    bad.write_text(src + '\n[missing_data]\ncgm_gap_days = 0\nvisit_forms = ["diary"]\n'
                   'form_days = 7\n', encoding="utf-8")
    errors = check_trial(bad)
    assert any(e.startswith("missing_data.cgm_gap_days: ") for e in errors)
    assert any(e.startswith("missing_data.visit_forms: ['diary'] not among") for e in errors)
    assert "missing_data.form_days: unknown key (got 7)" in errors
    with pytest.raises(TrialError):
        load_trial(bad)
    bad.write_text(src + '\n[missing_data]\nhba1c_visits = ["day_91"]\n', encoding="utf-8")
    assert [e for e in check_trial(bad) if "day_91" in e] == [
        "missing_data.hba1c_visits: 'day_91' is not a visit (day_120, day_180, day_270, "
        "day_28, day_365, day_56, day_90, infusion, screening)"]
