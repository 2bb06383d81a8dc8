"""REDCap exports as the nightly stages them: the trial's fields only (the trial file's field
map, Trial.redcap_fields), personal data named in many ways, value problems shown by
their shape, and trial fields that a missing ``<form>_complete`` column would put in another
form. Every export here is hand-made; the expected rows and names are read off it."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import re
from pathlib import Path

import polars as pl
import pytest

from isletflow.config import PROJECT_ROOT
from isletflow.trial import REDCAP_COLUMNS, load_trial
from isletflow.demo.redcap import Dictionary, dictionary_csv
from isletflow.inspect import inspect_export
from isletflow.landing import LandingFile, sha256_of
from isletflow.readers.redcap import personal_data_reason, read_redcap_export
from isletflow.readers.redcap_dictionary import DICTIONARY_HEADER
from isletflow.staging import stage_export

TRIAL_REDCAP_FIELDS = load_trial().redcap_fields  # the sample trial's (trials/islet-101.toml)


def landing_file(path: Path, site: str = "US01") -> LandingFile:
    return LandingFile(path, f"{site}/edc/{path.name}", site, "edc", None, sha256_of(path),
                       path.stat().st_size, dt.datetime(2025, 1, 1))


def write(path: Path, rows: list[list[str]]) -> Path:
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerows(rows)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(buf.getvalue())
    return path


def dictionary(path: Path, fields: list[tuple[str, str, str, str]]) -> Path:
    """A data dictionary of (field, form, field type, validation) rows."""
    return write(path, [list(DICTIONARY_HEADER)] + [
        [f, form, "", ftype, f, "", "", val, "", "", "", "", "", "", "", "", "", ""]
        for f, form, ftype, val in fields])


def staged(tmp_path: Path, name: str, rows: list[list[str]], dic: Path | None = None):
    """Stage a hand-made export as the nightly does; its partition's rows and the problems."""
    f = landing_file(write(tmp_path / "US01/edc" / name, rows))
    d = landing_file(dic) if dic else None
    s = stage_export(f, tmp_path / "stage", dictionary=d)
    assert s.error is None, s.error
    return pl.read_parquet(s.parquet), s


def cells(df: pl.DataFrame) -> set[str]:
    return {str(v) for col in df.columns for v in df[col].to_list() if v is not None}


# ---------------------------------------------------------------- the trial's field list


def test_the_core_sql_reads_the_columns_the_trial_file_maps_and_names_no_redcap_field():
    # each core script reads one core table's columns from redcap_values (the trial file's
    # field map, sql/core/00b_redcap_values.sql): exactly the columns a trial may map, and
    # never a REDCap form or field name of its own
    read: dict[str, tuple[str, ...]] = {}
    for sql in sorted((PROJECT_ROOT / "sql/core").glob("0*.sql")):
        text = sql.read_text()
        assert not re.search(r"\b(field|form)\s*=\s*'", text), sql.name
        tables = re.findall(r"FROM redcap_values WHERE core_table\s*=\s*'(\w+)'", text)
        if tables:
            assert len(tables) == 1, sql.name  # one core table per script
            read[tables[0]] = tuple(re.findall(r"\bcolumn_name\s*=\s*'(\w+)'", text))
    assert read == {t: tuple(cols) for t, cols in REDCAP_COLUMNS.items()}


def test_the_sample_trial_keeps_its_fields_per_form():
    assert TRIAL_REDCAP_FIELDS["enrolment"] == ("enrol_date", "age", "sex", "weight_kg",
                                                "t1d_duration_y")
    assert TRIAL_REDCAP_FIELDS["adverse_events"] == ("ae_term", "ae_soc", "ae_onset_date",
                                                     "ae_serious", "ae_grade", "ae_outcome")
    assert len(TRIAL_REDCAP_FIELDS) == 7 and sum(map(len, TRIAL_REDCAP_FIELDS.values())) == 27


