"""Record identity (schemas/keys.py, sql/resolve/): a record sent again is counted once.

Tiny hand-made raw layers: two exports of the adverse-event form, two central-lab files. Each
expected status can be read off the rows written here.
"""

from __future__ import annotations

import datetime as dt

import duckdb
import polars as pl
import pytest

from nightly_steps import load_sample_trial
from isletflow.build import _select_text, keyed_sql, resolve_identity
from isletflow.quality import KeyViolationError, check_keys
from isletflow.warehouse import run_sql, sql_files, write_table
from schemas.keys import CORE_KEYS

F1, F2, F3 = "a000000000000001", "a000000000000002", "a000000000000003"


def warehouse(files: list[tuple[str, str, str, dt.datetime]]) -> duckdb.DuckDBPyConnection:
    """Empty raw/core layers and audit.files rows (file id, site, path, received at)."""
    con = duckdb.connect()
    for name in ("schemas.sql", "audit/tables.sql", "raw/tables.sql", "quality/tables.sql"):
        run_sql(con, name)
    load_sample_trial(con)
    for file_id, site, path, received in files:
        con.execute("INSERT INTO audit.files VALUES (?, ?, ?, 'edc', ?, NULL, 1, ?, 'redcap', "
                    "'r')", [file_id, file_id, site, path, received])
    return con


def ae_rows(file_id: str, records: list[tuple[str, int, str, str]], extra: dict | None = None,
            event: str = "follow_up_arm_1") -> pl.DataFrame:
    """raw.redcap rows of an adverse-event export: (record, instance, term, serious)."""
    rows = []
    for line, (rec, inst, term, serious) in enumerate(records, start=2):
        fields = {"ae_term": term, "ae_soc": "Blood and lymphatic system disorders",
                  "ae_onset_date": "2024-05-01", "ae_serious": serious, "ae_grade": "3",
                  "ae_outcome": "1", **(extra or {})}
        rows += [{"file_id": file_id, "row_number": line, "form": "adverse_events",
                  "record_id": rec, "redcap_event_name": event,
                  "redcap_repeat_instrument": "adverse_events",
                  "redcap_repeat_instance": str(inst), "form_complete": "2", "field": k,
                  "value": v} for k, v in fields.items()]
    return pl.DataFrame(rows)


def load_raw(con, table: str, df: pl.DataFrame) -> None:
    con.register("_raw", df.to_arrow())
    con.execute(f"INSERT INTO raw.{table} BY NAME SELECT * FROM _raw")
    con.unregister("_raw")


def build_core(con) -> None:
    for name in sql_files("core"):
        run_sql(con, name)
    resolve_identity(con)


def statuses(con, table: str) -> list[tuple]:
    return con.sql(f"SELECT source_file_id, source_row, record_status FROM core.{table} "
                   "ORDER BY source_file_id, source_row").fetchall()


def current_keys_unique(con) -> None:
    check_keys({t: (con.table(f"core.{t}").filter("record_status = 'current'")
                    .select(*k.columns).pl(), k.columns) for t, k in CORE_KEYS.items()})


DAY1, DAY8 = dt.datetime(2024, 6, 1, 6), dt.datetime(2024, 6, 8, 6)


def test_a_resent_form_with_a_new_field_counts_each_adverse_event_once():
    con = warehouse([(F1, "US01", "US01/edc/adverse_events.csv", DAY1),
                     (F2, "US01", "US01/edc/adverse_events_2024-06-08.csv", DAY8)])
    records = [("US01-001", 1, "Neutropenia", "1"), ("US01-001", 2, "Nausea", "0"),
               ("US01-002", 1, "Neutropenia", "1")]
    load_raw(con, "redcap", ae_rows(F1, records))
    # the week after: the same three records, and the form gained a field
    load_raw(con, "redcap", ae_rows(F2, records, extra={"ae_action_taken": "1"}))
    build_core(con)
    assert statuses(con, "adverse_events") == [
        (F1, 2, "overlap"), (F1, 3, "overlap"), (F1, 4, "overlap"),
        (F2, 2, "current"), (F2, 3, "current"), (F2, 4, "current")]
    serious = con.sql("SELECT count(*) FROM core.adverse_events WHERE serious "
                      "AND record_status = 'current'").fetchall()[0][0]
    assert serious == 2  # not 4
    current_keys_unique(con)


