"""Real CGM exports (shared/reference/real, PROVENANCE.md sections A and B) read by content.

Every expected number below is from PROVENANCE.md (counted from the raw bytes) or read off the
file by hand (the line is named). Nothing here is copied from isletflow's output.
"""

from __future__ import annotations

import datetime as dt
import functools
from pathlib import Path

import duckdb
import polars as pl
import pytest
from typer.testing import CliRunner

from isletflow.cli import app
from isletflow.config import PROJECT_ROOT
from nightly_steps import load_sample_trial
from isletflow.inspect import Inspection, inspect_export
from isletflow.readers import read_export
from isletflow.warehouse import run_sql, write_table

REAL = PROJECT_ROOT.parent / "shared" / "reference" / "real"
runner = CliRunner()

A1 = "clarity_g6_android_mgdl_bom_crlf_dst_sugarsugar.csv"
A2 = "clarity_g6_android_mgdl_allquoted_lf_2025_sugarsugar.csv"
A3 = "clarity_g5_tab_delimited_cgmanalysis.txt"
A4 = "clarity_g6_iphone_mgdl_phi_cgmquantify.csv"
B1 = "libreview_mmol_eu_ddmmyyyy_scans_notes_glyco.csv"
B2 = "libreview_mgdl_us_ampm_strip_dst_sprague.csv"
B3 = "libreview_mmol_uk_2025_insulin_warren.csv"
B4 = "libreview_pro_spanish_mmol_decimalcomma_ggirmatcher.csv"
B5 = "libreview_pro_us_patientreport_mgdl_diametrics.csv"
B6 = "libreview_2019_utf16le_meter_mgdl_benji.csv"
B7 = "libre_desktop_reader_tsv_mmol_nahog.tsv"
HALL = "hall2018_long_idtimegl_iglu.csv"
CLARITY_FILES = [A1, A2, A3, A4]
LIBRE_FILES = [B1, B2, B3, B4, B5, B6, B7]
CGM_FILES = [*CLARITY_FILES, *LIBRE_FILES]

# Personal data in the files (PROVENANCE.md, and read off the files): names, dates of birth,
# patient IDs, serials and transmitter IDs, free-text notes. None may be printed or written.
PHI = {
    A1: ["8GH86L"], A2: ["8AM1EY"], A3: ["Testerson", "1/1/00", "11AAAA"],
    A4: ["Schmoe", "1/1/1970"],
    B1: ["Ismail Elouafiq", "b59d4499-1a07-462b-b7da-a179f2093996", "MacCocoMCT"],
    B2: ["Richard Sprague", "61224C80-8F3F-4762-A790-B93872DF5CD5",
         "Smoothie kefir cherry walnut"],
    B3: ["Warren Bebbington", "758d93d8-ff6a-4e0a-a62c-f31e5814c296"],
    B4: ["Antonio Clavero Jimeno", "18-08-1981", "666_Pre_CGM_ Tempus", "JRMA246-K0543"],
    B5: [], B6: ["Henry McAllistah", "JKGX346-T1837"], B7: [],
}


def local(s: str) -> dt.datetime:
    return dt.datetime.fromisoformat(s)


@functools.cache
def inspected(name: str, site: str | None = None) -> Inspection:
    return inspect_export(REAL / name, site=site)


# --- Dexcom Clarity (PROVENANCE.md A1-A3 and the cgmquantify file) -------------------------

CLARITY_COUNTS = {  # EGV rows incl. Low/High, numeric EGV, High, Low, sum of numeric values
    A1: (3913, 3898, 13, 2, 684341),
    A2: (3922, 3917, 0, 5, 565143),
    A3: (1411, 1411, 0, 0, 143513),
}
CLARITY_SPAN = {  # first and last EGV (local)
    A1: ("2019-10-14T16:42:37", "2019-10-28T23:57:11"),
    A2: ("2025-05-01T00:01:47", "2025-05-14T17:57:23"),
    A3: ("2018-11-01T00:02:05", "2018-11-06T01:31:50"),
    A4: ("2016-10-24T11:24:17", "2016-11-01T09:19:02"),  # lines 13 and 2160
}


