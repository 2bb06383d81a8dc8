"""Issue 10, parts 6 and 7: nothing in a site folder goes unmentioned, compressed exports are
read, and a broken file is one query instead of one per row."""

from __future__ import annotations

import datetime as dt
import gzip
import hashlib
import io
import os
import re
import shutil
import zipfile
from pathlib import Path

import duckdb
import polars as pl
import pytest

from isletflow import landing
from isletflow.trial import load_trial
from isletflow.demo import generate_trial
from isletflow.landing import scan_landing
from isletflow.staging import stage_export
from isletflow.warehouse import connect, run_sql
from schemas.core import CORE_MODELS

from nightly_steps import build_night

SITES = set(load_trial().site_ids)


@pytest.fixture(scope="module")
def one_site(tmp_path_factory) -> Path:
    """The sample trial's files for one participant (site US01), 5 days, no planted faults."""
    root = tmp_path_factory.mktemp("trial")
    generate_trial(root, seed=1, participants=1, days=5, faults=False)
    return root


def _copy(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst)
    return dst


def _ae_export(root: Path) -> Path:
    """US01's (first) REDCap export of the adverse-events form."""
    return sorted((root / "US01/edc").glob("adverse_events*.csv"))[0]


# --- part 7: the landing folder --------------------------------------------------------------

def test_everything_in_a_site_folder_is_loaded_or_a_query(one_site, tmp_path, monkeypatch):
    root = _copy(one_site, tmp_path / "landing")
    exports = sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())
    us = root / "US01"
    (us / "cgm/US01-001__gone.csv").symlink_to(tmp_path / "moved_away.csv")
    (us / "edc/adverse_events_v2.csv").mkdir()
    (us / "edc/adverse_events_v2.csv/adverse_events.csv").write_text("record_id\n")
    (us / "edc/listing.xlsx").write_bytes(b"PK\x03\x04 not really a workbook")
    (us / "edc/notes").write_text("no extension\n")
    (us / "cgm/.DS_Store").write_bytes(b"\x00\x00\x00\x01Bud1")
    (us / "edc/~$enrolment.csv").write_bytes(b"\x05owner")
    (us / "cgm/US01-001__week3.csv.filepart").write_text("Index,Timestamp\n")
    (us / "lab/old").mkdir()
    (us / "lab/old/central_lab_results.csv").write_text("subject_id\n")
    (us / "lab/empty_folder").mkdir()  # holds nothing: nothing to mention
    os.mkfifo(us / "lab/pipe.csv")
    locked = us / "lab/locked.csv"
    locked.write_text("subject_id,visit\n")
    locked.chmod(0)
    if os.geteuid() == 0:  # root opens any file: refuse this one as the OS would
        real = landing.sha256_of
        def refuse(path: Path) -> str:
            if path.name == "locked.csv":
                raise PermissionError(13, "Permission denied", str(path))
            return real(path)
        monkeypatch.setattr(landing, "sha256_of", refuse)

    files, problems = scan_landing(root, SITES)

    assert sorted(f.rel_path for f in files) == exports  # every export still loads
    assert [(p.rel_path, p.rule, p.severity) for p in problems] == [
        ("US01/cgm/.DS_Store", "hidden_or_temp_file", "warning"),
        ("US01/cgm/US01-001__gone.csv", "broken_link", "error"),
        ("US01/cgm/US01-001__week3.csv.filepart", "hidden_or_temp_file", "warning"),
        ("US01/edc/adverse_events_v2.csv", "folder_named_like_file", "error"),
        ("US01/edc/listing.xlsx", "unknown_file_type", "error"),
        ("US01/edc/notes", "unknown_file_type", "error"),
        ("US01/edc/~$enrolment.csv", "hidden_or_temp_file", "warning"),
        ("US01/lab/locked.csv", "cannot_open_file", "error"),
        ("US01/lab/old", "landing_layout", "error"),
        ("US01/lab/pipe.csv", "not_a_regular_file", "error"),
    ]
    msg = {p.rel_path: p.message for p in problems}
    assert "does not exist" in msg["US01/cgm/US01-001__gone.csv"]
    assert "(1 files in it)" in msg["US01/edc/adverse_events_v2.csv"]
    assert "an Excel workbook" in msg["US01/edc/listing.xlsx"]
    assert "permission denied" in msg["US01/lab/locked.csv"]
    assert "(1 files in it)" in msg["US01/lab/old"]
    assert all(p.site_id == "US01" for p in problems)


