"""Readers on what sites really put in their folders: compressed dictionaries beside binary
files, CR-only line ends, odd line separators in preambles, unknown first lines that hold a
name, LibreView in a language the alias tables lack, a directory given to inspect, a Clarity
file without its final line end.

Expected numbers are from shared/reference/real/PROVENANCE.md or read off the hand-made files
below; none is copied from isletflow's output.
"""

from __future__ import annotations

import gzip
import zipfile
from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

from isletflow.cli import app
from isletflow.config import PROJECT_ROOT
from isletflow.landing import scan_landing
from isletflow.readers import UnknownFormatError, detect_format, read_export
from isletflow.readers import redcap as redcap_reader
from isletflow.readers.redcap_dictionary import RedcapDictionary, is_redcap_dictionary
from isletflow import staging
from isletflow.staging import dictionary_for, site_dictionaries, stage_export

REAL = PROJECT_ROOT.parent / "shared" / "reference" / "real"
A1 = REAL / "clarity_g6_android_mgdl_bom_crlf_dst_sugarsugar.csv"
B2 = REAL / "libreview_mgdl_us_ampm_strip_dst_sprague.csv"
runner = CliRunner()

# A three-field project (the trial's enrolment form, in part): the 18-column dictionary
# header exactly as REDCap writes it.
DICTIONARY = (
    'Variable / Field Name,Form Name,Section Header,Field Type,Field Label,"Choices, '
    'Calculations, OR Slider Labels",Field Note,Text Validation Type OR Show Slider Number,'
    "Text Validation Min,Text Validation Max,Identifier?,Branching Logic (Show field only "
    "if...),Required Field?,Custom Alignment,Question Number (surveys only),Matrix Group Name,"
    "Matrix Ranking?,Field Annotation\n"
    "record_id,enrolment,,text,Record ID,,,,,,,,,,,,,\n"
    "weight_kg,enrolment,,text,Weight (kg),,,number,,,,,,,,,,\n"
    'sex,enrolment,,radio,Sex,"1, Female | 2, Male",,,,,,,,,,,,\n'
)
EXPORT = ("record_id,weight_kg,sex,enrolment_complete\n"
          "US01-001,71.5,1,2\n"
          "US01-002,80,2,2\n")
# Bytes no text export has: NULs, and not UTF-16 (every byte value in order).
BINARY = b"%PDF-1.7\n" + bytes(range(256)) * 4


def write(path: Path, data: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data.encode("utf-8") if isinstance(data, str) else data)
    return path


# --- 1. a gzipped dictionary in edc/, a binary file beside it: the night goes on -------------

def test_gzipped_dictionary_is_used_and_binary_files_beside_it_do_not_stop_the_night(
        tmp_path, monkeypatch):
    edc = tmp_path / "landing" / "US01" / "edc"
    write(edc / "dictionary.csv.gz", gzip.compress(DICTIONARY.encode()))
    write(edc / "enrolment.csv", EXPORT)
    write(edc / "scan.csv", BINARY)                        # a PDF saved as .csv
    write(edc / "old.csv.gz", b"\x1f\x8b\x08\x00garbage")  # a cut-off gzip
    # the nightly path reads each edc/ file's first line once (site_dictionaries), and never
    # looks for a dictionary beside each export (that is inspect's dictionary_beside)
    calls: list[str] = []

    def counted(path: Path) -> bool:
        calls.append(path.name)
        return is_redcap_dictionary(path)

    def not_on_the_nightly_path(path: Path) -> bool:
        raise AssertionError(f"dictionary_beside looked at {path.name}")

    monkeypatch.setattr(staging, "is_redcap_dictionary", counted)
    monkeypatch.setattr(redcap_reader, "is_redcap_dictionary", not_on_the_nightly_path)

    files, problems = scan_landing(tmp_path / "landing", {"US01"})  # as flows/nightly.py
    assert sorted(f.rel_path for f in files) == ["US01/edc/dictionary.csv.gz",
                                                 "US01/edc/enrolment.csv", "US01/edc/old.csv.gz",
                                                 "US01/edc/scan.csv"] and problems == []
    dictionaries = site_dictionaries(files)
    assert dictionaries["US01"].rel_path == "US01/edc/dictionary.csv.gz"
    staged = {f.path.name: stage_export(f, tmp_path / "stage",
                                        dictionary=dictionary_for(f, dictionaries))
              for f in files}
    assert sorted(calls) == ["dictionary.csv.gz", "enrolment.csv", "old.csv.gz", "scan.csv"]

    assert (staged["scan.csv"].error_rule, staged["old.csv.gz"].error_rule) == (
        "wrong_encoding", "unreadable_archive")
    assert staged["dictionary.csv.gz"].export_format == "redcap_dictionary"
    assert staged["dictionary.csv.gz"].n_rows == 3                    # three fields
    visit = staged["enrolment.csv"]
    assert visit.export_format == "redcap" and visit.error is None
    rows = pl.read_parquet(visit.parquet).filter(pl.col("field") == "sex").sort("record_id")
    # the dictionary decodes sex: 1 Female, 2 Male (its choices)
    assert rows["value_label"].to_list() == ["Female", "Male"]
    assert set(rows["dictionary_file_id"]) == {dictionaries["US01"].file_id}


