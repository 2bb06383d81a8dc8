"""Issue 10 review: what a file-level query says and counts.

* a parser's error text (it quotes the bad field: a patient's name in an unclosed note) never
  reaches quality.issues, the site listing, the log or the screen; the query names the problem
  and the line instead;
* a trial field dropped as personal data is a warning the site sees, not an 'info' note;
* "files not loaded" counts only files that a file-level query stops loading;
* a REDCap file whose rows all lack a record id keeps its row problems (not "header-only").

Every file here is hand-made; line numbers and counts are read off it.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import os
from pathlib import Path

import duckdb
import polars as pl
import pytest
from typer.testing import CliRunner

from isletflow.build import write_site_queries
from isletflow.cli import app
from isletflow.config import PipelineConfig
from isletflow.trial import load_trial
from isletflow.landing import LandingFile, scan_landing, sha256_of
from isletflow.readers import MalformedCsvError, read_error_message, read_export
from isletflow.readers.redcap_dictionary import DICTIONARY_HEADER
from isletflow.run_summary import run_markdown
from isletflow.staging import ERROR_RULES, stage_export
from isletflow.warehouse import connect, run_sql, sql_text

from nightly_steps import build_night

ENROL = ("record_id,redcap_event_name,enrol_date,age,sex,weight_kg,t1d_duration_y,"
         "enrolment_complete\nUS01-001,screening_arm_1,2023-06-05,54,1,70,20,2\n")
# line 1 header, line 2 a good result, line 3 a comment whose quote is never closed
LAB = ('subject_id,visit,collection_date,test_code,test_name,result,unit,comment\n'
       'US01-001,day_90,2023-10-01,HBA1C,HbA1c,6.1,%,"ok"\n'
       'US01-001,day_90,2023-10-01,CPEP,C-peptide,300,pmol/L,"Ann Smith DOB 1970-05-06 called\n')
PERSONAL = ("Ann", "Smith", "1970-05-06")


def put(root: Path, rel: str, text: str, day: int = 0) -> Path:
    """Write a landing file received ``day`` days after 2024-01-01 06:00 UTC."""
    p = root / rel
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(text)
    stamp = dt.datetime(2024, 1, 1, 6, tzinfo=dt.UTC).timestamp() + day * 86400
    os.utime(p, (stamp, stamp))
    return p


def landing_file(path: Path, site: str = "US01", kind: str = "lab") -> LandingFile:
    return LandingFile(path, f"{site}/{kind}/{path.name}", site, kind, None, sha256_of(path),
                       path.stat().st_size, dt.datetime(2025, 1, 1))


def all_text(con, table: str) -> str:
    """Every value of ``table``, as one text."""
    return "\n".join(str(v) for row in con.table(table).fetchall() for v in row)


# ------------------------------------------------- 1: parser errors name the line, quote nothing

class _Log:
    """Stands in for Prefect's run logger: keeps each message as it would be written."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    def warning(self, msg: str, *args) -> None:
        self.lines.append(msg % args)


def test_an_unclosed_quote_is_named_with_its_line_and_never_quoted(tmp_path, monkeypatch):
    root = tmp_path / "landing"
    put(root, "US01/edc/enrolment.csv", ENROL)
    lab = put(root, "US01/lab/lab.csv", LAB, 100)
    build, _ = build_night(root, tmp_path)
    with connect(build, read_only=True) as con:
        assert not any(w in all_text(con, "quality.issues") for w in PERSONAL)
        got = con.sql("SELECT rule, message FROM quality.site_queries "
                      "WHERE file = 'US01/lab/lab.csv'").fetchall()
    assert got == [("unreadable_file", "malformed CSV: a quoted field is not closed, in the "
                    "record from line 3; the file is not loaded: ask the site for the export "
                    "as the system wrote it")]
    written = write_site_queries(build, tmp_path / "listing")
    listing = (tmp_path / "listing/US01_queries.csv").read_text()
    assert written == {"US01": 1} and "line 3" in listing
    assert not any(w in listing for w in PERSONAL)

    # the nightly's stage task logs the same message, nothing of the file's content
    import tasks.landing

    log = _Log()
    monkeypatch.setattr(tasks.landing, "get_run_logger", lambda: log)
    cfg = PipelineConfig.from_params(root, tmp_path / "w.duckdb", stage_dir=tmp_path / "st")
    staged = tasks.landing.stage_file.fn(landing_file(lab), cfg)
    assert staged.error_rule == "unreadable_file"
    assert log.lines == [f"unreadable: US01/lab/lab.csv: {got[0][1]}"]