def test_problems_honour_sites_and_as_of(one_site, tmp_path):
    root = _copy(one_site, tmp_path / "landing")
    (root / "US01/cgm/US01-001__gone.csv").symlink_to(tmp_path / "nowhere.csv")
    late = root / "US01/edc/later.xlsx"
    late.write_text("x")
    ts = dt.datetime(2030, 1, 2, tzinfo=dt.UTC).timestamp()
    os.utime(late, (ts, ts))
    _, problems = scan_landing(root, SITES, as_of=dt.date(2029, 12, 31))
    assert [p.rel_path for p in problems] == ["US01/cgm/US01-001__gone.csv"]
    _, problems = scan_landing(root, SITES, sites=("DE01",))
    assert problems == []


def _gzip(src: Path, dst: Path) -> None:
    dst.write_bytes(gzip.compress(src.read_bytes(), mtime=0))


def test_compressed_and_txt_exports_read_like_their_content(one_site, tmp_path):
    root = _copy(one_site, tmp_path / "landing")
    plain = tmp_path / "plain"
    plain.mkdir()
    cgm1, cgm2 = (root / f"US01/cgm/US01-001__clarity_export_{i}.csv" for i in (1, 2))
    ae = _ae_export(root)
    for p in (cgm1, cgm2, ae):
        shutil.copy2(p, plain / p.name)
    _gzip(cgm1, cgm1.with_name(cgm1.name + ".gz"))
    # a zip as macOS Finder makes it: the export plus its __MACOSX resource fork
    with zipfile.ZipFile(root / "US01/edc/adverse_events.zip", "w", zipfile.ZIP_DEFLATED) as z:
        z.write(ae, "Smith_Jane_adverse_events.csv")
        z.writestr("__MACOSX/._Smith_Jane_adverse_events.csv", b"\x00\x05\x16\x07")
    cgm2.rename(cgm2.with_suffix(".txt"))  # Clarity G5 exports are .txt
    cgm1.unlink()
    ae.unlink()

    files, problems = scan_landing(root, SITES)
    assert problems == []
    by_name = {f.path.name: f for f in files}
    for name in ("US01-001__clarity_export_1.csv.gz", "adverse_events.zip",
                 "US01-001__clarity_export_2.txt"):
        f = by_name[name]
        assert f.sha256 == hashlib.sha256(f.path.read_bytes()).hexdigest()  # as received
        assert f.size_bytes == f.path.stat().st_size
    assert by_name["US01-001__clarity_export_1.csv.gz"].participant_id == "US01-001"

    pairs = {"US01-001__clarity_export_1.csv.gz": "US01-001__clarity_export_1.csv",
             "adverse_events.zip": ae.name,
             "US01-001__clarity_export_2.txt": "US01-001__clarity_export_2.csv"}
    for sent, original in pairs.items():
        got = stage_export(by_name[sent], tmp_path / "stage")
        ref_file = scan_landing(_one_file(tmp_path, plain / original, sent), SITES)[0][0]
        ref = stage_export(ref_file, tmp_path / "stage_ref")
        assert got.error is None and ref.error is None, (got.error, ref.error)
        assert (got.export_format, got.n_rows) == (ref.export_format, ref.n_rows)
        assert pl.read_parquet(got.parquet).drop("file_id").equals(
            pl.read_parquet(ref.parquet).drop("file_id"))
    # what was read from the zip: one record per line after the header (REDCap raw rows are
    # one per field, each with the line it came from)
    zipped = stage_export(by_name["adverse_events.zip"], tmp_path / "stage")
    assert pl.read_parquet(zipped.parquet)["row_number"].n_unique() == \
        len((plain / ae.name).read_text().strip().splitlines()) - 1


def _one_file(tmp_path: Path, src: Path, sent_name: str) -> Path:
    """A landing folder with only ``src``, in the folder ``sent_name`` was sent to."""
    kind = "edc" if "adverse" in sent_name else "cgm"
    root = tmp_path / f"ref_{src.stem}"
    (root / "US01" / kind).mkdir(parents=True)
    shutil.copy2(src, root / "US01" / kind / src.name)
    return root