def test_a_zipped_dictionary_is_recognised_and_read(tmp_path):
    z = tmp_path / "dictionary.zip"
    with zipfile.ZipFile(z, "w") as zf:
        zf.writestr("Project_DataDictionary_2024-06-01.csv", DICTIONARY)
    assert is_redcap_dictionary(z)
    dic = RedcapDictionary.from_file(z)
    assert list(dic.fields) == ["record_id", "weight_kg", "sex"] and dic.forms == ("enrolment",)
    assert dic.fields["sex"].choices == {"1": "Female", "2": "Male"}
    for name, data in (("scan.pdf", BINARY), ("bad.zip", b"PK\x03\x04 cut"),
                       ("bad.csv.gz", b"\x1f\x8b garbage")):
        assert not is_redcap_dictionary(write(tmp_path / name, data)), name


# --- 2. inspect of a REDCap export with a binary file beside it -----------------------------

def test_inspect_redcap_export_beside_a_binary_file(tmp_path):
    write(tmp_path / "scan.pdf", BINARY)
    write(tmp_path / "photo.csv.gz", b"\x1f\x8b garbage")
    write(tmp_path / "dictionary.csv", DICTIONARY)
    export = write(tmp_path / "enrolment.csv", EXPORT)
    assert redcap_reader.dictionary_beside(export) == tmp_path / "dictionary.csv"
    result = runner.invoke(app, ["inspect", str(export)])
    assert result.exit_code == 0, result.output
    assert "scan.pdf" not in result.output and "photo" not in result.output
    assert "data dictionary dictionary.csv (beside the file)" in result.output


# --- 3. CR-only line ends (Excel for Mac "CSV (Macintosh)") ----------------------------------

def test_cr_only_clarity_and_libreview_read_like_the_originals(tmp_path):
    # A1 is CRLF (PROVENANCE.md A1); B2 is LF with 3 line breaks inside quoted notes
    # (21,163 LFs for 1 title + 1 header + 21,158 records): every line end becomes a lone CR
    a1 = write(tmp_path / "a1_mac.csv", A1.read_bytes().replace(b"\r\n", b"\r"))
    b2 = write(tmp_path / "b2_mac.csv", B2.read_bytes().replace(b"\n", b"\r"))
    assert b"\n" not in a1.read_bytes() + b2.read_bytes()

    fmt, df, problems = read_export(a1)
    assert fmt == "dexcom_clarity" and problems == []
    assert df.height == 4012 and df.filter(pl.col("event_type") == "EGV").height == 3913
    assert df.equals(read_export(A1)[1])  # same rows, same line numbers

    fmt, df, problems = read_export(b2)
    assert fmt == "libreview" and problems == []
    counts = dict(df.group_by("record_type").len().iter_rows())
    assert counts == {"0": 16985, "1": 3028, "2": 107, "5": 194, "6": 844}  # PROVENANCE B2
    assert df.equals(read_export(B2)[1])


def test_cr_only_small_files_keep_their_line_numbers(tmp_path):
    lab = ("subject_id,visit,collection_date,test_code,test_name,result,unit\r"
           "US01-001,day_90,2024-06-03,ANC,Neutrophils,3100,cells/mm3\r"
           "US01-001,day_90,2024-06-03,HBA1C,Hemoglobin A1c,6.1,%\r")
    fmt, df, _ = read_export(write(tmp_path / "lab.csv", lab))
    assert fmt == "central_lab"
    assert df.select("row_number", "result").rows() == [(2, "3100"), (3, "6.1")]
    rc = read_export(write(tmp_path / "enrolment.csv", EXPORT.replace("\n", "\r")))
    assert rc[0] == "redcap" and set(rc[1]["row_number"]) == {2, 3}