@pytest.mark.parametrize("name", CLARITY_FILES)
def test_clarity_exports_read_by_content(name):
    fmt, df, problems = read_export(REAL / name)
    assert fmt == "dexcom_clarity" and problems == []
    egv = df.filter(pl.col("event_type") == "EGV")
    assert set(df["glucose_unit"]) == {"mg/dL"}
    first, last = CLARITY_SPAN[name]
    assert (egv["timestamp"][0], egv["timestamp"][-1]) == (first, last)
    if name == A4:
        assert egv.height == 2148
        assert egv.row(0, named=True)["glucose_value"] == "103"  # line 13
        return
    n_egv, n_numeric, n_high, n_low, total = CLARITY_COUNTS[name]
    numeric = egv["glucose_value"].cast(pl.Float64, strict=False)
    assert egv.height == n_egv and numeric.count() == n_numeric
    assert (egv["glucose_value"] == "High").sum() == n_high
    assert (egv["glucose_value"] == "Low").sum() == n_low
    assert numeric.sum() == total


@pytest.mark.parametrize("name", CLARITY_FILES)
def test_clarity_canonical_readings_keep_low_and_high(name):
    c = inspected(name).canonical
    n_egv = CLARITY_COUNTS[name][0] if name in CLARITY_COUNTS else 2148
    assert c.height == n_egv and set(c["device"]) == {"dexcom"}
    first, last = CLARITY_SPAN[name]
    assert c["timestamp_local"].min() == local(first) and c["timestamp_local"].max() == local(last)
    if name in CLARITY_COUNTS:
        _, n_numeric, n_high, n_low, total = CLARITY_COUNTS[name]
        assert (c["censored"] == "high").sum() == n_high and (c["censored"] == "low").sum() == n_low
        assert c.filter(pl.col("censored").is_null())["glucose_mg_dl"].sum() == total


def test_clarity_values_by_hand():
    c = inspected(A1).canonical
    # line 12: the first EGV, 55 mg/dL; line 353: "Low" -> censored at 40; line 397: "High"
    assert c.filter(pl.col("source_row") == 12)["glucose_mg_dl"].to_list() == [55.0]
    low = c.filter(pl.col("source_row") == 353).row(0, named=True)
    assert (low["timestamp_local"], low["censored"], low["glucose_mg_dl"]) == (
        local("2019-10-15T21:42:33"), "low", 40.0)
    high = c.filter(pl.col("source_row") == 397).row(0, named=True)
    assert (high["censored"], high["glucose_mg_dl"]) == ("high", 400.0)
    # G5: 16 EGVs have Event Subtype "Low" but a number; the lowest value is 34, kept as a number
    g5 = inspected(A3).canonical
    assert g5["censored"].null_count() == g5.height and g5["glucose_mg_dl"].min() == 34.0


# --- FreeStyle Libre (PROVENANCE.md B1-B7) ----------------------------------------------------

LIBRE_COUNTS = {  # historic, scan, strip, other record types, sum of historic values as exported
    B1: (8372, 1962, 0, {"5": 16, "6": 749}, 44358.0),
    B2: (16985, 3028, 107, {"5": 194, "6": 844}, 1600138.0),
    B3: (2349, 760, 0, {"4": 148, "5": 88, "6": 270}, 15808.2),
    B4: (1339, 0, 0, {}, 6799.4),
    B5: (1339, 0, 0, {}, 168804.0),
    B6: (8809, 567, 0, {}, 1323499.0),
    B7: (667, 167, 0, {"4": 55, "5": 13}, 5915.6),
}
LIBRE_SPAN = {  # first and last historic reading (local), unit
    B1: ("2019-12-05T16:25", "2020-11-28T23:19", "mmol/L"),
    B2: ("2018-11-29T11:29", "2020-01-31T08:02", "mg/dL"),
    B3: ("2025-09-01T21:58", "2025-10-11T17:06", "mmol/L"),
    B4: ("2024-04-01T18:13", "2024-04-15T16:43", "mmol/L"),
    B5: ("2021-03-20T17:38", "2021-04-03T16:08", "mg/dL"),
    B6: ("2018-04-14T12:12", "2019-03-02T12:15", "mg/dL"),
    B7: ("2016-11-15T00:08", "2016-11-21T23:54", "mmol/L"),
}


@pytest.mark.parametrize("name", LIBRE_FILES)
def test_libre_exports_read_by_content(name):
    fmt, df, problems = read_export(REAL / name)
    assert fmt == "libreview" and problems == []
    historic, scans, strips, others, total = LIBRE_COUNTS[name]
    counts = dict(df.group_by("record_type").len().iter_rows())
    assert counts == {k: v for k, v in {"0": historic, "1": scans, "2": strips, **others}.items()
                      if v}
    hist = df.filter(pl.col("record_type") == "0")
    # every historic row has its historic cell filled, no other row type has it
    assert hist["historic_glucose"].null_count() == 0
    assert df["historic_glucose"].count() == historic
    assert df["strip_glucose"].count() == strips
    values = hist["historic_glucose"].str.replace(",", ".", literal=True).cast(pl.Float64)
    assert values.sum() == pytest.approx(total, abs=1e-6)
    assert set(df["glucose_unit"]) == {LIBRE_SPAN[name][2]}