@pytest.mark.parametrize("body, why", [
    # line 3 ends with text after a closing quote
    ('US01-001,day_90,2023-10-01,HBA1C,HbA1c,6.1,%\n'
     'US01-001,day_90,2023-10-01,CPEP,"Ann"Smith,300,pmol/L\n',
     "a closing quote is followed by more text in the same field, in the record from line 3"),
    # line 3 has 8 fields for the 7-column header
    ('US01-001,day_90,2023-10-01,HBA1C,HbA1c,6.1,%\n'
     'US01-001,day_90,2023-10-01,CPEP,C-peptide,300,pmol/L,Ann Smith\n',
     "a record has 8 fields, more than the header's 7, in the record from line 3"),
    # the quote opens on line 2 and holds line 3 too: the record starts on line 2
    ('US01-001,day_90,2023-10-01,HBA1C,"Ann\nSmith,6.1,%\n',
     "a quoted field is not closed, in the record from line 2"),
])
def test_a_malformed_lab_file_is_refused_by_the_line_of_its_bad_record(tmp_path, body, why):
    p = tmp_path / "lab.csv"
    p.write_text("subject_id,visit,collection_date,test_code,test_name,result,unit\n" + body)
    with pytest.raises(MalformedCsvError) as err:
        read_export(p)
    assert str(err.value).startswith(f"malformed CSV: {why};")
    assert err.value.__cause__ is None and err.value.__suppress_context__


def test_a_malformed_long_cgm_file_names_its_line(tmp_path):
    # lines: 1 header, 2 and 3 readings, 4 a quote that runs to the end of the file
    p = tmp_path / "long.csv"
    p.write_text('id,time,gl\nA,2024-01-01 00:00:00,100\nA,2024-01-01 00:05:00,104\n'
                 'A,"Ann Smith,2024-01-01 00:10:00,108\nA,2024-01-01 00:15:00,110\n')
    with pytest.raises(MalformedCsvError, match="not closed, in the record from line 4"):
        read_export(p)


def test_a_library_error_is_shown_by_its_type_only():
    err = pl.exceptions.ComputeError("could not parse `Ann Smith` as dtype `str`")
    assert read_error_message(err) == (
        "the file could not be read (ComputeError in the reader; its message is not shown, "
        "as it may quote the file's content)")
    assert read_error_message(ValueError("invalid literal for int(): 'Ann'")).startswith(
        "the file could not be read (ValueError")


def test_inspect_of_a_malformed_file_says_the_line_not_the_text(tmp_path):
    p = put(tmp_path, "lab.csv", LAB)
    r = CliRunner().invoke(app, ["inspect", str(p)])
    assert r.exit_code == 1 and "Traceback" not in r.output
    assert "from line 3" in r.output and not any(w in r.output for w in PERSONAL)


# --------------------------------------------- 2: a trial field dropped as personal data is a query

