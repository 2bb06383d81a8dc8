"""REDCap whole-project exports and data dictionaries: the 3 real exports and 2 real
dictionaries of ../shared/reference/real (counts from its PROVENANCE.md, section C), and a
hand-made 3-form export whose long rows are written out by hand below."""

from __future__ import annotations

import csv
import datetime as dt
import io
import os
import shutil
from pathlib import Path

import duckdb
import polars as pl
import pytest
from typer.testing import CliRunner

from isletflow.config import PROJECT_ROOT
from isletflow.landing import LandingFile, sha256_of
from isletflow.readers import detect_format, read_export
from isletflow.readers.redcap import read_redcap_export
from isletflow.readers.redcap_dictionary import RedcapDictionary, read_redcap_dictionary
from isletflow.staging import dictionary_for, site_dictionaries, stage_export, staged_path
from isletflow.warehouse import run_sql

REAL = PROJECT_ROOT.parent / "shared/reference/real"
C1 = REAL / "redcap_longitudinal_2arms_checkbox_redcapr.csv"
C2 = REAL / "redcap_dictionary_longitudinal_redcapr.csv"
C4 = REAL / "redcap_event_repeat_dag_redcapapi.csv"
C5 = REAL / "redcap_dictionary_redcapapi.csv"
C6 = REAL / "redcap_repeating_instruments_redcapr.csv"
# Personal data in the real files (PROVENANCE.md C1, C4; C6's first_name/dob of record 1).
# (Melech's date of birth 2005-04-02 is not listed: C1 has the same date as record 100's
# hospital admission, cpq9, which is kept.)
PHI = ("Zharko", "Lenox", "zlehnox@gmail.com", "1983-09-23", "Melech", "Besnik",
       "Melech-Besnik@wa.org", "(415) 555-1212", "dolor@Duis.net",
       "(555) 555-2658", "enim@sunt.org", "2010-10-14")

pytestmark = pytest.mark.skipif(not REAL.is_dir(), reason="real reference files not present")


def cells(df: pl.DataFrame) -> set[str]:
    return {str(v) for col in df.columns for v in df[col].to_list() if v is not None}


# ---------------------------------------------------------------- the real exports


def test_c1_longitudinal_two_arms_with_checkboxes():
    r = read_redcap_export(C1)
    assert detect_format(C1) == "redcap"
    assert (r.n_rows, r.records, r.record_id_column) == (18, 3, "study_id")
    assert r.events == ("enrollment_arm_1", "dose_1_arm_1", "visit_1_arm_1", "dose_2_arm_1",
                        "visit_2_arm_1", "final_visit_arm_1", "enrollment_arm_2",
                        "deadline_to_opt_ou_arm_2", "first_dose_arm_2", "first_visit_arm_2",
                        "final_visit_arm_2", "deadline_to_return_arm_2")
    assert r.repeat_instruments == {} and r.data_access_groups == ()
    assert {k: len(v) for k, v in r.checkbox_fields.items()} == {
        "gym": 5, "aerobics": 5, "eat": 5, "drink": 5, "meds": 5}
    assert r.checkbox_fields["meds"] == tuple(f"meds___{i}" for i in range(1, 6))
    assert list(r.forms) == ["demographics", "contact_info", "baseline_data", "visit_lab_data",
                             "patient_morale_questionnaire", "visit_blood_workup",
                             "visit_observed_behavior", "completion_data",
                             "completion_project_questionnaire"]
    # demographics is filled on the 3 enrolment rows only (read off the file)
    assert r.forms["demographics"] == 3
    demo = r.rows.filter(pl.col("form") == "demographics")
    assert set(demo["redcap_event_name"]) == {"enrollment_arm_1", "enrollment_arm_2"}
    assert set(r.rows["record_id"]) == {"100", "220", "304"}