@pytest.mark.parametrize("name", LIBRE_FILES)
def test_libre_canonical_readings_and_strips_kept_apart(name):
    r = inspected(name)
    c = r.canonical
    historic, scans, strips, others, _ = LIBRE_COUNTS[name]
    by_device = dict(c.group_by("device").len().iter_rows())
    assert by_device == {k: v for k, v in {"libre_historic": historic,
                                           "libre_scan": scans}.items() if v}
    hist = c.filter(pl.col("device") == "libre_historic")
    first, last, unit = LIBRE_SPAN[name]
    assert hist["timestamp_local"].min() == local(first)
    assert hist["timestamp_local"].max() == local(last)
    assert set(c["unit_original"]) == {unit} and c["glucose_mg_dl"].null_count() == 0
    assert f"strip (fingerstick) glucose: {strips:,} rows" in "\n".join(r.details)
    assert r.not_canonical == {f"record type {k}": v for k, v in sorted(others.items())}


def test_libre_values_by_hand():
    def first_historic(name: str) -> dict:
        return inspected(name).canonical.filter(pl.col("device") == "libre_historic").sort(
            "source_row").row(0, named=True)

    b1 = first_historic(B1)  # line 3: 05-12-2019 16:25, 6.3 mmol/L (day first: 5 December)
    assert (b1["source_row"], b1["timestamp_local"], b1["glucose_mg_dl"]) == (
        3, local("2019-12-05T16:25"), 114.0)  # 6.3 x 18.018 = 113.5
    b4 = first_historic(B4)  # line 4 (two preamble lines): "5,7" mmol/L, decimal comma
    assert (b4["source_row"], b4["glucose_original"], b4["glucose_mg_dl"]) == (4, "5,7", 103.0)
    b6 = first_historic(B6)  # line 3 of the UTF-16 file: 04-14-2018 12:12 PM, 270 mg/dL
    assert (b6["source_row"], b6["timestamp_local"], b6["glucose_mg_dl"]) == (
        3, local("2018-04-14T12:12"), 270.0)
    b7 = first_historic(B7)  # line 4 (ID 150): 2016/11/15 00:08, 6.2 mmol/L; line 3 is a scan
    assert (b7["source_row"], b7["timestamp_local"], b7["glucose_mg_dl"]) == (
        4, local("2016-11-15T00:08"), 112.0)  # 6.2 x 18.018 = 111.7
    assert inspected(B6).canonical["glucose_mg_dl"].max() == 434.0


def landed(name: str, site: str, participant: str) -> duckdb.DuckDBPyConnection:
    """An in-memory warehouse holding one real export landed at ``site``."""
    fmt, df, _ = read_export(REAL / name)
    return landed_rows(fmt, df, site, participant)


def landed_rows(fmt: str, df: pl.DataFrame, site: str, participant: str
                ) -> duckdb.DuckDBPyConnection:
    """An in-memory warehouse holding the raw rows ``df`` of one ``fmt`` export landed at
    ``site`` as the nightly build loads them (raw table, audit.files), core device SQL run."""
    con = duckdb.connect()
    for script in ("schemas.sql", "audit/tables.sql", "raw/tables.sql", "quality/tables.sql"):
        run_sql(con, script)
    load_sample_trial(con)
    con.execute("INSERT INTO audit.files VALUES ('f000000000000001', 'x', ?, 'cgm', 'p', ?, 1, "
                "TIMESTAMP '2025-01-01', ?, 'r')", [site, participant, fmt])
    con.register("_raw", df.insert_column(0, pl.lit("f000000000000001").alias("file_id")))
    con.execute(f"INSERT INTO raw.{fmt} BY NAME SELECT * FROM _raw")
    run_sql(con, "core/03_cgm_readings.sql")
    run_sql(con, "core/03b_fingerstick_glucose.sql")
    return con


def fingersticks(name: str, site: str) -> pl.DataFrame:
    """core.fingerstick_glucose of one Libre export landed at ``site``."""
    con = landed(name, site, "US01-001")
    assert con.sql("SELECT count(*) FROM core.cgm_readings WHERE device NOT IN "
                   "('libre_historic', 'libre_scan')").fetchall() == [(0,)]
    return con.sql("SELECT * FROM core.fingerstick_glucose ORDER BY source_row").pl()