def test_no_trial_field_is_named_like_personal_data():
    # else the nightly would drop a field the trial reads
    for form, fields in TRIAL_REDCAP_FIELDS.items():
        for f in fields:
            assert personal_data_reason(f) is None, (form, f)


@pytest.mark.parametrize("name", [
    "firstname", "lastname", "BRTHDAT", "brthdtc", "dm_brthdat", "birth_dt", "dateofbirth",
    "pt_name", "name_first", "hospital_number", "nhs_no", "comment", "comments_other",
    "ae_comment", "first_name", "dob"])
def test_personal_data_names(name):
    assert personal_data_reason(name) == "personal-data field name"


# ---------------------------------------------------------------- item 1: the allow-list

HEADER = ["record_id", "redcap_event_name", "redcap_repeat_instrument", "redcap_repeat_instance",
          "redcap_data_access_group", "firstname", "brthdat", "enrol_date", "age", "sex",
          "weight_kg", "t1d_duration_y", "race___1", "race___2", "hospital_number",
          "ethnicity_other", "enrolment_complete", "ae_term", "ae_soc", "ae_onset_date",
          "ae_serious", "ae_grade", "ae_outcome", "ae_narrative", "adverse_events_complete"]
ROWS = [  # lines 2-3: record 1's enrolment; its first AE
    ["US01-001", "screening_arm_1", "", "", "us01", "Ann", "1970-05-06", "2024-01-05", "54",
     "1", "72.5", "20", "0", "1", "H1234567", "Ann says", "2", "", "", "", "", "", "", "", ""],
    ["US01-001", "follow_up_arm_1", "adverse_events", "1", "us01", "", "", "", "", "", "", "",
     "", "", "", "", "", "Headache", "Nervous system disorders", "2024-02-02", "0", "1", "1",
     "Ann Smith rang on Tuesday", "2"],
]
PHI = ("Ann", "1970-05-06", "H1234567", "Tuesday")


def test_staging_keeps_the_trial_fields_and_names_the_others_once(tmp_path):
    df, s = staged(tmp_path, "project.csv", [HEADER, *ROWS])
    # line 2: the 5 enrolment fields; line 3: the 6 adverse-event fields
    assert df.select("row_number", "form", "field", "value").rows() == [
        (2, "enrolment", "enrol_date", "2024-01-05"), (2, "enrolment", "age", "54"),
        (2, "enrolment", "sex", "1"), (2, "enrolment", "weight_kg", "72.5"),
        (2, "enrolment", "t1d_duration_y", "20"),
        (3, "adverse_events", "ae_term", "Headache"),
        (3, "adverse_events", "ae_soc", "Nervous system disorders"),
        (3, "adverse_events", "ae_onset_date", "2024-02-02"),
        (3, "adverse_events", "ae_serious", "0"), (3, "adverse_events", "ae_grade", "1"),
        (3, "adverse_events", "ae_outcome", "1")]
    assert set(df["redcap_data_access_group"]) == {"us01"}
    # one warning for the file, names only, in header order (a checkbox field once)
    assert [(p.row_number, p.rule, p.value) for p in s.problems] == [
        (None, "redcap_fields_not_collected", None)]
    assert s.problems[0].message == (
        "6 field(s) the trial does not collect (or personal data) were not loaded, their "
        "values not stored: firstname, brthdat, race, hospital_number, ethnicity_other, "
        "ae_narrative")
    meta = pl.read_parquet_metadata(s.parquet)["problems"]
    for phi in PHI:
        assert not any(phi in c for c in cells(df)), phi
        assert phi not in meta, phi