def test_c4_events_repeats_dag_and_lower_case_checkbox_codes():
    r = read_redcap_export(C4)
    assert (r.n_rows, r.records) == (40, 20)  # the blank last line is not a row
    assert r.events == ("event_1_arm_1",)
    assert r.repeat_instruments == {"files_notes_descriptions": (20, 1)}
    assert r.data_access_groups == ()  # the column is there, empty in every row
    assert "redcap_data_access_group" in r.rows.columns
    assert r.checkbox_fields == {
        "checkbox_test": ("checkbox_test___x", "checkbox_test___y", "checkbox_test___z"),
        "prereq_checkbox": ("prereq_checkbox___1", "prereq_checkbox___2",
                            "prereq_checkbox___abc", "prereq_checkbox___4"),
        "no_prereq_checkbox": ("no_prereq_checkbox___1", "no_prereq_checkbox___2",
                               "no_prereq_checkbox___3")}
    assert len(r.forms) == 11
    # a repeat-instrument row carries only its instrument
    rep = r.rows.filter(pl.col("redcap_repeat_instrument").is_not_null())
    assert set(rep["form"]) <= {"files_notes_descriptions"}


def test_c6_classic_project_with_a_repeating_instrument():
    r = read_redcap_export(C6)
    assert (r.n_rows, r.records, r.record_id_column) == (6, 2, "record_id")
    assert r.events == () and r.checkbox_fields == {}
    assert r.repeat_instruments == {"bp": (4, 3)}
    assert r.forms == {"demographics": 2, "bp": 4}
    bp = r.rows.filter(pl.col("form") == "bp")
    # record 1 instances 1-3, record 2 instance 1; bp_systolic read off the file
    assert bp.filter(pl.col("field") == "bp_systolic").select(
        "record_id", "redcap_repeat_instance", "value").rows() == [
        ("1", "1", "110"), ("1", "2", "111"), ("1", "3", "112"), ("2", "1", "114")]
    assert r.dropped == {"first_name": "personal-data field name",
                         "dob": "personal-data field name"}


@pytest.mark.parametrize("export,dictionary", [(C1, None), (C1, C2), (C4, None), (C4, C5),
                                               (C6, None)])
def test_no_personal_data_leaves_the_reader(export, dictionary):
    r = read_redcap_export(export, dictionary)
    seen = cells(r.rows) | {p.value or "" for p in r.problems} | {p.message for p in r.problems}
    for phi in PHI:
        assert not any(phi in c for c in seen), phi
    assert "aaa" not in seen and "bbb" not in seen  # C6's first names
    fields = set(r.rows["field"])
    assert not fields & {"first_name", "last_name", "telephone_1", "email", "dob",
                         "email_test", "phone_test", "ec_phone", "next_of_kin_contact_phone"}


# ---------------------------------------------------------------- the real dictionaries


def test_c2_dictionary_counts():
    df, problems = read_redcap_dictionary(C2)
    assert detect_format(C2) == "redcap_dictionary" and problems == []
    d = RedcapDictionary.from_frame(df, C2.name)
    assert len(d.fields) == 95 and len(d.forms) == 9
    assert dict(df["field_type"].value_counts().iter_rows()) == {
        "text": 45, "radio": 20, "dropdown": 15, "checkbox": 5, "notes": 5, "calc": 2,
        "file": 1, "yesno": 1, "slider": 1}
    assert [f.name for f in d.fields.values() if f.identifier] == [
        "first_name", "last_name", "telephone_1", "email", "dob"]
    assert dict(df["validation"].drop_nulls().value_counts().iter_rows()) == {
        "number": 19, "integer": 9, "date_ymd": 8, "phone": 3, "email": 1}
    assert sum("___" in c for c in d.export_columns()) == 25


def test_c5_dictionary_counts():
    df, problems = read_redcap_dictionary(C5)  # ends with one blank line: not a field
    assert problems == []
    d = RedcapDictionary.from_frame(df, C5.name)
    assert len(d.fields) == 57 and len(d.forms) == 11 and "repeating_instrument" in d.forms
    assert dict(df["field_type"].value_counts().iter_rows()) == {
        "text": 32, "dropdown": 4, "slider": 3, "checkbox": 3, "radio": 3, "yesno": 3,
        "truefalse": 2, "file": 2, "notes": 2, "calc": 2, "descriptive": 1}
    assert df["branching_logic"].drop_nulls().len() == 7
    assert d.fields["prereq_checkbox"].choices["ABC"] == "CheckboxABC"
    assert sum("___" in c for c in d.export_columns()) == 10