def test_a_corrected_value_supersedes_and_the_old_one_is_kept_in_audit():
    con = warehouse([(F1, "US01", "US01/edc/adverse_events.csv", DAY1),
                     (F2, "US01", "US01/edc/adverse_events_2024-06-08.csv", DAY8)])
    load_raw(con, "redcap", ae_rows(F1, [("US01-001", 1, "Neutropenia", "0")]))
    load_raw(con, "redcap", ae_rows(F2, [("US01-001", 1, "Neutropenia", "1")]))  # now serious
    build_core(con)
    assert statuses(con, "adverse_events") == [(F1, 2, "superseded"), (F2, 2, "current")]
    rows = con.sql("SELECT record_key, old_file_id, old_row, new_file_id, new_row, "
                   "old_values::JSON->>'serious', new_values::JSON->>'serious' "
                   "FROM audit.superseded_records").fetchall()
    assert rows == [('{"participant_id":"US01-001","event_name":"follow_up_arm_1",'
                     '"instance":1}', F1, 2, F2, 2, "false", "true")]


def test_the_file_received_last_wins_whatever_its_name():
    # the file named "_resend" came first: received_at decides, not the name
    con = warehouse([(F1, "US01", "US01/edc/z_resend.csv", DAY1),
                     (F2, "US01", "US01/edc/a_export.csv", DAY8)])
    load_raw(con, "redcap", ae_rows(F1, [("US01-001", 1, "Nausea", "0")]))
    load_raw(con, "redcap", ae_rows(F2, [("US01-001", 1, "Headache", "0")]))
    build_core(con)
    assert statuses(con, "adverse_events") == [(F1, 2, "superseded"), (F2, 2, "current")]


def test_a_later_full_export_that_lacks_a_record_is_a_warning_and_keeps_it():
    con = warehouse([(F1, "US01", "US01/edc/adverse_events_w1.csv", DAY1),
                     (F2, "US01", "US01/edc/adverse_events_w2.csv", DAY8)])
    load_raw(con, "redcap", ae_rows(F1, [("US01-001", 1, "Nausea", "0"),
                                         ("US01-001", 2, "Fatigue", "0")]))
    load_raw(con, "redcap", ae_rows(F2, [("US01-001", 1, "Nausea", "0")]))  # instance 2 gone
    build_core(con)
    issues = _select_text(con, keyed_sql("quality/missing_from_later_export.sql",
                                         "adverse_events"))
    assert issues.select("source_file_id", "source_row", "rule", "severity").rows() == [
        (F1, 3, "missing_from_later_export", "warning")]
    assert "US01/edc/adverse_events_w2.csv" in issues["message"][0]
    # still counted: the only row of its record
    assert (F1, 3, "current") in statuses(con, "adverse_events")


def test_an_addendum_with_only_new_records_is_not_a_reexport():
    con = warehouse([(F1, "US01", "US01/edc/adverse_events.csv", DAY1),
                     (F2, "US01", "US01/edc/adverse_events_addendum.csv", DAY8)])
    load_raw(con, "redcap", ae_rows(F1, [("US01-001", 1, "Nausea", "0")]))
    load_raw(con, "redcap", ae_rows(F2, [("US01-002", 1, "Fatigue", "0")]))
    build_core(con)
    issues = _select_text(con, keyed_sql("quality/missing_from_later_export.sql",
                                         "adverse_events"))
    assert issues.height == 0
    assert [s for *_, s in statuses(con, "adverse_events")] == ["current", "current"]