def test_a_lone_cr_inside_a_note_of_an_lf_file_is_left_alone(tmp_path):
    text = (LIBRE_TITLE + LIBRE_HEADER +
            "FreeStyle LibreLink,SN-1,05-11-2024 08:00,0,6.2,,,,,,,,,,,,,,\n"
            'FreeStyle LibreLink,SN-1,05-11-2024 08:05,6,,,,,,,,,,"tea\rwith Ottoline",,,,,\n'
            "FreeStyle LibreLink,SN-1,05-11-2024 08:15,0,6.4,,,,,,,,,,,,,,\n")
    _, df, problems = read_export(write(tmp_path / "libre.csv", text))
    assert problems == [] and df["row_number"].to_list() == [3, 4, 5]


# --- 4. the preamble split like the data: a \u2028 in the title line ------------------------

LIBRE_TITLE = "Glucose Data,Generated on,05-11-2024 09:00 UTC,Generated by,Philippa Quenby\n"
LIBRE_HEADER = (
    "Device,Serial Number,Device Timestamp,Record Type,Historic Glucose mmol/L,"
    "Scan Glucose mmol/L,Non-numeric Rapid-Acting Insulin,Rapid-Acting Insulin (units),"
    "Non-numeric Food,Carbohydrates (grams),Carbohydrates (servings),"
    "Non-numeric Long-Acting Insulin,Long-Acting Insulin Value (units),Notes,"
    "Strip Glucose mmol/L,Ketone mmol/L,Meal Insulin (units),Correction Insulin (units),"
    "User Change Insulin (units)\n")


@pytest.mark.parametrize("separator", ["\u2028", "\x85", "\x0c", "\u2029"])
def test_a_line_separator_in_the_title_does_not_move_the_header(tmp_path, separator):
    title = LIBRE_TITLE.replace("Philippa Quenby", f"Philippa{separator}Quenby")
    text = (title + LIBRE_HEADER +
            "FreeStyle LibreLink,SN-1,05-11-2024 08:00,0,6.2,,,,,,,,,,,,,,\n"
            "FreeStyle LibreLink,SN-1,05-11-2024 08:05,1,,6.4,,,,,,,,,,,,,\n")
    fmt, df, problems = read_export(write(tmp_path / "libre.csv", text))
    assert fmt == "libreview" and problems == []
    # title line 1, header line 2, readings lines 3 and 4
    assert df.select("row_number", "record_type", "historic_glucose", "scan_glucose").rows() == [
        (3, "0", "6.2", None), (4, "1", None, "6.4")]


# --- 5. the unknown-format message shows shapes, never text ---------------------------------

def test_unknown_format_never_quotes_a_name_from_line_one(tmp_path):
    text = "Patiëntnaam\tJan Jansen\nGeboortedatum\t01-02-1960\n"
    with pytest.raises(UnknownFormatError) as err:
        detect_format(write(tmp_path / "export.txt", text))
    message = str(err.value)
    assert "Jan" not in message and "Jansen" not in message and "Patiëntnaam" not in message
    assert "1960" not in message
    # 2 fields; 11 letters, a tab, 3 letters, a space, 6 letters
    assert "has 2 fields" in message and repr("AAAAAAAAAAA\tAAA AAAAAA") in message


def test_unknown_format_shape_is_cut_at_forty_characters(tmp_path):
    text = "Name of the patient who owns this reader,Bartholomew Quenby-Smythe,x\n"
    with pytest.raises(UnknownFormatError) as err:
        detect_format(write(tmp_path / "export.csv", text))
    # the first 40 characters of "Name of the patient who owns this reader,Bartholomew ..."
    assert repr("AAAA AA AAA AAAAAAA AAA AAAA AAAA AAAAAA...,...") in str(err.value)
    assert "Bartholomew" not in str(err.value) and "has 3 fields" in str(err.value)


# --- 6. LibreView in a language the alias tables lack ---------------------------------------

# Dutch names as a Dutch LibreView might write them (not in the alias tables); the title line
# has "Gegenereerd op" / "Gegenereerd door" around its date.
DUTCH_TITLE = "Glucosegegevens,Gegenereerd op,05-11-2024 09:00 UTC,Gegenereerd door,Jan Jansen\n"
DUTCH_HEADER = (
    "Apparaat,Serienummer,Tijdstempel apparaat,Type registratie,Historische glucose mmol/L,"
    "Scan glucose mmol/L,Niet-numerieke snelwerkende insuline,Snelwerkende insuline (eenheden),"
    "Niet-numerieke voeding,Koolhydraten (gram),Koolhydraten (porties),"
    "Niet-numerieke langwerkende insuline,Langwerkende insuline (eenheden),Notities,"
    "Strip glucose mmol/L,Keton mmol/L,Maaltijdinsuline (eenheden),Correctie-insuline "
    "(eenheden),Insulinewijziging door gebruiker (eenheden)\n")