def test_the_dictionary_types_decodes_and_drops_in_c4():
    r = read_redcap_export(C4, C5)
    assert r.dictionary == C5.name
    rows = r.rows.filter(pl.col("record_id") == "2")
    by_field = {f: (v, lab, t, typed) for f, v, lab, t, typed in rows.select(
        "field", "value", "value_label", "value_type", "value_typed").iter_rows()}
    # values read off line 4 of the export, labels off the dictionary
    assert by_field["number_1dp_comma_test"] == ("36,5", None, "number", "36.5")
    assert by_field["number_2dp_comma_test"] == ("18,80", None, "number", "18.80")
    assert by_field["date_dmy_test"] == ("2024-02-22", None, "date", "2024-02-22")
    assert by_field["datetime_dmy_hm_test"][3] == "2023-08-04 02:45:00"
    assert by_field["time_mmss_test"][3] == "00:56:35"
    assert by_field["treatment"][:2] == ("2", "Treatment")
    assert by_field["radio_test"][:2] == ("a", "Carnation")
    assert by_field["prereq_checkbox___abc"][1:3] == ("CheckboxABC", "checkbox")
    # 19 rows hold a decimal-comma value in each comma field; all of them type
    for f in ("number_1dp_comma_test", "number_2dp_comma_test"):
        vals = r.rows.filter((pl.col("field") == f) & pl.col("value").is_not_null())
        assert vals.height == 19 and vals["value_typed"].null_count() == 0
        assert not any(p.column == f for p in r.problems)
    # a notes field, file and signature fields, e-mail/phone/zip validations: dropped
    assert {"notes_test", "file_upload_test", "signature_test", "email_test", "phone_test",
            "zipcode_test", "row_purpose"} <= set(r.dropped)
    assert r.problems == []  # " -100" in prereq_number is a number once its space is trimmed


def test_c1_with_its_dictionary_drops_identifiers_and_decodes_choices():
    r = read_redcap_export(C1, C2)
    assert {c for c, why in r.dropped.items() if why == "identifier in the dictionary"} == {
        "first_name", "last_name", "telephone_1", "email", "dob"}
    enrol = r.rows.filter((pl.col("record_id") == "100") & (pl.col("row_number") == 2))
    lab = dict(enrol.select("field", "value_label").iter_rows())
    assert lab["ethnicity"] == "Hispanic or Latino" and lab["race"] == "White"  # codes 0, 4
    assert lab["gym___0"] == "Monday"
    assert r.problems == []


# ---------------------------------------------------------------- a hand-made 3-form export

HEADER = ["pid", "redcap_event_name", "redcap_repeat_instrument", "redcap_repeat_instance",
          "redcap_data_access_group", "first_name", "age", "sex", "race___1", "race___2",
          "demographics_complete", "visit_date", "weight", "visit_complete", "ae_term",
          "ae_grade", "adverse_events_complete"]