def test_two_different_rows_of_one_record_in_one_file_are_a_conflict():
    con = warehouse([(F1, "US01", "US01/edc/adverse_events.csv", DAY1)])
    load_raw(con, "redcap", ae_rows(F1, [("US01-001", 1, "Nausea", "0"),
                                         ("US01-001", 1, "Fatigue", "0"),
                                         ("US01-002", 1, "Fatigue", "0"),
                                         ("US01-002", 1, "Fatigue", "0")]))
    build_core(con)
    issues = _select_text(con, keyed_sql("quality/key_conflicts_in_file.sql",
                                         "adverse_events"))
    # lines 2 and 3 disagree; lines 4 and 5 are the same record twice with the same values
    assert sorted(issues.select("source_row", "rule").rows()) == [
        (2, "conflicting_values_in_file"), (3, "conflicting_values_in_file")]
    assert statuses(con, "adverse_events")[2:] == [(F1, 4, "current"), (F1, 5, "overlap")]


def test_the_key_check_fails_when_a_record_is_counted_twice():
    con = warehouse([(F1, "US01", "US01/edc/adverse_events.csv", DAY1),
                     (F2, "US01", "US01/edc/adverse_events_2.csv", DAY8)])
    load_raw(con, "redcap", ae_rows(F1, [("US01-001", 1, "Neutropenia", "1")]))
    load_raw(con, "redcap", ae_rows(F2, [("US01-001", 1, "Neutropenia", "1")]))
    build_core(con)
    current_keys_unique(con)
    # what the rule prevents: both rows current (as before record identity existed)
    con.execute("UPDATE core.adverse_events SET record_status = 'current'")
    with pytest.raises(KeyViolationError, match=r"core\.adverse_events: 2 current rows share "
                                                r"a key \(participant_id, event_name, instance\)"):
        current_keys_unique(con)


def lab(file_id: str, rows: list[tuple], accession: list[str] | None = None) -> pl.DataFrame:
    """raw.central_lab rows: (participant, visit, date, test, result, unit)."""
    df = pl.DataFrame(rows, schema=["subject_id", "visit", "collection_date", "test_code",
                                    "result", "unit"], orient="row")
    return df.with_columns(file_id=pl.lit(file_id), row_number=pl.int_range(2, df.height + 2),
                           test_name=pl.lit("x"), decimal_mark=pl.lit("."),
                           accession=pl.Series(accession, dtype=pl.String) if accession
                           else pl.lit(None, pl.String))


def test_a_lab_file_resent_with_an_accession_column_and_one_correction():
    con = warehouse([(F1, "US01", "US01/lab/results.csv", DAY1),
                     (F2, "US01", "US01/lab/results_resend.csv", DAY8)])
    rows = [("US01-001", "day_90", "2024-06-01", "HBA1C", "6.4", "%"),
            ("US01-001", "day_90", "2024-06-01", "ANC", "3100", "cells/mm3")]
    load_raw(con, "central_lab", lab(F1, rows))
    # re-sent with accession numbers added and the ANC corrected
    fixed = [rows[0], ("US01-001", "day_90", "2024-06-01", "ANC", "3010", "cells/mm3")]
    load_raw(con, "central_lab", lab(F2, fixed, accession=["A-17", "A-18"]))
    build_core(con)
    current = con.sql("SELECT test_code, value FROM core.lab_results WHERE record_status = "
                      "'current' ORDER BY test_code").fetchall()
    assert current == [("ANC", 3010.0), ("HBA1C", 6.4)]
    assert statuses(con, "lab_results") == [(F1, 2, "overlap"), (F1, 3, "superseded"),
                                            (F2, 2, "current"), (F2, 3, "current")]
    current_keys_unique(con)


def test_two_specimens_with_accession_numbers_are_two_results():
    con = warehouse([(F1, "US01", "US01/lab/results.csv", DAY1)])
    rows = [("US01-001", "day_90", "2024-06-01", "ANC", "3100", "cells/mm3"),
            ("US01-001", "day_90", "2024-06-01", "ANC", "2900", "cells/mm3")]
    load_raw(con, "central_lab", lab(F1, rows, accession=["A-17", "A-19"]))
    build_core(con)
    assert [s for *_, s in statuses(con, "lab_results")] == ["current", "current"]
    assert _select_text(con, keyed_sql("quality/key_conflicts_in_file.sql",
                                       "lab_results")).height == 0