def test_strip_glucose_is_fingerstick_glucose_never_cgm():
    strips = fingersticks(B2, "US01")
    assert strips.height == 107
    first = strips.row(0, named=True)  # line 20016: 04-20-2019 07:14 AM, record type 2, 72
    assert (first["source_row"], first["timestamp_local"], first["glucose_mg_dl"]) == (
        20016, local("2019-04-20T07:14"), 72.0)
    assert first["timestamp_utc"] == local("2019-04-20T12:14")  # Chicago, CDT = UTC-5
    assert strips["unit_original"].unique().to_list() == ["mg/dL"]


def test_libre_repeated_us_hour_in_file_order():
    # B2 at a Chicago site: 2019-11-03 01:06-01:51 AM are each given twice (DST fall-back),
    # interleaved by local time; LibreView has no device clock, so file order tells the
    # passes apart: 8 readings, 8 UTC times 15 minutes apart from 06:06 to 07:51 UTC.
    fmt, df, _ = read_export(REAL / B2)
    r = inspect_export(REAL / B2, site="US01").canonical
    hour = r.filter((pl.col("device") == "libre_historic")
                    & pl.col("timestamp_local").is_between(local("2019-11-03T01:00"),
                                                           local("2019-11-03T01:59")))
    assert hour.height == 8
    utc = sorted(hour["timestamp_utc"])
    assert utc == [local("2019-11-03T06:06") + dt.timedelta(minutes=15 * i) for i in range(8)]


# --- The repeated hour by the device's clock (PROVENANCE.md A1) ------------------------------

def clarity_at(name: str, site: str) -> pl.DataFrame:
    """core.cgm_readings of one Clarity export landed at ``site``, with its transmitter time."""
    return landed(name, site, "DE01-001").sql(
        "SELECT c.*, TRY_CAST(r.transmitter_time AS BIGINT) AS transmitter_time "
        "FROM core.cgm_readings AS c JOIN raw.dexcom_clarity AS r "
        "ON r.file_id = c.source_file_id AND r.row_number = c.source_row "
        "ORDER BY c.source_row").pl()


def assert_two_five_minute_series(hour: pl.DataFrame) -> None:
    """The 24 readings of local 03:00-03:59 on 2019-10-27: two series of 12 told apart by the
    transmitter time (about 1081573... and 1085173...), each 5 minutes apart in UTC."""
    assert hour.height == 24
    first = hour.filter(pl.col("transmitter_time") < 1085000).sort("transmitter_time")
    second = hour.filter(pl.col("transmitter_time") > 1085000).sort("transmitter_time")
    assert first.height == second.height == 12
    for series in (first, second):
        gaps = series["timestamp_utc"].diff().drop_nulls().dt.total_seconds()
        assert gaps.min() >= 298 and gaps.max() <= 302
    assert first["timestamp_utc"].max() < second["timestamp_utc"].min()


def test_repeated_hour_at_a_europe_site_by_the_device_clock():
    c = clarity_at(A1, "DE01")
    assert c.height == 3913 and c["timestamp_utc"].n_unique() == 3913
    hour = c.filter(pl.col("timestamp_local").is_between(local("2019-10-27T03:00"),
                                                         local("2019-10-27T03:59:59")))
    assert_two_five_minute_series(hour)
    # the one local time given twice: lines 3517 (312, transmitter 1081573) and 3518 (296)
    pair = c.filter(pl.col("timestamp_local") == local("2019-10-27T03:02:18")).sort("source_row")
    assert pair["glucose_original"].to_list() == ["312", "296"]
    assert (pair["timestamp_utc"][1] - pair["timestamp_utc"][0]) == dt.timedelta(hours=1)
    # every reading 5 minutes from its neighbour around the change, by UTC
    around = c.filter(pl.col("timestamp_local").is_between(local("2019-10-27T01:00"),
                                                           local("2019-10-27T04:59")))
    gaps = around.sort("timestamp_utc")["timestamp_utc"].diff().drop_nulls().dt.total_seconds()
    assert gaps.min() >= 298 and gaps.max() <= 302


