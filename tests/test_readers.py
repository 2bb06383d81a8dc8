"""Readers on tiny hand-written exports."""

from __future__ import annotations

from pathlib import Path

import pytest

from isletflow.readers import UnknownFormatError, detect_format, read_export

CLARITY = (
    "\ufeffIndex,Timestamp (YYYY-MM-DDThh:mm:ss),Event Type,Event Subtype,Patient Info,"
    "Device Info,Source Device ID,Glucose Value (mg/dL),Insulin Value (u),Carb Value (grams),"
    "Duration (hh:mm:ss),Glucose Rate of Change (mg/dL/min),Transmitter Time (Long Integer),"
    "Transmitter ID\r\n"
    "1,,FirstName,,Wilhelmina,,,,,,,,,\r\n"
    "2,,LastName,,Quarterstaff,,,,,,,,,\r\n"
    "3,,DateOfBirth,,1971-02-03,,,,,,,,,\r\n"
    '4,,Device,,,"Dexcom G6 Mobile App, SN 8ZZ9Q1",Android G6,,,,,,,\r\n'
    "5,2024-05-01T10:00:12,EGV,,,,Android G6,Low,,,,,1000,8ZZ9Q1\r\n"
    "6,2024-05-01T10:05:12,EGV,,,,Android G6,123,,,,,1300,8ZZ9Q1\r\n"
    "7,2024-05-01T10:06:00,Insulin,Fast-Acting,,,Android G6,,4,,,,,\r\n"
    "8,2024-05-01T10:10:12,EGV,,,,Android G6,High,,,,,1600,8ZZ9Q1\r\n"
)


def write(tmp_path: Path, name: str, text: str, encoding: str = "utf-8") -> Path:
    p = tmp_path / name
    p.write_bytes(text.encode(encoding))
    return p


def test_clarity_rows_keep_line_numbers_and_unit_and_drop_personal_data(tmp_path):
    fmt, df, _ = read_export(write(tmp_path, "whatever.csv", CLARITY))
    assert fmt == "dexcom_clarity"
    assert df.height == 8
    # line 1 is the header, so the first preamble row is line 2 and the High reading line 9
    assert df["row_number"].to_list() == [2, 3, 4, 5, 6, 7, 8, 9]
    assert df.filter(df["event_type"] == "EGV")["glucose_value"].to_list() == ["Low", "123", "High"]
    assert set(df["glucose_unit"].to_list()) == {"mg/dL"}
    cells = {str(v) for col in df.columns for v in df[col].to_list()}
    for phi in ("Wilhelmina", "Quarterstaff", "1971-02-03", "8ZZ9Q1"):
        assert not any(phi in c for c in cells), phi


def test_clarity_mmol_unit_comes_from_the_header(tmp_path):
    text = CLARITY.replace("(mg/dL)", "(mmol/L)").replace("(mg/dL/min)", "(mmol/L/min)")
    _, df, _ = read_export(write(tmp_path, "x.csv", text))
    assert set(df["glucose_unit"].to_list()) == {"mmol/L"}


def test_redcap_is_unpivoted_one_row_per_field_and_names_its_form(tmp_path):
    text = ("record_id,redcap_event_name,redcap_repeat_instrument,redcap_repeat_instance,"
            "she_date,she_assist,severe_hypoglycemia_complete\n"
            "US01-001,follow_up_arm_1,severe_hypoglycemia,1,2024-06-01,1,2\n"
            "US01-001,follow_up_arm_1,severe_hypoglycemia,2,2024-07-01,0,1\n")
    fmt, df, _ = read_export(write(tmp_path, "she.csv", text))
    assert fmt == "redcap"
    assert df.height == 4  # 2 records x 2 fields
    assert set(df["form"].to_list()) == {"severe_hypoglycemia"}
    second = df.filter(df["row_number"] == 3)
    assert dict(zip(second["field"], second["value"])) == {"she_date": "2024-07-01",
                                                           "she_assist": "0"}
    assert second["form_complete"].to_list() == ["1", "1"]


def test_central_lab_file(tmp_path):
    text = ("subject_id,visit,collection_date,test_code,test_name,result,unit\n"
            "DE01-002,day_90,2024-09-01,HBA1C,Hemoglobin A1c,6.4,%\n")
    fmt, df, _ = read_export(write(tmp_path, "lab.csv", text))
    assert fmt == "central_lab"
    assert df.row(0, named=True)["result"] == "6.4"
    assert df.row(0, named=True)["row_number"] == 2


def test_unknown_format_names_the_file_and_what_was_expected(tmp_path):
    p = write(tmp_path, "mystery.csv", "a,b,c\n1,2,3\n")
    with pytest.raises(UnknownFormatError) as err:
        detect_format(p)
    assert "mystery.csv" in str(err.value)
    assert "Dexcom Clarity" in str(err.value) and "REDCap" in str(err.value)


def test_empty_file_is_an_unknown_format(tmp_path):
    with pytest.raises(UnknownFormatError, match="empty file"):
        detect_format(write(tmp_path, "empty.csv", ""))
