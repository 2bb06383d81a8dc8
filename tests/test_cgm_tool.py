"""``isletflow cgm-metrics``' fast read of long CSVs gives what the ``inspect`` path gave.

``before`` below is the command's previous implementation (every file through
``inspect_export``, de-duplication always run), kept here as the reference: the new
``metrics_and_note`` must give identical frames (not just close: the same rows in the same
order give the same floating-point sums). Counts are from shared/reference/real/PROVENANCE.md
or written in the files below.
"""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest

from isletflow.cgm_tool import (OUTPUT_COLUMNS, fixed_time_format, infer_interval_min,
                                metrics_and_note, read_long_csv, times_are_unique)
from isletflow.config import PROJECT_ROOT
from isletflow.endpoints.cgm_metrics import cgm_metrics
from isletflow.inspect import inspect_export

REAL = PROJECT_ROOT.parent / "shared" / "reference" / "real"
HALL = REAL / "hall2018_long_idtimegl_iglu.csv"
IGLU5 = PROJECT_ROOT.parent / "shared" / "reference" / "iglu_example_data_5_subject.csv"
A1 = REAL / "clarity_g6_android_mgdl_bom_crlf_dst_sugarsugar.csv"
B1 = REAL / "libreview_mmol_eu_ddmmyyyy_scans_notes_glyco.csv"


def before(path, site=None, participant=None):
    """The metrics as the command computed them before the fast read (commit b6bbf0a)."""
    c = inspect_export(path, site=site, participant=participant).canonical
    note = None
    if "device" not in c.columns:  # a long CSV
        readings = c.filter(pl.col("glucose_mg_dl").is_not_null()
                            & pl.col("timestamp").is_not_null()).with_columns(
            censored=pl.lit(None, pl.String),
            interval_min=infer_interval_min(pl.col("timestamp")).over("participant_id"))
    else:
        readings = c.with_columns(
            timestamp=pl.coalesce("timestamp_utc", "timestamp_local"),
            participant_id=pl.col("participant_id").fill_null("unknown"),
        ).filter((pl.col("device") != "libre_scan") & pl.col("glucose_mg_dl").is_not_null()
                 & pl.col("timestamp").is_not_null())
        if c["site_id"].null_count() == c.height:
            note = "local times"
    out = cgm_metrics(readings.select("participant_id", "timestamp", "glucose_mg_dl",
                                      "censored", "interval_min")).select(OUTPUT_COLUMNS)
    return out, note


def assert_same_as_before(path, site=None, participant=None, fast=True):
    """Identical metrics and note; ``fast``: the file is one the fast read takes."""
    assert (read_long_csv(path) is not None) is fast
    got, note = metrics_and_note(path, site=site, participant=participant)
    ref, ref_note = before(path, site=site, participant=participant)
    assert got.equals(ref), (got, ref)
    assert (note is None) == (ref_note is None)
    return got


def write(path, text: str | bytes):
    path.write_bytes(text.encode() if isinstance(text, str) else text)
    return path


def test_real_long_csvs_give_the_same_metrics_as_before():
    # hall2018: "",id,time,gl,diagnosis with R's quoted row names; 19 subjects, 34,890 readings
    hall = assert_same_as_before(HALL)
    assert hall.height == 19 and hall["n_readings"].sum() == 34890
    five = assert_same_as_before(IGLU5)
    assert five["participant_id"].to_list() == [f"Subject {i}" for i in range(1, 6)]


def test_a_long_csv_in_time_order_per_participant(tmp_path):
    # 3 participants x 3 days at 5 min (864 rows each), glucose cycling 40..400 mg/dL
    t0 = dt.datetime(2024, 3, 1)
    rows = [f"P{p},{t0 + dt.timedelta(minutes=5 * i):%Y-%m-%d %H:%M:%S},{40 + (7 * i + p) % 361}"
            for p in range(3) for i in range(864)]
    path = write(tmp_path / "long.csv", "id,time,gl\n" + "\n".join(rows) + "\n")
    m = assert_same_as_before(path)
    assert m["n_readings"].to_list() == [864] * 3
    assert m["cgm_active_pct"].to_list() == [100.0] * 3  # 864 of floor(3 days / 5 min) + 1 - 1


