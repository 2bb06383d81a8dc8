"""EDC checks from the REDCap data dictionary (schemas/redcap_suites.py): GX suites built from
the real dictionaries C2 and C5 of ../shared/reference/real (counts read off the CSVs and
PROVENANCE.md section C), the real exports C1 and C4 against their own dictionaries, and
hand-made long rows (raw.redcap's shape) with one bad value per rule."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import polars as pl
import pytest

from isletflow.config import PROJECT_ROOT
from isletflow.quality import ISSUE_SCHEMA
from isletflow.readers.redcap import read_redcap_export
from isletflow.readers.redcap_dictionary import DICTIONARY_HEADER, RedcapDictionary
from schemas.redcap_suites import (INVALID, OUT_OF_RANGE, REQUIRED_MISSING, UNKNOWN_CHOICE,
                                   edc_issues, suites_from_dictionary, typed_column)

REAL = PROJECT_ROOT.parent / "shared/reference/real"
C1 = REAL / "redcap_longitudinal_2arms_checkbox_redcapr.csv"
C2 = REAL / "redcap_dictionary_longitudinal_redcapr.csv"
C4 = REAL / "redcap_event_repeat_dag_redcapapi.csv"
C5 = REAL / "redcap_dictionary_redcapapi.csv"
real = pytest.mark.skipif(not REAL.is_dir(), reason="real reference files not present")
RULES = {INVALID, OUT_OF_RANGE, UNKNOWN_CHOICE, REQUIRED_MISSING}


def counts(suites) -> dict[str, int]:
    return {form: len(s.expectations) for form, s in suites.items()}


def rules(suites) -> dict[str, int]:
    out: dict[str, int] = {}
    for s in suites.values():
        for e in s.expectations:
            out[e.meta["rule"]] = out.get(e.meta["rule"], 0) + 1
    return out


# ------------------------------------------------------------------ suites of the real dictionaries

@real
def test_c2_suites_per_form():
    """C2 (95 fields, 9 forms). Per form, from the CSV: a date_ymd field 2 (exported form, real
    date), a number/integer/phone/email field 1 (+1 with a min or max), a radio/dropdown/yesno
    1, a checkbox 1 per choice, the slider 2 (whole number, 0-100); calc, notes, file, plain
    text 0; no field is required."""
    suites = suites_from_dictionary(RedcapDictionary.from_file(C2))
    assert counts(suites) == {
        # date_enrolled 2, telephone_1 1, email 1, dob 2, ethnicity/race/sex/given_birth 4,
        # num_children 2 (min 0), gym/aerobics/eat/drink 4 x 5 choices, specify_mood 2,
        # meds 5 choices, height 2 (130-215), weight 2 (35-200)
        "demographics": 43,
        "contact_info": 4,                    # 2 phones, 2 radios
        "baseline_data": 7,                   # 7 numbers/integers, bmi2 is calc
        "visit_lab_data": 5,
        "patient_morale_questionnaire": 4,
        "visit_blood_workup": 9,              # 5 numbers, 4 choices
        "visit_observed_behavior": 12,        # 12 radios, 2 notes
        "completion_data": 15,                # 4 date_ymd (creat_4 too) x 2, 3 numbers, 4 dropdowns
        "completion_project_questionnaire": 15,  # 2 dates x 2, 4 integers, 7 dropdowns/radio
    }
    # by rule, from PROVENANCE.md C2: radio 20 + dropdown 15 + yesno 1 choice lists; 40
    # validated text fields (number 19, integer 9, date_ymd 8, phone 3, email 1) + 8 real-date
    # checks + the slider's whole number + 25 checkbox columns; 4 ranges (num_children,
    # height, weight, the slider)
    assert rules(suites) == {UNKNOWN_CHOICE: 36, INVALID: 40 + 8 + 1 + 25, OUT_OF_RANGE: 4}


@real
def test_c5_suites_per_form():
    """C5 (57 fields, 11 forms): dates, date-times and HH:MM times 2 each, time_mm_ss 1,
    sliders 2 each (C5's slider_no_label_test has Text Validation Max 50)."""
    dic = RedcapDictionary.from_file(C5)
    suites = suites_from_dictionary(dic)
    assert counts(suites) == {
        "record_id": 0, "randomization": 1,
        "text_fields": 4,           # email, alpha_only, phone, zipcode; text_test has none
        "dates_and_times": 21,      # 3 dates + 6 date-times + time: 10 x 2, time_mm_ss 1
        "numbers": 6, "slider_fields": 6,
        "multiple_choice": 7,       # checkbox x/y/z 3, dropdown, radio, truefalse, yesno
        "files_notes_descriptions": 0, "calculated_fields": 2,  # the operands; calc 0
        # prereq_radio 1, prereq_checkbox 4, prereq_number 1, prereq_date 2, prereq_yesno 1,
        # no_prereq_number 1, no_prereq_checkbox 3, one_prereq_non_checkbox 1,
        # one_prereq_checkbox 2 (date_ymd), two_prereq_and 1, two_prereq_or 1,
        # three_prereq_andor 1, one_prereq_inequality 1
        "branching_logic": 20,
        "repeating_instrument": 2,  # repeat_datetime (datetime_dmy)
    }
    slider = {e.meta["field"]: e for e in suites["slider_fields"].expectations
              if e.meta["rule"] == OUT_OF_RANGE}
    assert (slider["slider_no_label_test"].min_value,
            slider["slider_no_label_test"].max_value) == (0, 50)
    assert slider["slider_show_number_test"].max_value == 100  # REDCap's default
    assert slider["slider_no_label_test"].column == typed_column("slider_no_label_test")
    # the checkbox code ABC is the lower-case column suffix (PROVENANCE.md C4)
    columns = {e.meta["column"] for e in suites["branching_logic"].expectations}
    assert "prereq_checkbox___abc" in columns
    # every expectation names its field and one of the four rules
    for form, s in suites.items():
        for e in s.expectations:
            assert e.meta["form"] == form and e.meta["rule"] in RULES
            assert dic.fields[e.meta["field"]].form == form
    assert counts(suites_from_dictionary(dic, ["numbers", "randomization"])) == {
        "numbers": 6, "randomization": 1}
    with pytest.raises(ValueError, match="no_such_form"):
        suites_from_dictionary(dic, ["no_such_form"])


@real
@pytest.mark.parametrize("export,dictionary", [(C1, C2), (C4, C5)])
def test_real_exports_pass_their_own_dictionary(export, dictionary):
    """REDCap validated every value of C1 and C4 when it was entered (and the export reader
    finds no value problem in them): their long rows give no issue, neither as the reader
    loads them nor with every column (the identifiers, e-mails, phones and ZIP codes the
    reader drops included)."""
    dic = RedcapDictionary.from_file(dictionary)
    loaded = read_redcap_export(export, dic).rows.with_columns(file_id=pl.lit("f1"))
    assert loaded.height > 0 and edc_issues(loaded, dic).height == 0
    everything = unpivot(pl.read_csv(export, infer_schema=False))
    assert {"email_test", "phone_test", "zipcode_test", "email", "dob"} & set(
        everything["field"])
    assert edc_issues(everything, dic).height == 0


def unpivot(export: pl.DataFrame, file_id: str = "f1") -> pl.DataFrame:
    """A flat export (as read, text) as raw.redcap-shaped long rows of every data column;
    row_number is the line in the file (header = line 1)."""
    rid = export.columns[0]
    system = [c for c in export.columns if c.startswith("redcap_")]
    data = [c for c in export.columns[1:] if c not in system and not c.endswith("_complete")]
    return (export.with_row_index("row_number", offset=2)
            .with_columns(pl.col("row_number").cast(pl.Int64))
            .rename({rid: "record_id"})
            .unpivot(index=["row_number", "record_id", *system], on=data,
                     variable_name="field", value_name="value")
            .with_columns(file_id=pl.lit(file_id)))


@real
def test_an_identifier_fields_value_never_appears():
    """C1 line 2 is record 100's enrolment row; its dob (Identifier? = y in C2) is given a
    name: the issue names the field and row, never the value nor its shape."""
    export = pl.read_csv(C1, infer_schema=False).with_row_index("line", offset=2)
    export = export.with_columns(dob=pl.when(pl.col("line") == 2).then(pl.lit("Zharko Lenox"))
                                 .otherwise(pl.col("dob"))).drop("line")
    issues = edc_issues(unpivot(export), RedcapDictionary.from_file(C2))
    assert issues.select("source_row", "rule", "column_name", "value").rows() == [
        (2, INVALID, "dob", None)]
    text = " ".join(str(v) for v in issues.row(0))
    assert "Zharko" not in text and "Lenox" not in text and "AAAAAA" not in text


# ---------------------------------------------------------------- hand-made dictionary and rows

# (field, form, type, choices, validation, min, max, identifier, required)
FIELDS = [
    ("record_id", "visit", "text", "", "", "", "", "", "y"),
    ("visit_date", "visit", "text", "", "date_dmy", "2020-01-01", "", "", "y"),
    ("glucose", "visit", "text", "", "integer", "10", "400", "", ""),
    ("sex", "visit", "radio", "1, Female | 2, Male", "", "", "", "", ""),
    ("symptoms", "visit", "checkbox", "1, Fever | 2, Cough", "", "", "", "", ""),
    ("dob", "visit", "text", "", "date_ymd", "", "", "y", ""),
    ("ae_term", "ae", "text", "", "", "", "", "", "y"),
]


def dictionary(tmp_path: Path, fields=FIELDS) -> RedcapDictionary:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(DICTIONARY_HEADER)
    for name, form, ftype, choices, val, lo, hi, ident, req in fields:
        w.writerow([name, form, "", ftype, name, choices, "", val, lo, hi, ident, "", req,
                    "", "", "", "", ""])
    path = tmp_path / "dictionary.csv"
    path.write_text(buf.getvalue())
    return RedcapDictionary.from_file(path)


VISIT = {"visit_date": "2024-03-01", "glucose": "120", "sex": "1", "symptoms___1": "1",
         "symptoms___2": "0", "dob": "1980-05-17"}
EMPTY_VISIT = dict.fromkeys(VISIT)


def long_rows(rows: list[tuple[int, str, dict[str, str | None]]], file_id: str = "f1",
              ) -> pl.DataFrame:
    """raw.redcap rows of one whole-project export: (line, record, {column: value}); each
    export row has the visit and ae fields (empty where not its form), as REDCap writes a
    whole-project export and the reader loads it."""
    out = []
    for line, record, values in rows:
        for field, value in {**EMPTY_VISIT, "ae_term": None, **values}.items():
            form = "ae" if field == "ae_term" else "visit"
            out.append({"file_id": file_id, "row_number": line, "record_id": record,
                        "redcap_event_name": "baseline_arm_1", "redcap_repeat_instrument": None,
                        "redcap_repeat_instance": None, "form": form, "form_complete": None,
                        "field": field, "value": value})
    return pl.DataFrame(out, schema={
        "file_id": pl.String, "row_number": pl.Int64, "record_id": pl.String,
        "redcap_event_name": pl.String, "redcap_repeat_instrument": pl.String,
        "redcap_repeat_instance": pl.String, "form": pl.String, "form_complete": pl.String,
        "field": pl.String, "value": pl.String})


def good_rows() -> list[tuple[int, str, dict]]:
    return [(2, "001", VISIT), (3, "001", {"ae_term": "Nausea"}),
            (4, "002", {**VISIT, "sex": "2", "symptoms___1": "0", "symptoms___2": "1",
                        "glucose": " 400"})]


def test_the_hand_made_suites(tmp_path):
    suites = suites_from_dictionary(dictionary(tmp_path))
    # visit_date: exported form, real date, minimum, required; glucose: integer, range;
    # sex: choices; symptoms: 2 columns; dob: exported form, real date; ae_term: required
    assert counts(suites) == {"visit": 4 + 2 + 1 + 2 + 2, "ae": 1}


def test_good_rows_give_no_issue(tmp_path):
    """Row 3 is the ae row of a whole-project export: the visit fields are there, empty, and
    its required visit_date is not missing (the row is not a visit row)."""
    issues = edc_issues(long_rows(good_rows()), dictionary(tmp_path))
    assert issues.height == 0 and issues.schema == pl.Schema(ISSUE_SCHEMA)


@pytest.mark.parametrize("column,bad,rule,value,says", [
    ("visit_date", "01/03/2024", INVALID, "01/03/2024", "is not a date YYYY-MM-DD"),
    ("visit_date", "2024-02-30", INVALID, "2024-02-30", "is not a real date YYYY-MM-DD"),
    ("visit_date", "2019-12-31", OUT_OF_RANGE, "2019-12-31", "below the minimum 2020-01-01"),
    ("visit_date", None, REQUIRED_MISSING, None, "is empty, but the dictionary marks it"),
    ("glucose", "401", OUT_OF_RANGE, "401", "401 is above the maximum 400"),
    ("glucose", "9", OUT_OF_RANGE, "9", "9 is below the minimum 10"),
    ("glucose", "12.5", INVALID, "12.5", "'12.5' is not an integer"),
    ("glucose", "high", INVALID, "AAAA", "'AAAA' is not an integer"),  # text: its shape
    ("sex", "3", UNKNOWN_CHOICE, "3", "'3' is not one of the field's choice codes 1, 2"),
    ("symptoms___2", "2", INVALID, "2", "'2' is not 0 or 1 (a checkbox)"),
])
def test_one_bad_value_is_found_once(tmp_path, column, bad, rule, value, says):
    rows = good_rows()
    rows[2] = (4, "002", {**rows[2][2], column: bad})
    issues = edc_issues(long_rows(rows), dictionary(tmp_path))
    assert issues.select("table_name", "source_file_id", "source_row", "rule", "severity",
                         "column_name", "value").rows() == [
        ("(file)", "f1", 4, rule, "warning", column, value)]
    message = issues["message"][0]
    assert message.startswith(f"visit field {column} (") and "of record 002" in message
    assert says in message


def test_required_counts_only_rows_of_the_form(tmp_path):
    """Row 3 has nothing of either form (a whole-project row of another event): no issue.
    Row 5 is a visit row whose required visit_date holds spaces only (empty); row 6 has its ae
    form saved as complete (status 2) with nothing filled: the form's row, its term missing."""
    rows = good_rows()
    rows[1] = (3, "001", {})
    assert edc_issues(long_rows(rows), dictionary(tmp_path)).height == 0
    rows.append((5, "003", {**VISIT, "visit_date": "  "}))
    complete = long_rows([(6, "004", {})]).with_columns(
        form_complete=pl.when(pl.col("form") == "ae").then(pl.lit("2")))
    issues = edc_issues(pl.concat([long_rows(rows), complete]), dictionary(tmp_path))
    assert issues.select("source_row", "rule", "column_name").rows() == [
        (5, REQUIRED_MISSING, "visit_date"), (6, REQUIRED_MISSING, "ae_term")]


def test_a_repeated_row_is_reported_in_every_file_and_a_file_without_the_field_is_not_short(
        tmp_path):
    """Weekly cumulative exports repeat a row: a bad value in it is an issue in each file. A
    file without the visit_date column (no field row of it) is not checked for it."""
    rows = good_rows()
    rows[0] = (2, "001", {**VISIT, "glucose": "999"})
    week1, week2 = long_rows(rows, "w1"), long_rows(rows, "w2")
    no_date = long_rows(rows, "w3").filter(pl.col("field") != "visit_date")
    issues = edc_issues(pl.concat([week1, week2, no_date]), dictionary(tmp_path))
    assert issues.select("source_file_id", "source_row", "rule", "column_name").rows() == [
        ("w1", 2, OUT_OF_RANGE, "glucose"), ("w2", 2, OUT_OF_RANGE, "glucose"),
        ("w3", 2, OUT_OF_RANGE, "glucose")]
    rows[0] = (2, "001", {**VISIT, "visit_date": None})
    assert edc_issues(long_rows(rows, "w3").filter(pl.col("field") != "visit_date"),
                      dictionary(tmp_path)).height == 0


def test_identifier_values_are_never_shown(tmp_path):
    rows = good_rows()
    rows[0] = (2, "001", {**VISIT, "dob": "Ann Smith"})
    issues = edc_issues(long_rows(rows), dictionary(tmp_path))
    assert issues.select("source_row", "rule", "column_name", "value").rows() == [
        (2, INVALID, "dob", None)]
    assert "Ann" not in issues["message"][0] and "AAA" not in issues["message"][0]
    assert "the value is not a date YYYY-MM-DD" in issues["message"][0]


def test_a_required_checkbox_needs_one_box_ticked(tmp_path):
    fields = [f if f[0] != "symptoms" else (*f[:8], "y") for f in FIELDS]
    dic = dictionary(tmp_path, fields)
    rows = good_rows()
    assert edc_issues(long_rows(rows), dic).height == 0
    rows[2] = (4, "002", {**rows[2][2], "symptoms___1": "0", "symptoms___2": "0"})
    issues = edc_issues(long_rows(rows), dic)
    assert issues.select("source_row", "rule", "column_name", "value").rows() == [
        (4, REQUIRED_MISSING, "symptoms", None)]
    assert "has no box ticked" in issues["message"][0]