def test_inspect_keeps_the_fields_of_a_foreign_export(tmp_path):
    p = write(tmp_path / "project.csv", [HEADER, *ROWS])
    r = inspect_export(p)
    # every field that is not named like personal data, whether the trial reads it or not
    assert r.dropped_columns == ["firstname", "brthdat", "hospital_number"]
    rc = read_redcap_export(p)
    assert {"race___1", "ethnicity_other", "ae_narrative"} <= set(rc.rows["field"])
    assert not {"firstname", "brthdat", "hospital_number"} & set(rc.rows["field"])


def test_the_sample_trials_whole_project_export_keeps_what_core_reads(tmp_path):
    """The GB01 layout (isletflow/demo/redcap.py): every form with dob and race___1..5, read
    with its dictionary; one enrolment row and one adverse event, values written here."""
    cols = ["record_id", "redcap_event_name", "redcap_repeat_instrument",
            "redcap_repeat_instance", "redcap_data_access_group"]
    project = Dictionary.read(PROJECT_ROOT / "trials" / "islet-101.redcap-dictionary.csv")
    for form in project.forms:
        cols += [c for f in project.form_fields(form) if f.name != "record_id"
                 for c in f.columns()]
        cols.append(f"{form}_complete")
    values = {"dob": "1971-02-03", "enrol_date": "2024-01-05", "age": "52", "sex": "2",
              "weight_kg": "80", "t1d_duration_y": "30", "race___5": "1",
              "enrolment_complete": "2"}
    row = ["GB01-001", "screening_arm_1", "", "", "gb01_london"] + [values.get(c, "")
                                                                    for c in cols[5:]]
    ae = {"ae_term": "Neutropenia", "ae_soc": "Blood", "ae_onset_date": "2024-03-01",
          "ae_serious": "1", "ae_grade": "3", "ae_action_taken": "2", "ae_outcome": "1",
          "adverse_events_complete": "2"}
    row2 = ["GB01-001", "follow_up_arm_1", "adverse_events", "1", "gb01_london"] + [
        ae.get(c, "") for c in cols[5:]]
    dic = tmp_path / "dict.csv"
    dic.write_bytes(dictionary_csv(amended=True))
    df, s = staged(tmp_path, "IsletTrial_DATA.csv", [cols, row, row2], dic)
    got = {form: tuple(part["field"]) for (form,), part in
           df.group_by(["form"], maintain_order=True)}
    assert got == {"enrolment": TRIAL_REDCAP_FIELDS["enrolment"],
                   "adverse_events": TRIAL_REDCAP_FIELDS["adverse_events"]}
    assert [p.message.split(": ")[-1] for p in s.problems] == ["dob, race, ae_action_taken"]
    assert "1971-02-03" not in cells(df)


def test_a_header_only_export_is_still_header_only(tmp_path):
    f = landing_file(write(tmp_path / "US01/edc/ae.csv", [HEADER]))
    s = stage_export(f, tmp_path / "stage")
    assert (s.error_rule, s.problems) == ("header_only", ())


# ---------------------------------------------------------------- item 2: shapes, not values

DATE_DICTIONARY = [("record_id", "enrolment", "text", ""),
                   ("enrol_date", "enrolment", "text", "date_ymd"),
                   ("age", "enrolment", "text", "integer"),
                   ("weight_kg", "enrolment", "text", "number")]