def test_rows_out_of_order_repeated_times_and_unreadable_values(tmp_path):
    # P1: 00:10 before 00:00 and 00:05; 00:05 twice (the first, 100, is kept as before);
    # a glucose "NA", a time "yesterday", a row with a value beyond the header, a short row,
    # a row without participant; CRLF line ends, a BOM, quoted cells, one extra column.
    text = ("\ufeffsite;participant_id;timestamp;glucose_mg_dl\r\n"
            'x;"P1";2024-03-01 00:10:00;120\r\n'
            "x;P1;2024-03-01 00:00:00;90\r\n"
            "x;P1;2024-03-01 00:05:00;100\r\n"
            "x;P1;2024-03-01 00:05:00;300\r\n"
            "x;P1;2024-03-01 00:15:00;NA\r\n"
            "x;P1;yesterday;110\r\n"
            "x;P1;2024-03-01 00:20:00;130;surplus\r\n"
            "x;P2;2024-03-01 00:00:00\r\n"
            "x;;2024-03-01 00:00:00;150\r\n"
            "x;P2;2024-03-01 00:05:00;160\r\n")
    path = write(tmp_path / "odd.csv", text)
    m = assert_same_as_before(path)
    # P1: 00:10 (120), 00:00 (90), 00:05 (100) -> 3 readings, mean 310 / 3; P2: 00:05 (160);
    # no participant: one row (150), grouped as a missing id
    by = {r["participant_id"]: r for r in m.iter_rows(named=True)}
    assert by["P1"]["n_readings"] == 3 and by["P1"]["mean_glucose_mg_dl"] == pytest.approx(310 / 3)
    assert by["P2"]["n_readings"] == 1 and by[None]["n_readings"] == 1


def test_times_in_two_layouts_are_parsed_as_inference_parses_them(tmp_path):
    # the first time fixes the pattern family; later ones with a 'T', without seconds, or
    # with a fraction are read by inference, as before (a fixed format would miss them)
    text = ("id,time,gl\nA,2024-03-01 00:00:00,100\nA,2024-03-01T00:05:00,110\n"
            "A,2024-03-01 00:10,120\nA,2024-03-01 00:15:00.5,130\n")
    path = write(tmp_path / "mixed.csv", text)
    assert assert_same_as_before(path)["n_readings"].to_list() == [4]
    sample = pl.Series(["2024-03-01 00:00:00", None, "2024-03-01 00:05:00"])
    assert fixed_time_format(sample) == "%Y-%m-%d %H:%M:%S"
    assert fixed_time_format(pl.Series(["03/01/2024 00:00", "03/01/2024 00:05"])) is None
    assert fixed_time_format(pl.Series([None], dtype=pl.String)) is None


@pytest.mark.parametrize("name,content", [
    ("lone_cr.csv", b"id,time,gl\rA,2024-03-01 00:00:00,100\rA,2024-03-01 00:05:00,110\r"),
    ("latin1.csv", b"id,time,gl,note\nA,2024-03-01 00:00:00,100,caf\xe9\n"),
    ("cut.csv", b"id,time,gl\nA,2024-03-01 00:00:00,100\nA,2024-03-01 00:05"),
])
def test_files_the_fast_read_does_not_take_go_through_inspect(tmp_path, name, content):
    path = write(tmp_path / name, content)
    assert read_long_csv(path) is None
    if name == "latin1.csv":  # refused, with inspect's message
        with pytest.raises(ValueError, match="not UTF-8"):
            metrics_and_note(path)
    else:
        assert_same_as_before(path, fast=False)


def test_an_unknown_site_is_refused_for_a_long_csv_as_before():
    with pytest.raises(ValueError, match="unknown site 'XX99'"):
        metrics_and_note(IGLU5, site="XX99")


def test_device_exports_give_the_same_metrics_as_before():
    # A1 without a site: local times; the repeated hour of 2019-10-27 gives one identical
    # timestamp pair, so 3,913 EGV rows (Low and High kept) are 3,912 readings
    a1 = assert_same_as_before(A1, fast=False)
    assert a1["n_readings"].to_list() == [3912]
    # in a site's zone (DE01, Europe/Berlin) the two series of the repeated hour are apart
    assert assert_same_as_before(A1, site="DE01", fast=False)["n_readings"].to_list() == [3913]
    assert_same_as_before(B1, site="DE01", participant="DE01-009", fast=False)


def test_times_are_unique_per_participant():
    t = [dt.datetime(2024, 3, 1, 0, m) for m in (0, 5, 10)]
    df = pl.DataFrame({"participant_id": ["A", "A", "B"], "timestamp": t})
    assert times_are_unique(df)
    assert times_are_unique(df.with_columns(participant_id=pl.lit("A"))) is True
    assert not times_are_unique(df.with_columns(timestamp=pl.lit(t[0])))
    # a missing id is one participant, as cgm_metrics groups it
    nulls = pl.DataFrame({"participant_id": [None, None], "timestamp": [t[0], t[0]]},
                         schema={"participant_id": pl.String, "timestamp": pl.Datetime("us")})
    assert not times_are_unique(nulls)


def test_the_interval_of_a_long_csv_is_the_most_common_gap_else_the_shortest():
    t0 = dt.datetime(2024, 3, 1)

    def interval(minutes):
        df = pl.DataFrame({"t": [t0 + dt.timedelta(minutes=m) for m in minutes]})
        return {df.select(infer_interval_min(pl.col("t"))).item() for _ in range(20)}

    assert interval([0, 5]) == {5.0}  # one gap: 5 min, every time
    assert interval([0, 5, 15]) == {5.0}  # gaps 5 and 10, equally common: the shorter
    assert interval([0, 15, 30, 35]) == {15.0}  # 15, 15, 5
    assert interval([0]) == {None}