def test_a_classic_redcap_project_without_events_loads_through_the_night(tmp_path):
    """A non-longitudinal REDCap project: no event column, instances only on repeat rows.
    Its records have no event: the key's event is empty, and nothing is lost."""
    from isletflow.warehouse import connect
    from nightly_steps import build_night

    edc = tmp_path / "landing/US01/edc"
    edc.mkdir(parents=True)
    lines = ["record_id,redcap_repeat_instrument,redcap_repeat_instance,enrol_date,age,sex,"
             "weight_kg,t1d_duration_y,enrolment_complete,infusion_date,study_part,"
             "dose_fraction,infusion_complete,diary_date,basal_u,bolus_u,insulin_diary_complete",
             "US01-001,,,2024-01-05,40,1,70,20,2,2024-02-01,C,1.0,2,,,,"]
    lines += [f"US01-001,insulin_diary,{i},,,,,,,,,,,{dt.date(2024, 2, 1) + dt.timedelta(i)},"
              "10,12,2" for i in range(1, 26)]
    (edc / "IsletTrial_DATA_2024-03-01_0600.csv").write_text("\n".join(lines) + "\n")
    build, moved = build_night(tmp_path / "landing", tmp_path / "work")
    assert sum(moved.values()) == 0
    with connect(build, read_only=True) as con:
        counts = {t: con.sql(f"SELECT count(*) FROM core.{t} WHERE record_status = 'current'")
                  .fetchall()[0][0] for t in ("participants", "infusions", "insulin_diary")}
        assert counts == {"participants": 1, "infusions": 1, "insulin_diary": 25}
        assert con.sql("SELECT DISTINCT event_name FROM core.insulin_diary").fetchall() == [
            (None,)]


def test_a_set_aside_correction_leaves_the_older_value_counted_and_says_so(tmp_path):
    """Week 2 re-sends the adverse event as serious but with an onset date that is not a
    date: that row is quarantined, week 1's row is counted, and a warning on week 2's file
    says an older value is in use."""
    import os

    from isletflow.warehouse import connect
    from nightly_steps import build_night

    edc = tmp_path / "landing/US01/edc"
    edc.mkdir(parents=True)
    header = ("record_id,redcap_repeat_instrument,redcap_repeat_instance,enrol_date,age,sex,"
              "weight_kg,t1d_duration_y,enrolment_complete,ae_term,ae_soc,ae_onset_date,"
              "ae_serious,ae_grade,ae_outcome,adverse_events_complete")
    enrol = "US01-001,,,2024-01-05,40,1,70,20,2,,,,,,,"
    for week, (onset, serious) in enumerate([("2024-03-01", "0"), ("3/1/2024x", "1")], start=1):
        path = edc / f"IsletTrial_DATA_week{week}.csv"
        path.write_text("\n".join([header, enrol, f"US01-001,adverse_events,1,,,,,,,Nausea,"
                                   f"Gastrointestinal disorders,{onset},{serious},1,1,2"]) + "\n")
        stamp = dt.datetime(2024, 3, 7 * week, 6, tzinfo=dt.UTC).timestamp()
        os.utime(path, (stamp, stamp))
    build, moved = build_night(tmp_path / "landing", tmp_path / "work")
    assert moved["adverse_events"] == 1
    with connect(build, read_only=True) as con:
        assert con.sql("SELECT serious, onset_date FROM core.adverse_events "
                       "WHERE record_status = 'current'").fetchall() == [
            (False, dt.date(2024, 3, 1))]
        warned = con.sql("SELECT f.rel_path, i.severity, i.value FROM quality.issues AS i "
                         "JOIN audit.files AS f ON f.file_id = i.source_file_id "
                         "WHERE i.rule = 'older_value_in_use'").fetchall()
    assert warned == [("US01/edc/IsletTrial_DATA_week2.csv", "warning", "1 record(s)")]