def test_repeated_hour_through_inspect_with_site(tmp_path):
    out = tmp_path / "a1.parquet"
    r = runner.invoke(app, ["inspect", str(REAL / A1), "--site", "DE01", "--to", str(out)])
    assert r.exit_code == 0, r.output
    assert "site DE01 (Europe/Berlin, --site)" in r.output
    rows = pl.read_parquet(out)
    assert rows.height == 3913 and rows["timestamp_utc"].n_unique() == 3913
    assert set(rows["site_id"]) == {"DE01"}


def test_device_clock_orders_interleaved_series_in_the_sites_repeated_hour():
    # Berlin, 27 Oct 2024: 02:00-02:59 twice. Clarity writes the EGVs in local-time order, so
    # the second pass (02:00, 02:05) stands before the end of the first (02:50, 02:55).
    # Transmitter time (seconds) says which came first; file order would read 02:00 as summer
    # time. Hand-computed: 02:50 and 02:55 CEST = 00:50, 00:55 UTC; 02:00, 02:05 CET = 01:00,
    # 01:05 UTC. Two earlier readings fix the setting of the device clock (CEST).
    rows = [("2024-10-27T01:40:00", "1000"), ("2024-10-27T01:45:00", "1300"),
            ("2024-10-27T02:00:00", "5800"), ("2024-10-27T02:05:00", "6100"),
            ("2024-10-27T02:50:00", "5200"), ("2024-10-27T02:55:00", "5500")]
    raw = pl.DataFrame({"row_number": list(range(2, 8)), "timestamp": [t for t, _ in rows],
                        "event_type": "EGV", "glucose_value": "100", "glucose_unit": "mg/dL",
                        "transmitter_time": [tt for _, tt in rows]})
    con = landed_rows("dexcom_clarity", raw, "DE01", "DE01-001")
    out = con.sql("SELECT timestamp_utc FROM core.cgm_readings ORDER BY source_row").pl()
    assert out["timestamp_utc"].to_list() == [
        local("2024-10-26T23:40"), local("2024-10-26T23:45"), local("2024-10-27T01:00"),
        local("2024-10-27T01:05"), local("2024-10-27T00:50"), local("2024-10-27T00:55")]


# --- No flags: inspect and cgm-metrics on every real CGM file --------------------------------

@pytest.mark.parametrize("name", CGM_FILES)
def test_inspect_with_no_flags_keeps_local_times_and_prints_no_personal_data(name, tmp_path):
    out = tmp_path / "rows.parquet"
    r = runner.invoke(app, ["inspect", str(REAL / name), "--to", str(out)])
    assert r.exit_code == 0, r.output
    assert r.output.count("times are the device's local times; timestamp_utc is left empty") == 1
    assert "participant unknown" in r.output
    rows = pl.read_parquet(out)
    assert rows["timestamp_utc"].null_count() == rows.height  # not faked as UTC
    assert rows["participant_id"].null_count() == rows.height
    assert rows["timestamp_local"].null_count() == 0
    cells = "\n".join(str(v) for col in rows.columns for v in rows[col].to_list())
    for phi in PHI[name]:
        assert phi not in r.output and phi not in cells, phi


@pytest.mark.parametrize("name", CGM_FILES)
def test_cgm_metrics_with_no_flags(name):
    r = runner.invoke(app, ["cgm-metrics", str(REAL / name)])
    assert r.exit_code == 0, r.output
    assert "metrics on the device's local times" in r.output
    assert "unknown" in r.output and "(1 rows)" in r.output
    for phi in PHI[name]:
        assert phi not in r.output, phi


def test_long_csv_with_row_names_and_extra_columns(tmp_path):
    # iglu's long format as R writes it: "",id,time,gl,diagnosis (PROVENANCE.md)
    fmt, df, problems = read_export(REAL / HALL)
    assert fmt == "cgm_long" and problems == []
    assert df.height == 34890 and df["participant_id"].n_unique() == 19
    assert df.row(0, named=True) == {"row_number": 2, "participant_id": "1636-69-001",
                                     "timestamp": "2014-02-03 03:42:12", "glucose_value": "93"}
    out = tmp_path / "m.csv"
    r = runner.invoke(app, ["cgm-metrics", str(REAL / HALL), "--out", str(out)])
    assert r.exit_code == 0, r.output
    metrics = pl.read_csv(out)
    assert metrics.height == 19 and "local times" not in r.output
    # the other long header, among other columns
    p = tmp_path / "long.csv"
    p.write_text("site,participant_id,timestamp,glucose_mg_dl,note\n"
                 "x,US01-001,2024-01-01 00:00:00,100,a\nx,US01-001,2024-01-01 00:05:00,110,b\n")
    fmt, df, _ = read_export(p)
    assert fmt == "cgm_long" and df["glucose_value"].to_list() == ["100", "110"]