DUTCH_ROWS = ("FreeStyle LibreLink,SN-JJ-77,05-11-2024 08:00,0,6.2,,,,,,,,,,,,,,\n"
              "FreeStyle LibreLink,SN-JJ-77,05-11-2024 08:05,1,,6.4,,,,,,,,Ontbijt Jan,,,,,\n")


@pytest.mark.parametrize("text", [DUTCH_TITLE + DUTCH_HEADER + DUTCH_ROWS,
                                  DUTCH_TITLE + DUTCH_HEADER,      # title only: no rows
                                  DUTCH_HEADER + DUTCH_ROWS],      # rows only: no title
                         ids=["title-and-rows", "title", "rows"])
def test_libreview_in_an_unknown_language_is_named_with_its_header(tmp_path, text):
    with pytest.raises(UnknownFormatError) as err:
        detect_format(write(tmp_path / "export.csv", text))
    message = str(err.value)
    assert "looks like a LibreView export with header names this version does not know" in message
    assert "'Tijdstempel apparaat'" in message and "'Type registratie'" in message
    for phi in ("Jan", "SN-JJ-77", "Ontbijt", "05-11-2024"):
        assert phi not in message


def test_libreview_in_an_unknown_language_in_utf16_is_named_too(tmp_path):
    data = b"\xff\xfe" + (DUTCH_TITLE + DUTCH_HEADER + DUTCH_ROWS).encode("utf-16-le")
    with pytest.raises(UnknownFormatError, match="'Type registratie'"):
        detect_format(write(tmp_path / "export.csv", data))


def test_a_redcap_export_with_libreview_row_shape_is_still_redcap(tmp_path):
    # 16 digit-free names; row 2 has a date-time then a 1 in its first four cells
    names = ["record_id", "visit_datetime", "sex", *(f"item_{c}" for c in "abcdefghijkl"),
             "enrolment_complete"]
    row = ["US01-001", "2024-06-03 10:00", "1", *([""] * 12), "2"]
    path = write(tmp_path / "enrolment.csv", ",".join(names) + "\n" + ",".join(row) + "\n")
    assert detect_format(path) == "redcap"


def test_a_wide_csv_that_is_not_libreview_keeps_the_generic_message(tmp_path):
    header = ",".join(f"col{chr(97 + i)}" for i in range(19)) + "\n"
    rows = ",".join(["x"] * 19) + "\n"
    with pytest.raises(UnknownFormatError) as err:
        detect_format(write(tmp_path / "wide.csv", header + rows))
    assert "unknown export format" in str(err.value) and "LibreView export with" not in str(
        err.value)


# --- 7. inspect of a directory ---------------------------------------------------------------

def test_inspect_of_a_directory_says_it_is_one(tmp_path):
    folder = tmp_path / "some_dir.csv"
    folder.mkdir()
    for command in ("inspect", "cgm-metrics"):
        result = runner.invoke(app, [command, str(folder)])
        assert result.exit_code == 2
        assert "is a directory" in result.output and "no such file" not in result.output


# --- 8. a Clarity file without its final line end -------------------------------------------

def test_clarity_without_final_line_end_has_no_truncated_row(tmp_path):
    data = A1.read_bytes()
    assert data.endswith(b"\r\n")
    _, whole, _ = read_export(A1)
    # A1 minus its final CRLF: the last line is EGV 4012 (line 4013, 14 fields)
    _, df, problems = read_export(write(tmp_path / "a1.csv", data[:-2]))
    assert problems == [] and df.equals(whole)
    # A1 ending at line 4011, "4010,2019-10-28T23:50:00,Insulin,Long-Acting,...,14.00,,,,"
    # (13 fields: no Transmitter ID), without its line end, after a 14-field EGV line
    lines = data.split(b"\r\n")
    assert lines[4010].startswith(b"4010,2019-10-28T23:50:00,Insulin,Long-Acting")
    _, df, problems = read_export(write(tmp_path / "a1_insulin_last.csv",
                                        b"\r\n".join(lines[:4011])))
    assert problems == [] and df.height == 4010
    last = df.row(-1, named=True)
    assert (last["row_number"], last["event_type"], last["insulin_value"]) == (
        4011, "Insulin", "14.00")
    # a real cut in the next line is still set aside: it ends "4011,2019-10-28T23:52:18,EGV,"
    cut = b"\r\n".join(lines[:4012])
    cut = cut[:cut.rindex(b"EGV,") + 4]
    _, df, problems = read_export(write(tmp_path / "a1_cut.csv", cut))
    assert [(p.row_number, p.rule) for p in problems] == [(4012, "truncated_row")]
    assert df.height == 4010