ROWS = [  # lines 2-6
    ["P1", "baseline_arm_1", "", "", "site_a", "Ann", "54", "1", "1", "0", "2",
     "2024-01-05", "72,5", "1", "", "", ""],
    ["P1", "week_4_arm_1", "", "", "site_a", "", "", "", "", "", "",
     "2024-02-02", "", "0", "", "", ""],
    ["P1", "week_4_arm_1", "adverse_events", "1", "site_a", "", "", "", "", "", "",
     "", "", "", "Headache", "1", "2"],
    ["P1", "week_4_arm_1", "adverse_events", "2", "site_a", "", "", "", "", "", "",
     "", "", "", "Nausea", "", "0"],
    ["P2", "baseline_arm_1", "", "", "site_b", "Bob", "61", "2", "0", "0", "0",
     "", "", "2", "", "", "0"],
]
# (line, form, record, event, repeat instrument, instance, group, form status, field, value):
# a form yields rows where one of its fields is filled (a checkbox when 1), or its status is
# 1/2 (P2's visit: status 2, nothing filled); a repeat row only its instrument; status 0 with
# nothing filled (P2's adverse_events) is no data; first_name is dropped.
EXPECTED = [
    (2, "demographics", "P1", "baseline_arm_1", None, None, "site_a", "2", "age", "54"),
    (2, "demographics", "P1", "baseline_arm_1", None, None, "site_a", "2", "sex", "1"),
    (2, "demographics", "P1", "baseline_arm_1", None, None, "site_a", "2", "race___1", "1"),
    (2, "demographics", "P1", "baseline_arm_1", None, None, "site_a", "2", "race___2", "0"),
    (2, "visit", "P1", "baseline_arm_1", None, None, "site_a", "1", "visit_date", "2024-01-05"),
    (2, "visit", "P1", "baseline_arm_1", None, None, "site_a", "1", "weight", "72,5"),
    (3, "visit", "P1", "week_4_arm_1", None, None, "site_a", "0", "visit_date", "2024-02-02"),
    (3, "visit", "P1", "week_4_arm_1", None, None, "site_a", "0", "weight", None),
    (4, "adverse_events", "P1", "week_4_arm_1", "adverse_events", "1", "site_a", "2",
     "ae_term", "Headache"),
    (4, "adverse_events", "P1", "week_4_arm_1", "adverse_events", "1", "site_a", "2",
     "ae_grade", "1"),
    (5, "adverse_events", "P1", "week_4_arm_1", "adverse_events", "2", "site_a", "0",
     "ae_term", "Nausea"),
    (5, "adverse_events", "P1", "week_4_arm_1", "adverse_events", "2", "site_a", "0",
     "ae_grade", None),
    (6, "demographics", "P2", "baseline_arm_1", None, None, "site_b", "0", "age", "61"),
    (6, "demographics", "P2", "baseline_arm_1", None, None, "site_b", "0", "sex", "2"),
    (6, "demographics", "P2", "baseline_arm_1", None, None, "site_b", "0", "race___1", "0"),
    (6, "demographics", "P2", "baseline_arm_1", None, None, "site_b", "0", "race___2", "0"),
    (6, "visit", "P2", "baseline_arm_1", None, None, "site_b", "2", "visit_date", None),
    (6, "visit", "P2", "baseline_arm_1", None, None, "site_b", "2", "weight", None),
]
LONG = ["row_number", "form", "record_id", "redcap_event_name", "redcap_repeat_instrument",
        "redcap_repeat_instance", "redcap_data_access_group", "form_complete", "field", "value"]
DICTIONARY = [  # field, form, type, choices, validation, min, max, identifier
    ("pid", "demographics", "text", "", "", "", "", ""),
    ("first_name", "demographics", "text", "", "", "", "", "y"),
    ("age", "demographics", "text", "", "integer", "18", "99", ""),
    ("sex", "demographics", "radio", "1, Female | 2, Male", "", "", "", ""),
    ("race", "demographics", "checkbox", "1, Asian | 2, White", "", "", "", ""),
    ("visit_date", "visit", "text", "", "date_dmy", "", "", ""),
    ("weight", "visit", "text", "", "number_1dp_comma_decimal", "30", "250", ""),
    ("ae_term", "adverse_events", "text", "", "", "", "", ""),
    ("ae_grade", "adverse_events", "dropdown", "1, Mild | 2, Moderate | 3, Severe", "", "",
     "", ""),
]


def csv_text(rows: list[list[str]]) -> str:
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerows(rows)
    return buf.getvalue()


def export_file(tmp_path: Path, rows=ROWS, name: str = "project.csv") -> Path:
    p = tmp_path / name
    p.write_text(csv_text([HEADER, *rows]))
    return p


def dictionary_file(tmp_path: Path, fields=DICTIONARY, name: str = "dictionary.csv") -> Path:
    from isletflow.readers.redcap_dictionary import DICTIONARY_HEADER

    p = tmp_path / name
    p.write_text(csv_text([list(DICTIONARY_HEADER)] + [
        [f, form, "", ftype, f.replace("_", " "), choices, "", val, lo, hi, ident,
         "", "", "", "", "", "", ""] for f, form, ftype, choices, val, lo, hi, ident in fields]))
    return p


def test_a_three_form_export_splits_into_the_long_rows_written_by_hand(tmp_path):
    fmt, df, problems = read_export(export_file(tmp_path))
    assert fmt == "redcap" and problems == []
    assert df.select(LONG).rows() == EXPECTED
    assert df["value_type"].null_count() == df.height  # no dictionary: values as exported