# --- The same export in other encodings, and LibreView in other languages ---------------------

@pytest.mark.parametrize("encoding,bom", [("utf-16-le", b""), ("utf-16-le", b"\xff\xfe"),
                                          ("utf-16-be", b""), ("utf-16-be", b"\xfe\xff"),
                                          ("utf-8", b"\xef\xbb\xbf")])
def test_other_encodings_of_a_real_export_read_the_same(tmp_path, encoding, bom):
    # B6 is UTF-16LE without BOM (first bytes 45 00 78 00); the same text in the other
    # encodings LibreView and spreadsheet tools write must give the same rows
    text = (REAL / B6).read_bytes().decode("utf-16-le")
    p = tmp_path / "export.csv"
    p.write_bytes(bom + text.encode(encoding))
    fmt, df, problems = read_export(p)
    _, original, _ = read_export(REAL / B6)
    assert fmt == "libreview" and problems == [] and df.equals(original)


def test_a_utf16_file_that_is_not_a_device_export_is_refused(tmp_path):
    p = tmp_path / "lab.csv"
    p.write_bytes("subject_id,visit,collection_date,test_code,test_name,result,unit\n"
                  .encode("utf-16-le"))
    with pytest.raises(ValueError, match="UTF-16"):
        read_export(p)


# LibreView headers in German and French as public projects' tests write them (no real export
# in these languages was found: PROVENANCE.md), with the title line (the patient's name) above.
TRANSLATED = {
    "de": ("Glukose-Werte,Erstellt am,24-02-2021 12:12 UTC,Erstellt von,Hildegard Quist\n"
           "Gerät,Seriennummer,Gerätezeitstempel,Aufzeichnungstyp,Glukosewert-Verlauf mg/dL,"
           "Glukose-Scan mg/dL,Nicht numerisches schnellwirkendes Insulin,Schnellwirkendes "
           "Insulin (Einheiten),Nicht numerische Nahrungsdaten,Kohlenhydrate (Gramm),"
           "Kohlenhydrate (Portionen),Nicht numerisches Depotinsulin,Depotinsulin (Einheiten),"
           "Notizen,Glukose-Teststreifen mg/dL,Keton mmol/L,Mahlzeiteninsulin (Einheiten),"
           "Korrekturinsulin (Einheiten),Insulin-Änderung durch Anwender (Einheiten)\n"),
    "fr": ("Glucose Data,Généré le,15-06-2026 09:00 UTC,Généré par,Hildegard Quist\n"
           "Appareil,Numéro de série,Horodatage de l'appareil,Type d'enregistrement,"
           "Historique de la glycémie mg/dL,Scan de glycémie mg/dL,Insuline à action rapide non "
           "numérique,Insuline à action rapide (unités),Aliments non numériques,Glucides "
           "(grammes),Glucides (portions),Insuline à action lente non numérique,Insuline à "
           "action lente (unités),Notes,Glycémie de la bandelette mg/dL,Cétone mmol/L,Insuline "
           "pour le repas (unités),Insuline de correction (unités),Insuline modifiée par "
           "l'utilisateur (unités)\n"),
}


@pytest.mark.parametrize("language", sorted(TRANSLATED))
def test_translated_libreview_headers(tmp_path, language):
    rows = ("FreeStyle Libre 2,SN-QX81,24-02-2021 08:00,0,110,,,,,,,,,,,,,,\n"
            "FreeStyle Libre 2,SN-QX81,24-02-2021 08:07,1,,118,,,,,,,,Frühstück bei Quist,,,,,\n"
            "FreeStyle Libre 2,SN-QX81,24-02-2021 08:10,2,,,,,,,,,,,96,,,,\n")
    p = tmp_path / "export.csv"
    p.write_text(TRANSLATED[language] + rows, encoding="utf-8")
    fmt, df, _ = read_export(p)
    assert fmt == "libreview" and set(df["glucose_unit"]) == {"mg/dL"}
    assert df.select("row_number", "record_type", "historic_glucose", "scan_glucose",
                     "strip_glucose").rows() == [(3, "0", "110", None, None),
                                                 (4, "1", None, "118", None),
                                                 (5, "2", None, None, "96")]
    cells = "|".join(str(v) for col in df.columns for v in df[col].to_list())
    for phi in ("Quist", "SN-QX81", "Frühstück"):
        assert phi not in cells