def test_a_name_typed_into_a_date_field_is_shown_by_its_shape(tmp_path):
    rows = [["record_id", "redcap_event_name", "enrol_date", "age", "weight_kg",
             "enrolment_complete"],
            ["US01-001", "screening_arm_1", "Ann Smith", "54", "72.5", "2"],     # line 2
            ["US01-002", "screening_arm_1", "2024-02-30", "4x", "1,234,567", "2"],  # line 3
            ["US01-003", "screening_arm_1", "05/01/2024", "61", "80 kg", "2"]]   # line 4
    dic = dictionary(tmp_path / "dict.csv", DATE_DICTIONARY)
    df, s = staged(tmp_path, "enrolment.csv", rows, dic)
    # a plain number or date is shown as exported; anything else by its shape
    assert [(p.row_number, p.rule, p.column, p.value) for p in s.problems] == [
        (2, "redcap_invalid_value", "enrol_date", "AAA AAAAA"),
        (3, "redcap_invalid_value", "enrol_date", "2024-02-30"),
        (3, "redcap_invalid_value", "age", "9A"),
        (3, "redcap_invalid_value", "weight_kg", "9,999,999"),
        (4, "redcap_invalid_value", "enrol_date", "05/01/2024"),
        (4, "redcap_invalid_value", "weight_kg", "99 AA")]
    assert "'AAA AAAAA' is not a date YYYY-MM-DD" in s.problems[0].message
    # the warehouse row keeps the shape too (core reads no date from it either way)
    value = dict(((n, f), v) for n, f, v in df.select("row_number", "field", "value").iter_rows())
    assert value[(2, "enrol_date")] == "AAA AAAAA" and value[(3, "enrol_date")] == "2024-02-30"
    assert value[(2, "weight_kg")] == "72.5"
    everything = cells(df) | {p.message for p in s.problems} | {
        pl.read_parquet_metadata(s.parquet)["problems"]}
    assert not any("Ann" in c or "Smith" in c or "80 kg" in c for c in everything)
    assert json.loads(pl.read_parquet_metadata(s.parquet)["problems"])[0]["value"] == "AAA AAAAA"


# ---------------------------------------------------------------- item 3: the wrong form


def test_a_missing_form_status_is_an_error_not_a_silent_move(tmp_path):
    rows = [["record_id", "redcap_event_name", "ae_term", "ae_serious", "dm_age",
             "demographics_complete"],
            ["US01-001", "follow_up_arm_1", "Headache", "0", "", "2"]]
    f = landing_file(write(tmp_path / "US01/edc/ae.csv", rows))
    s = stage_export(f, tmp_path / "stage")
    assert s.error is None and s.n_rows == 0  # nothing of the trial's is loaded
    assert [(p.row_number, p.rule) for p in s.problems] == [
        (None, "redcap_field_in_wrong_form"), (None, "redcap_fields_not_collected")]
    assert s.problems[0].message == (
        "the trial's adverse_events field(s) ae_term, ae_serious stand before "
        "demographics_complete, so they were read as form demographics: the export lacks "
        "adverse_events_complete? Export with the form status columns; these fields are not "
        "loaded")
    assert s.problems[1].message.endswith(": dm_age")


def test_fields_of_a_form_without_its_status_do_not_make_rows_of_the_next_form(tmp_path):
    # the AE form's status is missing: its fields stand before enrolment_complete
    rows = [["record_id", "redcap_event_name", "ae_term", "ae_grade", "enrol_date", "age",
             "enrolment_complete"],
            ["US01-001", "screening_arm_1", "", "", "2024-01-05", "54", "2"],    # line 2
            ["US01-001", "follow_up_arm_1", "Headache", "1", "", "", ""]]        # line 3
    df, s = staged(tmp_path, "project.csv", rows)
    assert df.select("row_number", "form", "field", "value").rows() == [
        (2, "enrolment", "enrol_date", "2024-01-05"), (2, "enrolment", "age", "54")]
    assert [p.rule for p in s.problems] == ["redcap_field_in_wrong_form"]
    assert "ae_term, ae_grade stand before enrolment_complete" in s.problems[0].message


def test_a_trial_field_the_dictionary_puts_in_another_form_is_an_error(tmp_path):
    rows = [["record_id", "redcap_event_name", "ae_term", "aes_complete"],
            ["US01-001", "follow_up_arm_1", "Headache", "2"]]
    dic = dictionary(tmp_path / "dict.csv", [("record_id", "aes", "text", ""),
                                             ("ae_term", "aes", "text", "")])
    f = landing_file(write(tmp_path / "US01/edc/aes.csv", rows))
    s = stage_export(f, tmp_path / "stage", dictionary=landing_file(dic))
    assert [p.rule for p in s.problems] == ["redcap_field_in_wrong_form"]
    assert s.problems[0].message == (
        "the data dictionary dict.csv puts the trial's adverse_events field(s) ae_term in form "
        "aes; the trial reads them from form adverse_events; these fields are not loaded")