def test_the_record_id_column_is_found_by_structure_not_by_name(tmp_path):
    p = tmp_path / "classic.csv"  # no redcap_* column: a form status column last
    p.write_text("subject,age,demographics_complete\nS-1,40,2\n")
    r = read_redcap_export(p)
    assert detect_format(p) == "redcap" and r.record_id_column == "subject"
    assert r.rows.select("record_id", "form", "field", "value").rows() == [
        ("S-1", "demographics", "age", "40")]


def test_the_dictionary_types_decodes_and_assigns_forms(tmp_path):
    r = read_redcap_export(export_file(tmp_path), dictionary_file(tmp_path))
    assert r.problems == []
    got = {(n, f): (lab, t, typed) for n, f, lab, t, typed in r.rows.select(
        "row_number", "field", "value_label", "value_type", "value_typed").iter_rows()}
    assert got[(2, "weight")] == (None, "number", "72.5")  # number_1dp_comma_decimal "72,5"
    assert got[(2, "visit_date")] == (None, "date", "2024-01-05")  # exported Y-M-D
    assert got[(2, "sex")] == ("Female", "choice", "1")
    assert got[(6, "sex")] == ("Male", "choice", "2")
    assert got[(2, "race___1")] == ("Asian", "checkbox", "1")
    assert got[(2, "race___2")] == ("White", "checkbox", "0")
    assert got[(4, "ae_grade")] == ("Mild", "choice", "1")
    assert got[(2, "age")] == (None, "integer", "54")
    # the dictionary puts weight in demographics: it overrides the position rule
    moved = [f if f[0] != "weight" else ("weight", "demographics", *f[2:]) for f in DICTIONARY]
    r = read_redcap_export(export_file(tmp_path), dictionary_file(tmp_path, moved, "d2.csv"))
    assert set(r.rows.filter(pl.col("field") == "weight")["form"]) == {"demographics"}
    assert r.rows.filter(pl.col("form") == "visit").select("row_number", "field").rows() == [
        (2, "visit_date"), (3, "visit_date"), (6, "visit_date")]


def test_values_that_do_not_fit_the_dictionary_are_row_problems(tmp_path):
    rows = [list(r) for r in ROWS]
    rows[0][11] = "2024-02-30"   # line 2 visit_date: no such day
    rows[1][12] = "72.5"         # line 3 weight: a point where the validation has a comma
    rows[4][6] = "16"            # line 6 age: below the minimum 18
    rows[4][7] = "3"             # line 6 sex: not a choice
    r = read_redcap_export(export_file(tmp_path, rows), dictionary_file(tmp_path))
    assert sorted((p.row_number, p.rule, p.column, p.value) for p in r.problems) == [
        (2, "redcap_invalid_value", "visit_date", "2024-02-30"),
        (3, "redcap_invalid_value", "weight", "72.5"),
        (6, "redcap_out_of_range", "age", "16"),
        (6, "redcap_unknown_choice", "sex", "3")]
    typed = dict(((n, f), t) for n, f, t in r.rows.select("row_number", "field",
                                                          "value_typed").iter_rows())
    assert typed[(2, "visit_date")] is None and typed[(3, "weight")] is None
    assert typed[(6, "age")] == "16"  # well-formed, out of range: typed and queried


def test_identifier_fields_are_absent_from_the_output(tmp_path):
    for dic in (None, dictionary_file(tmp_path)):
        r = read_redcap_export(export_file(tmp_path), dic)
        assert "first_name" in r.dropped and "first_name" not in set(r.rows["field"])
        assert not {"Ann", "Bob"} & cells(r.rows)
    # without a dictionary, by name; and any column whose values look like e-mails or phones
    p = tmp_path / "contact.csv"
    p.write_text("record_id,redcap_event_name,how_to_reach,mobile_no,age,contact_complete\n"
                 "1,e1,someone@example.org,+44 20 7946 0958,40,2\n")
    r = read_redcap_export(p)
    assert set(r.dropped) == {"how_to_reach", "mobile_no"} and set(r.rows["field"]) == {"age"}


# ---------------------------------------------------------------- staging and the raw table