def test_a_lab_resend_that_reformats_accession_or_date_is_the_same_result():
    # week 2: Excel stripped the accession's leading zeros and the date's zero padding
    con = warehouse([(F1, "US01", "US01/lab/results.csv", DAY1),
                     (F2, "US01", "US01/lab/results_resend.csv", DAY8)])
    load_raw(con, "central_lab", lab(F1, [("US01-001", "day_90", "2023-10-01", "HBA1C", "6.1",
                                           "%")], accession=["0012345"]))
    load_raw(con, "central_lab", lab(F2, [("US01-001", "day_90", "2023-10-1", "HBA1C", "6.1",
                                           "%")], accession=["12345"]))
    build_core(con)
    assert statuses(con, "lab_results") == [(F1, 2, "overlap"), (F2, 2, "current")]


def test_two_specimens_resent_without_accessions_cannot_be_told_apart():
    # week 1: two ANC specimens of one day with their accessions; week 2 drops the column
    con = warehouse([(F1, "US01", "US01/lab/results.csv", DAY1),
                     (F2, "US01", "US01/lab/results_resend.csv", DAY8)])
    rows = [("US01-001", "day_90", "2024-06-01", "ANC", "3100", "cells/mm3"),
            ("US01-001", "day_90", "2024-06-01", "ANC", "2900", "cells/mm3")]
    load_raw(con, "central_lab", lab(F1, rows, accession=["A-17", "A-19"]))
    load_raw(con, "central_lab", lab(F2, rows))
    build_core(con)
    conflicts = _select_text(con, keyed_sql("quality/key_conflicts_in_file.sql", "lab_results"))
    # week 2's two rows are one record to it with two values: a conflict there, not in week 1
    assert sorted(conflicts.select("source_file_id", "source_row").rows()) == [(F2, 2), (F2, 3)]
    assert con.sql("SELECT accession_key FROM core.lab_results WHERE source_file_id = ? "
                   "ORDER BY source_row", params=[F1]).fetchall() == [("A-17",), ("A-19",)]


def test_the_same_event_filed_under_a_renamed_event_is_a_query_not_a_silent_double():
    # week 2: the site renamed the event in REDCap; the key differs, the values do not
    con = warehouse([(F1, "US01", "US01/edc/adverse_events_w1.csv", DAY1),
                     (F2, "US01", "US01/edc/adverse_events_w2.csv", DAY8)])
    load_raw(con, "redcap", ae_rows(F1, [("US01-001", 1, "Neutropenia", "1")]))
    load_raw(con, "redcap", ae_rows(F2, [("US01-001", 1, "Neutropenia", "1")],
                                    event="week_4_arm_1"))
    build_core(con)
    dup = _select_text(con, keyed_sql("quality/possible_duplicate_records.sql",
                                      "adverse_events"))
    assert sorted(dup.select("source_file_id", "rule", "severity").rows()) == [
        (F1, "possible_duplicate_record", "warning"),
        (F2, "possible_duplicate_record", "warning")]


def test_a_correction_of_a_few_results_is_not_a_full_export():
    # week 2 re-sends 1 of week 1's 4 results, corrected: the other 3 are not "missing"
    con = warehouse([(F1, "US01", "US01/lab/batch.csv", DAY1),
                     (F2, "US01", "US01/lab/batch_correction.csv", DAY8)])
    rows = [("US01-001", "day_90", "2024-06-01", t, v, u) for t, v, u in
            [("HBA1C", "6.4", "%"), ("ANC", "3100", "cells/mm3"),
             ("CPEP_FAST", "410", "pmol/L"), ("CPEP_STIM", "980", "pmol/L")]]
    load_raw(con, "central_lab", lab(F1, rows))
    load_raw(con, "central_lab", lab(F2, [rows[0][:4] + ("6.2", "%")]))
    build_core(con)
    assert _select_text(con, keyed_sql("quality/missing_from_later_export.sql",
                                       "lab_results")).height == 0
    assert [s for *_, s in statuses(con, "lab_results")] == [
        "superseded", "current", "current", "current", "current"]