def test_a_data_field_ending_in_complete_is_not_a_form_status(tmp_path):
    # course_complete holds a date: a data field of the infusion form, not a form "course"
    header = ["record_id", "redcap_event_name", "infusion_date", "course_complete",
              "dose_fraction", "infusion_complete"]
    rows = [header, ["US01-001", "day_0_arm_1", "2024-01-10", "2024-01-12", "1", "2"],
            ["US01-002", "day_0_arm_1", "2024-01-11", "", "0.5", "2"]]
    r = read_redcap_export(write(tmp_path / "a.csv", rows))
    assert r.forms == {"infusion": 2}
    assert r.rows.filter(pl.col("row_number") == 2).select("form", "field", "value").rows() == [
        ("infusion", "infusion_date", "2024-01-10"), ("infusion", "course_complete", "2024-01-12"),
        ("infusion", "dose_fraction", "1")]
    df, s = staged(tmp_path, "b.csv", rows)
    assert set(df["form"]) == {"infusion"}
    assert set(df["field"]) == {"infusion_date", "dose_fraction"}
    assert [p.message.split(": ")[-1] for p in s.problems] == ["course_complete"]
    # values that are all statuses (empty, 0, 1, 2) make it a form status, as REDCap writes
    rows[1][3] = "1"
    rows[2][3] = ""
    r = read_redcap_export(write(tmp_path / "c.csv", rows))
    # (then infusion_date, before it, is read as form "course": a dictionary tells them apart)
    assert r.forms == {"course": 2, "infusion": 2}


def test_what_the_site_must_answer_and_what_is_only_recorded(tmp_path):
    """Through the night's build: fields the trial does not collect are recorded once per site
    (info, not a query); a trial field in the wrong form is an error query to the site."""
    import datetime as dt
    import os

    from isletflow.warehouse import connect
    from nightly_steps import build_night

    edc = tmp_path / "landing/US01/edc"
    edc.mkdir(parents=True)
    header = "record_id,redcap_event_name,enrol_date,age,sex,weight_kg,t1d_duration_y,hobby," \
             "enrolment_complete"
    for week in (1, 2):  # the project exported twice (a weight corrected): the same extra field
        p = edc / f"enrolment_week{week}.csv"
        p.write_text(f"{header}\nUS01-001,screening_arm_1,2024-01-05,54,1,7{week}.5,20,chess,2\n")
        stamp = dt.datetime(2024, 1, 7 * week, 6, tzinfo=dt.UTC).timestamp()
        os.utime(p, (stamp, stamp))
    (edc / "ae_week2.csv").write_text(
        "record_id,redcap_event_name,ae_term,ae_serious,dm_age,demographics_complete\n"
        "US01-001,follow_up_arm_1,Headache,0,54,2\n")
    build, _ = build_night(tmp_path / "landing", tmp_path / "work")
    with connect(build, read_only=True) as con:
        recorded = con.sql("SELECT rule, severity, message FROM quality.issues "
                           "WHERE rule = 'redcap_fields_not_collected' ORDER BY message"
                           ).fetchall()
        listed = {r[0] for r in con.sql("SELECT rule FROM quality.site_queries").fetchall()}
    # one line per set of fields: week 2 repeats week 1's 'hobby', the AE file has its own
    assert [(r, s) for r, s, _ in recorded] == [("redcap_fields_not_collected", "info")] * 2
    assert recorded[1][2].endswith("hobby (the same in the site's 1 later export(s))")
    assert "redcap_fields_not_collected" not in listed
    assert "redcap_field_in_wrong_form" in listed