def landing_file(path: Path, site: str = "US01", received: dt.datetime | None = None
                 ) -> LandingFile:
    return LandingFile(path, f"{site}/edc/{path.name}", site, "edc", None, sha256_of(path),
                       path.stat().st_size, received or dt.datetime(2025, 1, 1))


# One form of the trial (staging keeps the trial's fields only: config.TRIAL_REDCAP_FIELDS),
# and two versions of its dictionary: weight_kg validated as a number, then with a decimal comma.
TRIAL_EXPORT = ("record_id,redcap_event_name,enrol_date,age,weight_kg,enrolment_complete\n"
                'US01-001,screening_arm_1,2024-01-05,54,"72,5",2\n')
TRIAL_DICTIONARY = [
    ("record_id", "enrolment", "text", "", "", "", "", ""),
    ("enrol_date", "enrolment", "text", "", "date_ymd", "", "", ""),
    ("age", "enrolment", "text", "", "integer", "18", "99", ""),
    ("weight_kg", "enrolment", "text", "", "number", "30", "250", ""),
]


def test_staging_names_the_partition_after_the_export_and_its_dictionary(tmp_path):
    edc = tmp_path / "landing/US01/edc"
    edc.mkdir(parents=True)
    (edc / "enrolment.csv").write_text(TRIAL_EXPORT)
    export = landing_file(edc / "enrolment.csv")
    d1 = landing_file(dictionary_file(edc, TRIAL_DICTIONARY, "dict_v1.csv"),
                      received=dt.datetime(2025, 1, 2))
    comma = [f if f[0] != "weight_kg" else (*f[:4], "number_1dp_comma_decimal", *f[5:])
             for f in TRIAL_DICTIONARY]
    d2 = landing_file(dictionary_file(edc, comma, "dict_v2.csv"), received=dt.datetime(2025, 2, 1))
    stage = tmp_path / "stage"
    assert site_dictionaries([export, d1]) == {"US01": d1}
    assert site_dictionaries([export, d1, d2]) == {"US01": d2}  # the one received last
    assert dictionary_for(d2, {"US01": d2}) is None and dictionary_for(export, {"US01": d2}) == d2
    s0 = stage_export(export, stage)
    s1 = stage_export(export, stage, dictionary=d1)
    s2 = stage_export(export, stage, dictionary=d2)
    assert s0.parquet == staged_path(stage, "redcap", export.sha256)
    assert s1.parquet.name.startswith(f"{export.sha256}.fields-")
    assert s1.parquet.name.endswith(f".dict-{d1.sha256}.parquet")
    # another trial's field list (another digest) never reads this trial's partition
    other = staged_path(stage, "redcap", export.sha256, d1, {"enrolment": ("age",)})
    assert other != s1.parquet and other.name.endswith(f".dict-{d1.sha256}.parquet")
    assert len({s0.parquet, s1.parquet, s2.parquet}) == 3 and not s2.cached
    assert stage_export(export, stage, dictionary=d2).cached
    p2 = pl.read_parquet(s2.parquet)
    assert set(p2["dictionary_file_id"]) == {d2.file_id}
    # "72,5" is not a 'number' (d1: a query, untyped) but is a number_1dp_comma_decimal (d2)
    assert [(p.rule, p.column, p.value) for p in s1.problems] == [
        ("redcap_invalid_value", "weight_kg", "72,5")]
    assert s2.problems == ()
    sd = stage_export(d1, stage)  # the dictionary is a landing file like any other
    assert sd.error is None and sd.export_format == "redcap_dictionary" and sd.n_rows == 4
    # both partitions load into raw.redcap, and core SQL reads a form as before
    con = duckdb.connect()
    run_sql(con, "schemas.sql")
    run_sql(con, "raw/tables.sql")
    run_sql(con, "raw/load_redcap.sql", {"files": [str(s0.parquet), str(s2.parquet)]})
    run_sql(con, "raw/load_redcap_dictionary.sql", {"files": [str(sd.parquet)]})
    assert con.execute("SELECT count(*) FROM raw.redcap_dictionary").fetchone()[0] == 4
    got = con.execute("SELECT dictionary_file_id, value, TRY_CAST(value_typed AS DOUBLE) "
                      "FROM raw.redcap WHERE form = 'enrolment' AND field = 'weight_kg' "
                      "ORDER BY dictionary_file_id NULLS FIRST").fetchall()
    assert got == [(None, "72,5", None), (d2.file_id, "72,5", 72.5)]