def test_archives_that_are_not_one_export_are_file_queries(one_site, tmp_path):
    root = tmp_path / "landing"
    edc = root / "US01/edc"
    edc.mkdir(parents=True)
    ae = _ae_export(one_site).read_bytes()
    with zipfile.ZipFile(edc / "two.zip", "w") as z:
        z.writestr("Smith_Jane_ae.csv", ae)
        z.writestr("Smith_Jane_cm.csv", ae + b"\n")
    zipfile.ZipFile(edc / "empty.zip", "w").close()
    with zipfile.ZipFile(edc / "workbook.zip", "w") as z:
        z.writestr("Smith_Jane.xlsx", b"PK\x03\x04")
    (edc / "corrupt.zip").write_bytes(b"PK\x03\x04" + b"\x00garbage" * 20)
    whole = gzip.compress(ae, mtime=0)
    (edc / "truncated.csv.gz").write_bytes(whole[: len(whole) // 2])
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("ae.csv", ae)
    (edc / "cut.zip").write_bytes(buf.getvalue()[:-30])  # central directory cut off

    files, problems = scan_landing(root, SITES)
    assert problems == []
    staged = {f.path.name: stage_export(f, tmp_path / "stage") for f in files}
    assert {n: s.error_rule for n, s in staged.items()} == dict.fromkeys(
        ["corrupt.zip", "cut.zip", "empty.zip", "truncated.csv.gz", "two.zip", "workbook.zip"],
        "unreadable_archive")
    assert "holds 2 files" in staged["two.zip"].error
    assert "holds no file" in staged["empty.zip"].error
    assert ".xlsx" in staged["workbook.zip"].error
    for name in ("corrupt.zip", "cut.zip", "truncated.csv.gz"):
        assert "corrupt or truncated" in staged[name].error, name
    assert not any("Smith" in s.error for s in staged.values())  # inner names never shown


# --- part 6: a broken file is one query ------------------------------------------------------

def _excel_resave(path: Path) -> None:
    """Rewrite a Clarity export as Excel saves it: 2024-02-05T02:04:15 -> 2/5/2024 2:04."""
    text = path.read_text(encoding="utf-8-sig")
    path.write_text(re.sub(r"(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):\d{2}",
                           lambda m: f"{int(m[2])}/{int(m[3])}/{m[1]} {int(m[4])}:{m[5]}", text),
                    encoding="utf-8")


def _build(root: Path, tmp_path: Path) -> tuple[Path, dict[str, int]]:
    """raw -> core -> validated build of ``root`` (the nightly flow's steps, without Prefect)."""
    return build_night(root, tmp_path)


def test_an_excel_resaved_clarity_export_is_one_file_query(one_site, tmp_path):
    root = _copy(one_site, tmp_path / "landing")
    bad = root / "US01/cgm/US01-001__clarity_export_1.csv"
    text = bad.read_text(encoding="utf-8-sig")
    n_egv = sum(1 for line in text.splitlines() if ",EGV," in line)  # readings, by hand
    first_name = next(line for line in text.splitlines() if ",FirstName," in line).split(",")[4]
    _excel_resave(bad)
    build, moved = _build(root, tmp_path)
    with connect(build, read_only=True) as con:
        fid = con.sql("SELECT file_id FROM audit.files WHERE rel_path = "
                      "'US01/cgm/US01-001__clarity_export_1.csv'").fetchall()[0][0]
        assert con.sql("SELECT rule FROM quality.quarantined_files WHERE file_id = ?",
                       params=[fid]).fetchall() == [("broken_file",)]
        assert con.sql("SELECT count(*) FROM core.cgm_readings WHERE source_file_id = ?",
                       params=[fid]).fetchall() == [(0,)]
        # the other export of the same participant is loaded as before
        assert con.sql("SELECT count(*) FROM core.cgm_readings").fetchall()[0][0] > 0
        (value, message), = con.sql(
            "SELECT value, message FROM quality.issues WHERE rule = 'broken_file'").fetchall()
        assert value == "M/D/YYYY HH:MM"
        assert message.startswith(f"{n_egv:,} of {n_egv:,} cgm_readings rows fail "
                                  "unreadable_timestamp: timestamp values look like "
                                  "M/D/YYYY HH:MM (")
        assert "re-saved by Excel? ask the site for the original export" in message
        assert first_name not in message
        # every row issue is kept; the listing shows the first 10 and one line for the rest
        assert con.sql("SELECT count(*) FROM quality.issues WHERE source_file_id = ? AND "
                       "rule = 'unreadable_timestamp'", params=[fid]).fetchall() == [(n_egv,)]
        listing = con.sql("SELECT row, rule, value, rows_not_listed FROM quality.site_queries "
                          "WHERE file = 'US01/cgm/US01-001__clarity_export_1.csv'").fetchall()
    assert len(listing) == 12
    assert listing[0][:2] == (None, "broken_file")
    assert [r[1] for r in listing[1:11]] == ["unreadable_timestamp"] * 10
    assert re.fullmatch(r"\d{1,2}/\d{1,2}/\d{4} \d{1,2}:\d{2}", listing[1][2])
    assert listing[1][2] not in message  # the shapes, never the values
    assert listing[11][1] == "unreadable_timestamp" and listing[11][3] == n_egv - 10
    assert moved["cgm_readings"] == n_egv


# --- the broken-file rule and the listing, on hand-made issues -------------------------------

def _quality_db() -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    for name in ("schemas.sql", "audit/tables.sql", "raw/tables.sql", "quality/tables.sql"):
        run_sql(con, name)
    for t in CORE_MODELS:
        con.execute(f"CREATE TABLE core.{t} (source_file_id VARCHAR, source_row BIGINT)")
    return con


def _file(con, file_id: str, table: str, n_rows: int, failing: list[str], rule: str,
          column: str) -> None:
    """A file of ``n_rows`` rows of core ``table``: the first len(failing) failed ``rule``
    (values ``failing``) and were quarantined; the others are in core."""
    for row in range(2, 2 + n_rows):
        if row - 2 < len(failing):
            con.execute("INSERT INTO quality.quarantined_rows VALUES (?, ?, ?, '{}')",
                        [table, file_id, row])
            con.execute("INSERT INTO quality.issues (table_name, source_file_id, source_row, "
                        "rule, severity, column_name, value, message) VALUES "
                        "(?, ?, ?, ?, 'error', ?, ?, 'row message')",
                        [table, file_id, row, rule, column, failing[row - 2]])
        else:
            con.execute(f"INSERT INTO core.{table} VALUES (?, ?)", [file_id, row])


def test_a_file_is_broken_from_20_failing_rows_that_are_half_of_it():
    from isletflow.broken_files import set_aside_broken_files

    con = _quality_db()
    _file(con, "A" * 16, "lab_results", 40, ["14.01.2024"] * 20, "unreadable_date",
          "collection_date")                                   # 20 of 40: broken
    _file(con, "B" * 16, "lab_results", 38, ["14.01.2024"] * 19, "unreadable_date",
          "collection_date")                                   # 19 rows: too few
    _file(con, "C" * 16, "lab_results", 41, ["14.01.2024"] * 20, "unreadable_date",
          "collection_date")                                   # 20 of 41: under half
    _file(con, "D" * 16, "cgm_readings", 30, ["2024-01-01T00:00:00"] * 30, "before_enrolment",
          "timestamp")                                         # a context rule: never broken
    _file(con, "E" * 16, "cgm_readings", 30, ["5,6"] * 15 + ["12,1"] * 10, "unreadable_glucose",
          "glucose")                                           # 25 of 30, a known shape
    _file(con, "F" * 16, "cgm_readings", 30, ["x1-A"] * 12 + ["B22-c"] * 12,
          "unreadable_glucose", "glucose")                     # 24 of 30, no known shape
    moved = dict.fromkeys(CORE_MODELS, 0)
    assert set_aside_broken_files(con, moved) == ["A" * 16, "E" * 16, "F" * 16]
    issues = dict(con.sql("SELECT source_file_id, message FROM quality.issues "
                          "WHERE rule = 'broken_file'").fetchall())
    assert issues["A" * 16] == (
        "20 of 40 lab_results rows fail unreadable_date: collection_date values look like "
        "DD.MM.YYYY (99.99.9999 in 20 rows): dates written the European way: re-saved by "
        "Excel with European settings? ask the site for the original export. The file's "
        "lab_results rows are set aside: none of them is loaded")
    assert "look like a decimal comma (9,9) (9,9 in 15 rows, 99,9 in 10 rows)" in issues["E" * 16]
    assert ("look like A9-A (A9-A in 12 rows, A99-A in 12 rows): digits are shown as 9 and "
            "letters as A") in issues["F" * 16]
    # the good rows of a broken file leave core too; other files keep theirs
    assert moved["lab_results"] == 20 and moved["cgm_readings"] == 5 + 6
    left = dict(con.sql("SELECT source_file_id, count(*) FROM core.lab_results "
                        "GROUP BY ALL").fetchall())
    assert left == {"B" * 16: 19, "C" * 16: 21}
    assert con.sql("SELECT count(*) FROM quality.quarantined_files").fetchall() == [(3,)]



def test_a_broken_form_of_a_whole_project_export_leaves_its_other_forms_loaded():
    from isletflow.broken_files import set_aside_broken_files

    con = _quality_db()
    # one REDCap export: 25 diary rows all with an unreadable date, 3 enrolment rows fine
    _file(con, "G" * 16, "insulin_diary", 25, ["14.01.2024"] * 25, "unreadable_date",
          "diary_date")
    _file(con, "G" * 16, "participants", 3, [], "unreadable_date", "enrol_date")
    moved = dict.fromkeys(CORE_MODELS, 0)
    assert set_aside_broken_files(con, moved) == ["G" * 16]
    assert con.sql("SELECT count(*) FROM core.participants").fetchall() == [(3,)]
    assert moved["participants"] == 0

def test_the_listing_keeps_ten_rows_per_file_and_rule_plus_a_count():
    con = _quality_db()
    con.execute("INSERT INTO audit.files BY NAME SELECT 'f1' AS file_id, 'sha' AS sha256, "
                "'US01' AS site_id, 'lab' AS kind, 'US01/lab/results.csv' AS rel_path, "
                "1 AS size_bytes, TIMESTAMP '2025-01-01' AS received_at, 'r' AS first_seen_run")
    for row in range(2, 27):  # 25 rows of one rule, 3 of another
        con.execute("INSERT INTO quality.issues (table_name, source_file_id, source_row, rule, "
                    "severity, column_name, value, message) VALUES ('lab_results', 'f1', ?, "
                    "'unreadable_result', 'error', 'result', 'n/a', 'not a number')", [row])
    for row in (5, 6, 7):
        con.execute("INSERT INTO quality.issues (table_name, source_file_id, source_row, rule, "
                    "severity, message) VALUES ('lab_results', 'f1', ?, 'future_timestamp', "
                    "'error', 'in the future')", [row])
    con.execute("INSERT INTO quality.issues (table_name, rule, severity, message, site_id, "
                "file) VALUES ('(file)', 'broken_link', 'error', 'gone', 'US01', "
                "'US01/lab/link.csv')")
    run_sql(con, "quality/site_queries.sql")
    rows = con.sql("SELECT file, row, rule, rows_not_listed, message "
                   "FROM quality.site_queries").fetchall()
    assert [(r[0], r[1], r[2], r[3]) for r in rows] == [
        ("US01/lab/link.csv", None, "broken_link", None),
        *[("US01/lab/results.csv", n, rule, None)
          for n, rule in [(2, "unreadable_result"), (3, "unreadable_result"),
                          (4, "unreadable_result"), (5, "future_timestamp"),
                          (5, "unreadable_result"), (6, "future_timestamp"),
                          (6, "unreadable_result"), (7, "future_timestamp"),
                          (7, "unreadable_result"), (8, "unreadable_result"),
                          (9, "unreadable_result"), (10, "unreadable_result"),
                          (11, "unreadable_result")]],
        ("US01/lab/results.csv", None, "unreadable_result", 15),
    ]
    assert rows[-1][4].startswith("... and 15 more rows of this file with this rule, "
                                  "lines 12 to 26")
    con.execute("CREATE TABLE core.sites (site_id VARCHAR)")
    con.execute("INSERT INTO core.sites VALUES ('US01')")
    from isletflow.warehouse import sql_text
    by_site = con.sql(sql_text("quality/quarantine_by_site.sql")).fetchall()
    # the count line is not a file not loaded; the broken link is
    assert by_site == [("US01", 0, 1, 15)]


def test_inspect_reads_a_gzipped_export_like_the_plain_one(one_site, tmp_path):
    from isletflow.inspect import inspect_export

    root = _copy(one_site, tmp_path / "landing")
    plain = root / "US01/cgm/US01-001__clarity_export_1.csv"
    _gzip(plain, plain.with_name(plain.name + ".gz"))
    got = inspect_export(plain.with_name(plain.name + ".gz"))
    ref = inspect_export(plain)
    assert (got.export_format, got.rows_read) == (ref.export_format, ref.rows_read)
    assert got.canonical.equals(ref.canonical)  # same site (from the path), participant, times