def dictionary(fields: list[tuple[str, str, str, str, str]]) -> str:
    """A data dictionary of (field, form, field type, validation, identifier) rows."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(DICTIONARY_HEADER)
    for f, form, ftype, val, ident in fields:
        w.writerow([f, form, "", ftype, f, "", "", val, "", "", ident, "", "", "", "", "", "",
                    ""])
    return buf.getvalue()


CM_HEADER = ("record_id,redcap_event_name,redcap_repeat_instrument,redcap_repeat_instance,"
             "cm_name,cm_indication,cm_route,cm_start_date,cm_stop_date,"
             "concomitant_medications_complete\n")
CM_ROW = ("US01-001,follow_up_arm_1,concomitant_medications,1,Paracetamol,Headache,oral,"
          "2023-08-01,2023-08-05,2\n")
CM_DICTIONARY = dictionary([
    ("record_id", "concomitant_medications", "text", "", ""),
    ("cm_name", "concomitant_medications", "text", "", ""),
    ("cm_indication", "concomitant_medications", "notes", "", ""),      # free text
    ("cm_route", "concomitant_medications", "text", "", ""),            # not a trial field
    ("cm_start_date", "concomitant_medications", "text", "date_ymd", ""),
    ("cm_stop_date", "concomitant_medications", "text", "date_ymd", "y")])  # identifier


def test_a_trial_field_the_dictionary_flags_is_named_with_what_to_ask(tmp_path):
    export = landing_file(put(tmp_path, "US01/edc/cm.csv", CM_HEADER + CM_ROW), kind="edc")
    dic = landing_file(put(tmp_path, "US01/edc/dictionary.csv", CM_DICTIONARY), kind="edc")
    s = stage_export(export, tmp_path / "stage", dictionary=dic)
    assert [(p.row_number, p.rule, p.column) for p in s.problems] == [
        (None, "redcap_trial_field_dropped", "cm_indication"),
        (None, "redcap_trial_field_dropped", "cm_stop_date"),
        (None, "redcap_fields_not_collected", None)]
    assert s.problems[1].message == (
        "the trial's field cm_stop_date is flagged as an identifier (Identifier? = y) in the "
        "site's data dictionary, so it was not loaded, its values not stored; the trial needs "
        "it: ask the site to unflag it")
    assert "make it a text field" in s.problems[0].message
    assert s.problems[2].message.endswith("not stored: cm_route")  # the trial does not read it
    fields = set(pl.read_parquet(s.parquet)["field"])
    assert fields == {"cm_name", "cm_start_date"}


def test_a_trial_field_with_an_email_value_is_named_without_the_value(tmp_path):
    row = CM_ROW.replace("Paracetamol", "ann.smith@example.org")
    s = stage_export(landing_file(put(tmp_path, "US01/edc/cm.csv", CM_HEADER + row),
                                  kind="edc"), tmp_path / "stage")
    dropped = [p for p in s.problems if p.rule == "redcap_trial_field_dropped"]
    assert [p.column for p in dropped] == ["cm_name"]
    assert "looks like an e-mail address or a phone number" in dropped[0].message
    assert "ann" not in dropped[0].message.lower()


def test_the_dropped_trial_field_is_a_warning_listed_once_for_the_weekly_exports(tmp_path):
    root = tmp_path / "landing"
    put(root, "US01/edc/enrolment.csv", ENROL, 0)
    put(root, "US01/edc/dictionary.csv", CM_DICTIONARY, 1)
    put(root, "US01/edc/cm_week1.csv", CM_HEADER + CM_ROW, 7)
    put(root, "US01/edc/cm_week2.csv", CM_HEADER + CM_ROW + CM_ROW.replace(
        ",1,Paracetamol", ",2,Ibuprofen"), 14)  # a second medication since week 1
    build, _ = build_night(root, tmp_path)
    with connect(build, read_only=True) as con:
        listed = con.sql("SELECT file, rule, severity, column_name, message "
                         "FROM quality.site_queries WHERE file LIKE '%cm_week%' "
                         "ORDER BY file, column_name").fetchall()
        stop = con.sql("SELECT medication, stop_date FROM core.concomitant_medications "
                       "WHERE record_status = 'current' ORDER BY 1").fetchall()
    # two weekly exports give the same two warnings: each listed once, on the first export
    assert [r[:4] for r in listed] == [
        ("US01/edc/cm_week1.csv", "redcap_trial_field_dropped", "warning", "cm_indication"),
        ("US01/edc/cm_week1.csv", "redcap_trial_field_dropped", "warning", "cm_stop_date")]
    assert all(r[4].endswith("(the same in the site's 1 later export(s))") for r in listed)
    # loaded without it: that is what the warning is about
    assert stop == [("Ibuprofen", None), ("Paracetamol", None)]


# ------------------------------------------------------- 3: files not loaded, by what stops them

def _quality_db() -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    for name in ("schemas.sql", "audit/tables.sql", "raw/tables.sql", "quality/tables.sql"):
        run_sql(con, name)
    con.execute("CREATE TABLE core.sites (site_id VARCHAR)")
    con.execute("INSERT INTO core.sites VALUES ('US01'), ('CA01')")
    return con


def _audit_file(con, file_id: str, site: str, rel: str) -> None:
    con.execute("INSERT INTO audit.files BY NAME SELECT ? AS file_id, 'sha' AS sha256, "
                "? AS site_id, 'edc' AS kind, ? AS rel_path, 1 AS size_bytes, "
                "TIMESTAMP '2025-01-01' AS received_at, 'r' AS first_seen_run",
                [file_id, site, rel])


def _file_issue(con, file_id: str, rule: str, severity: str = "error") -> None:
    con.execute("INSERT INTO quality.issues (table_name, source_file_id, rule, severity, "
                "message) VALUES ('(file)', ?, ?, ?, 'm')", [file_id, rule, severity])


def _redcap_rows(con, file_id: str, forms: list[str]) -> None:
    for i, form in enumerate(forms, start=2):
        con.execute("INSERT INTO raw.redcap (file_id, row_number, form) VALUES (?, ?, ?)",
                    [file_id, i, form])


def test_files_not_loaded_count_only_files_a_query_stops():
    con = _quality_db()
    # US01: 7 files with a file-level query; 4 of them are not loaded
    for fid, rel in [("f1", "US01/lab/a.csv"), ("f2", "US01/edc/project.csv"),
                     ("f3", "US01/cgm/US01-099__x.csv"), ("f4", "US01/edc/diary.csv"),
                     ("f5", "US01/edc/project2.csv")]:
        _audit_file(con, fid, "US01", rel)
    con.execute("INSERT INTO quality.issues (table_name, rule, severity, message, site_id, "
                "file) VALUES ('(file)', 'broken_link', 'error', 'gone', 'US01', "
                "'US01/lab/link.csv')")                              # 1: landing problem
    _file_issue(con, "f1", "unreadable_file")                        # 2: staging error
    _file_issue(con, "f2", "redcap_field_in_wrong_form")             # loaded (other forms)
    _file_issue(con, "f2", "redcap_trial_field_dropped", "warning")  # loaded without a field
    _file_issue(con, "f2", "redcap_fields_not_collected", "info")    # loaded
    _redcap_rows(con, "f2", ["enrolment"])
    con.execute("INSERT INTO quality.quarantined_files VALUES ('f3', 'unknown_participant', "
                "'m'), ('f4', 'broken_file', 'm'), ('f5', 'broken_file', 'm')")
    _file_issue(con, "f3", "unknown_participant")                    # 3: set aside whole
    _redcap_rows(con, "f4", ["insulin_diary"] * 3)                   # 4: its only form broken
    _file_issue(con, "f4", "broken_file")
    _redcap_rows(con, "f5", ["insulin_diary", "enrolment"])          # its enrolment loaded
    _file_issue(con, "f5", "broken_file")
    # CA01: one file of each staging error rule, none loaded
    for i, rule in enumerate(ERROR_RULES):
        _audit_file(con, f"c{i}", "CA01", f"CA01/lab/{i}.csv")
        _file_issue(con, f"c{i}", rule)
    # a file outside any site folder
    con.execute("INSERT INTO quality.issues (table_name, rule, severity, message, file) "
                "VALUES ('(file)', 'landing_layout', 'error', 'm', 'stray.csv')")
    run_sql(con, "quality/site_queries.sql")
    by_site = con.sql(sql_text("quality/quarantine_by_site.sql")).fetchall()
    # data queries: the listing's lines (US01: 8 issues less the info one; CA01: 8)
    assert by_site == [("CA01", 0, 8, 8), ("US01", 0, 4, 7), ("unknown site", 0, 1, 1)]
    assert len(ERROR_RULES) == 8


def test_a_whole_project_export_with_a_field_in_the_wrong_form_is_loaded(tmp_path):
    # enrolment loads from project.csv; its AE fields stand before enrolment_complete
    root = tmp_path / "landing"
    put(root, "US01/edc/project.csv",
        "record_id,redcap_event_name,ae_term,ae_grade,enrol_date,age,sex,weight_kg,"
        "t1d_duration_y,enrolment_complete\n"
        "US01-001,screening_arm_1,,,2023-06-05,54,1,70,20,2\n"
        "US01-001,follow_up_arm_1,Headache,1,,,,,,\n")
    build, _ = build_night(root, tmp_path)
    with connect(build, read_only=True) as con:
        assert con.sql("SELECT participant_id FROM core.participants").fetchall() == [
            ("US01-001",)]
        assert con.sql("SELECT rule FROM quality.site_queries").fetchall() == [
            ("redcap_field_in_wrong_form",)]
        by_site = dict((r[0], r[2]) for r in con.sql(
            sql_text("quality/quarantine_by_site.sql")).fetchall())
    assert by_site["US01"] == 0
    summary = {"run_id": "r", "files": 1, "files_cached": 0, "files_not_loaded": 1,
               "rows_quarantined": {}, "table_rows": {"core.participants": 1}}
    md = run_markdown(summary, build, pl.DataFrame(), None)
    assert "1 files (0 unchanged and not re-read), 0 not loaded" in md


# ----------------------------------------------- 4: rows all refused are not a header-only file

def test_a_redcap_file_whose_rows_all_lack_a_record_id_keeps_its_row_problems(tmp_path):
    root = tmp_path / "landing"
    put(root, "US01/edc/enrolment.csv", ENROL)
    ae = put(root, "US01/edc/ae.csv",
             "record_id,redcap_event_name,ae_term,ae_grade,adverse_events_complete\n"
             ",follow_up_arm_1,Headache,1,2\n"
             ",follow_up_arm_1,Nausea,2,2\n", 1)
    s = stage_export(landing_file(ae, kind="edc"), tmp_path / "stage")
    assert (s.error, s.n_rows) == (None, 0)
    assert [(p.row_number, p.rule) for p in s.problems] == [
        (2, "redcap_missing_record_id"), (3, "redcap_missing_record_id")]
    build, _ = build_night(root, tmp_path)
    with connect(build, read_only=True) as con:
        got = con.sql("SELECT row, rule, severity FROM quality.site_queries "
                      "WHERE file = 'US01/edc/ae.csv' ORDER BY row").fetchall()
    assert got == [(2, "redcap_missing_record_id", "error"),
                   (3, "redcap_missing_record_id", "error")]


def test_a_lab_file_whose_only_row_is_cut_off_keeps_that_problem(tmp_path):
    p = put(tmp_path, "US01/lab/lab.csv",
            "subject_id,visit,collection_date,test_code,test_name,result,unit\n"
            "US01-001,day_90,2023-10-01,HBA")  # line 2 ends mid-row, no line end
    s = stage_export(landing_file(p), tmp_path / "stage")
    assert (s.error_rule, s.n_rows) == (None, 0)
    assert [(p.row_number, p.rule) for p in s.problems] == [(2, "truncated_row")]


def test_a_header_only_file_is_still_header_only(tmp_path):
    p = put(tmp_path, "US01/lab/lab.csv",
            "subject_id,visit,collection_date,test_code,test_name,result,unit\n")
    s = stage_export(landing_file(p), tmp_path / "stage")
    assert (s.error_rule, s.problems) == ("header_only", ())