def test_the_cache_key_changes_with_the_dictionary(tmp_path):
    from tasks.landing import staged_cache_key

    class Cfg:
        stage_dir = tmp_path / "stage"

    edc = tmp_path / "US01/edc"
    edc.mkdir(parents=True)
    export = landing_file(export_file(edc))
    d1 = landing_file(dictionary_file(edc))
    assert staged_cache_key(None, {"f": export, "cfg": Cfg, "dictionary": d1}) is None
    stage_export(export, Cfg.stage_dir, dictionary=d1)
    key = staged_cache_key(None, {"f": export, "cfg": Cfg, "dictionary": d1})
    assert key is not None and d1.sha256 in key
    assert staged_cache_key(None, {"f": export, "cfg": Cfg, "dictionary": None}) is None


# ---------------------------------------------------------------- isletflow inspect FILE


@pytest.mark.parametrize("export,records,rows,dictionary", [
    (C1, 3, 18, C2.name), (C4, 20, 40, C5.name), (C6, 2, 6, None)])
def test_inspect_a_real_export_needs_no_flags(tmp_path, export, records, rows, dictionary):
    from isletflow.cli import app

    out = tmp_path / "rows.parquet"
    r = CliRunner().invoke(app, ["inspect", str(export), "--to", str(out)],
                           env={"COLUMNS": "200"})
    assert r.exit_code == 0, r.output
    assert f"{export.name}: redcap, {rows} rows read" in r.output
    assert f"{records} records" in r.output
    assert (f"data dictionary {dictionary}" in r.output if dictionary
            else "no data dictionary beside the file" in r.output)
    written = pl.read_parquet(out)
    for phi in PHI:
        assert phi not in r.output, phi
        assert not any(phi in c for c in cells(written)), phi


def test_inspect_shows_a_form_the_trial_does_not_collect(tmp_path):
    from isletflow.cli import app

    p = tmp_path / "visits.csv"  # one form, not one of the trial's
    p.write_text("record_id,redcap_event_name,vdate,visit_complete\nUS01-001,v1,2024-01-02,2\n")
    r = CliRunner().invoke(app, ["inspect", str(p)], env={"COLUMNS": "200"})
    assert r.exit_code == 0, r.output
    assert "forms (rows with data): visit 1" in r.output and "2024-01-02" in r.output


def test_inspect_a_dictionary(tmp_path):
    from isletflow.cli import app

    r = CliRunner().invoke(app, ["inspect", str(C2)], env={"COLUMNS": "200"})
    assert r.exit_code == 0, r.output
    assert "95 fields in 9 forms" in r.output
    assert "identifier fields (dropped from the exports read with it): first_name, " \
           "last_name, telephone_1, email, dob" in r.output


def test_inspect_uses_a_dictionary_beside_the_file_only_when_it_covers_it(tmp_path):
    from isletflow.inspect import inspect_export

    shutil.copy(C4, tmp_path / C4.name)
    shutil.copy(C2, tmp_path / C2.name)  # another project's dictionary
    r = inspect_export(tmp_path / C4.name)
    assert not any("data dictionary redcap_" in d for d in r.details)
    shutil.copy(C5, tmp_path / C5.name)
    os.utime(tmp_path / C5.name)
    r = inspect_export(tmp_path / C4.name)
    assert any(d.startswith(f"data dictionary {C5.name}") for d in r.details)


def test_inspect_of_a_gzipped_export_finds_the_dictionary_beside_the_archive(tmp_path):
    import gzip

    from isletflow.inspect import inspect_export

    (tmp_path / f"{C1.name}.gz").write_bytes(gzip.compress(C1.read_bytes()))
    shutil.copy(C2, tmp_path / C2.name)
    r = inspect_export(tmp_path / f"{C1.name}.gz")
    assert any(d.startswith(f"data dictionary {C2.name}") for d in r.details)
    assert r.rows_read == 18
