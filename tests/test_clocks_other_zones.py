"""Local device time -> UTC (sql/core/03_cgm_readings.sql, sql/resolve/0*_cgm*.sql) in zones the
first trial never had: Australia/Sydney (southern hemisphere DST), America/St_Johns (a half-hour
offset with DST), Asia/Tokyo and America/Phoenix (no DST).

Tiny hand-made raw tables, one export each. Every expected UTC time is worked out by hand from
the tz database's rules, written next to it (2024 transitions, as `zdump -v -c 2024,2025 <zone>`
lists them):

* Australia/Sydney: AEST = UTC+10, AEDT = UTC+11. Summer time ends on the first Sunday of April
  (7 Apr 2024: 03:00 AEDT -> 02:00 AEST, at 16:00 UTC on 6 Apr, so 02:00-02:59 happens twice)
  and starts on the first Sunday of October (6 Oct 2024: 02:00 AEST -> 03:00 AEDT, at 16:00 UTC
  on 5 Oct, so 02:00-02:59 does not exist). Summer time spans the new year.
* America/St_Johns: NST = UTC-3:30, NDT = UTC-2:30. Summer time starts on the second Sunday of
  March (10 Mar 2024: 02:00 NST -> 03:00 NDT, at 05:30 UTC) and ends on the first Sunday of
  November (3 Nov 2024: 02:00 NDT -> 01:00 NST, at 04:30 UTC, so 01:00-01:59 happens twice).
* Asia/Tokyo: JST = UTC+9 all year. America/Phoenix: MST = UTC-7 all year.

The rules under test (the SQL file's header): a time of a repeated hour is the earlier instant
(summer time) until the device's clock has gone back, judged by the device's clock (Dexcom
Clarity `Transmitter Time`), else by file order (Libre, Clarity without transmitter columns);
a time in a skipped hour is read with the offset in force before the change (standard time).
"""

from __future__ import annotations

import datetime as dt

import duckdb
import polars as pl

from isletflow.warehouse import run_sql, write_table

# Sites of a trial on other continents, made up here (not the sample trial's site list)
SITES = [
    {"site_id": "AU01", "timezone": "Australia/Sydney"},
    {"site_id": "CA02", "timezone": "America/St_Johns"},
    {"site_id": "JP01", "timezone": "Asia/Tokyo"},
    {"site_id": "US05", "timezone": "America/Phoenix"},
]
FILE_ID = "c100000000000001"
H, M = dt.timedelta(hours=1), dt.timedelta(minutes=1)


def utc(s: str) -> dt.datetime:
    return dt.datetime.fromisoformat(s)


def build(site: str, table: str, raw: pl.DataFrame) -> pl.DataFrame:
    """Run the core CGM SQL and the overlap resolution on one export of one participant."""
    con = duckdb.connect()
    for name in ("schemas.sql", "audit/tables.sql", "raw/tables.sql", "quality/tables.sql"):
        run_sql(con, name)
    write_table(con, "core.sites", pl.DataFrame(SITES))
    export_format = "dexcom_clarity" if table == "dexcom_clarity" else "libreview"
    con.execute("INSERT INTO audit.files VALUES (?, ?, ?, 'cgm', ?, ?, 1, "
                "TIMESTAMP '2025-01-15', ?, 'r')",
                [FILE_ID, FILE_ID, site, f"{site}/cgm/{site}-001__export.csv", f"{site}-001",
                 export_format])
    con.register("_raw", raw.with_columns(file_id=pl.lit(FILE_ID)).to_arrow())
    con.execute(f"INSERT INTO raw.{table} BY NAME SELECT * FROM _raw")
    con.unregister("_raw")
    run_sql(con, "core/03_cgm_readings.sql")
    run_sql(con, "resolve/00_cgm_status_column.sql")
    run_sql(con, "resolve/01_cgm_overlaps.sql")
    return con.sql("SELECT * FROM core.cgm_readings ORDER BY source_row").pl()


def clarity(site: str, rows: list[tuple[str, str, int | None]]) -> pl.DataFrame:
    """A Clarity export's EGV rows (local timestamp, glucose, transmitter time or None), in
    file order; without any transmitter time the column is absent, as in older exports."""
    raw = pl.DataFrame({"row_number": list(range(2, len(rows) + 2)),
                        "timestamp": [t for t, _, _ in rows], "event_type": "EGV",
                        "glucose_value": [g for _, g, _ in rows], "glucose_unit": "mg/dL"})
    if any(tt is not None for _, _, tt in rows):
        raw = raw.with_columns(transmitter_time=pl.Series([str(tt) for _, _, tt in rows]))
    return build(site, "dexcom_clarity", raw)


def libre(site: str, rows: list[tuple[str, str, str]]) -> pl.DataFrame:
    """A LibreView export's rows (device timestamp as written, record type, glucose), in file
    order: record type 0 is a historic (15-minute) reading, 1 a scan."""
    raw = pl.DataFrame({
        "row_number": list(range(2, len(rows) + 2)), "device": "FreeStyle LibreLink",
        "device_timestamp": [t for t, _, _ in rows], "record_type": [r for _, r, _ in rows],
        "historic_glucose": [g if r == "0" else None for _, r, g in rows],
        "scan_glucose": [g if r == "1" else None for _, r, g in rows], "glucose_unit": "mg/dL"})
    return build(site, "libreview", raw)


def device_series(start_utc: dt.datetime, n: int, change_utc: dt.datetime,
                  before: dt.timedelta, after: dt.timedelta) -> list[tuple[dt.datetime, str, int]]:
    """n readings 5 minutes apart from start_utc as a device writes them: (UTC time, local text,
    transmitter time). Its clock shows UTC + `before` until change_utc, then UTC + `after`; the
    transmitter clock counts seconds since its start, 300 a reading."""
    out = []
    for i in range(n):
        u = start_utc + 5 * i * M
        out.append((u, (u + (before if u < change_utc else after)).isoformat(), 800_000 + 300 * i))
    return out


# --- Australia/Sydney: summer time ends in April (the repeated hour) -----------------------

# 7 Apr 2024: local 01:50 AEDT (UTC+11) = 14:50 UTC on 6 Apr; 02:00-02:55 AEDT = 15:00-15:55
# UTC; 03:00 AEDT becomes 02:00 AEST (UTC+10) = 16:00 UTC; 03:10 AEST = 17:10 UTC.
SYDNEY_APRIL = device_series(utc("2024-04-06 14:50"), 29, utc("2024-04-06 16:00"),
                             before=11 * H, after=10 * H)


def test_sydney_april_repeated_hour_clarity_ordered_by_transmitter_time():
    """The rows sorted by local time, as an export lists them (the second pass's 02:00 before
    the first pass's): only the transmitter clock tells the two passes apart."""
    assert SYDNEY_APRIL[2][1] == "2024-04-07T02:00:00" == SYDNEY_APRIL[14][1]  # twice
    in_file = sorted(SYDNEY_APRIL, key=lambda r: (r[1], -r[2]))
    out = clarity("AU01", [(local, str(100 + i), tt) for i, (_, local, tt) in enumerate(in_file)])
    assert out["timestamp_local"].to_list()[2:4] == [utc("2024-04-07 02:00")] * 2
    # each reading 5 minutes from its neighbours: 14:50 ... 17:10 UTC, none doubled or lost
    got = dict(zip(out["glucose_original"].to_list(), out["timestamp_utc"].to_list(), strict=True))
    assert [got[str(100 + in_file.index(r))] for r in SYDNEY_APRIL] == [u for u, _, _ in
                                                                        SYDNEY_APRIL]
    assert sorted(got.values())[0] == utc("2024-04-06 14:50")
    assert sorted(got.values())[-1] == utc("2024-04-06 17:10")
    assert out["record_status"].unique().to_list() == ["current"]


def test_sydney_april_repeated_hour_clarity_without_transmitter_time_uses_file_order():
    out = clarity("AU01", [(local, "100", None) for _, local, _ in SYDNEY_APRIL])
    assert out["timestamp_utc"].to_list() == [u for u, _, _ in SYDNEY_APRIL]
    # spot checks, by hand: first pass 02:30 AEDT = 15:30 UTC, second pass 02:30 AEST = 16:30
    local = out["timestamp_local"].to_list()
    assert out["timestamp_utc"][local.index(utc("2024-04-07 02:30"))] == utc("2024-04-06 15:30")
    second = local.index(utc("2024-04-07 02:30"), local.index(utc("2024-04-07 02:30")) + 1)
    assert out["timestamp_utc"][second] == utc("2024-04-06 16:30")
    assert out["record_status"].unique().to_list() == ["current"]


def test_sydney_april_repeated_hour_libre_historic_and_scans_in_file_order():
    # LibreView from an Australian phone: 'DD-MM-YYYY HH:MM'
    rows = [("07-04-2024 01:45", "0", "110"),  # AEDT +11: 14:45 UTC (6 Apr)
            ("07-04-2024 02:00", "0", "111"),  # AEDT: 15:00
            ("07-04-2024 02:15", "0", "112"),  # AEDT: 15:15
            ("07-04-2024 02:20", "1", "118"),  # scan, first pass, AEDT: 15:20
            ("07-04-2024 02:30", "0", "113"),  # AEDT: 15:30
            ("07-04-2024 02:45", "0", "114"),  # AEDT: 15:45
            ("07-04-2024 02:00", "0", "115"),  # clock back: AEST +10: 16:00
            ("07-04-2024 02:07", "1", "119"),  # scan, second pass, AEST: 16:07
            ("07-04-2024 02:15", "0", "116"),  # AEST: 16:15
            ("07-04-2024 02:30", "0", "117"),  # AEST: 16:30
            ("07-04-2024 03:00", "0", "120")]  # AEST: 17:00
    out = libre("AU01", rows)
    assert out["device"].to_list() == ["libre_historic"] * 3 + ["libre_scan"] + \
        ["libre_historic"] * 3 + ["libre_scan"] + ["libre_historic"] * 3
    assert out["timestamp_utc"].to_list() == [
        utc("2024-04-06 14:45"), utc("2024-04-06 15:00"), utc("2024-04-06 15:15"),
        utc("2024-04-06 15:20"), utc("2024-04-06 15:30"), utc("2024-04-06 15:45"),
        utc("2024-04-06 16:00"), utc("2024-04-06 16:07"), utc("2024-04-06 16:15"),
        utc("2024-04-06 16:30"), utc("2024-04-06 17:00")]
    assert out["record_status"].unique().to_list() == ["current"]


# --- Australia/Sydney: summer time starts in October (the skipped hour) -------------------

def test_sydney_october_skipped_hour_clarity_receiver_set_forward_late():
    """A receiver still on AEST after the change: it writes 02:00-02:30 (times that do not
    exist, read as AEST, UTC+10) until its clock is set forward at 16:35 UTC, then AEDT (+11).
    One device, transmitter clock running on: readings stay 5 minutes apart."""
    series = device_series(utc("2024-10-05 15:50"), 12, utc("2024-10-05 16:35"),
                           before=10 * H, after=11 * H)
    # 15:50 UTC = 01:50 AEST; 16:00-16:30 UTC written as 02:00-02:30 (skipped); 16:35 UTC =
    # 03:35 AEDT; the last, 16:45 UTC = 03:45 AEDT
    assert [s[1][11:16] for s in series] == ["01:50", "01:55", "02:00", "02:05", "02:10",
                                             "02:15", "02:20", "02:25", "02:30", "03:35",
                                             "03:40", "03:45"]
    for with_tt in (True, False):
        out = clarity("AU01", [(local, "100", tt if with_tt else None)
                               for _, local, tt in series])
        assert out["timestamp_utc"].to_list() == [u for u, _, _ in series], with_tt


def test_sydney_october_skipped_hour_libre_on_time_and_a_non_existent_time():
    rows = [("2024/10/06 01:30", "0", "100"),  # desktop-app format; AEST +10: 15:30 UTC (5 Oct)
            ("2024/10/06 01:45", "0", "101"),  # AEST: 15:45
            ("2024/10/06 03:00", "0", "102"),  # AEDT +11: 16:00
            ("2024/10/06 03:15", "0", "103"),  # AEDT: 16:15
            ("2024/10/06 02:40", "1", "104")]  # no such local time: AEST: 16:40
    out = libre("AU01", rows)
    assert out["timestamp_utc"].to_list() == [
        utc("2024-10-05 15:30"), utc("2024-10-05 15:45"), utc("2024-10-05 16:00"),
        utc("2024-10-05 16:15"), utc("2024-10-05 16:40")]


def test_sydney_summer_time_spans_the_new_year():
    rows = [("2024-07-01T12:00:00", "100", None),  # winter, AEST +10: 02:00 UTC
            ("2024-12-31T23:55:00", "100", None),  # summer, AEDT +11: 12:55 UTC 31 Dec
            ("2025-01-01T00:05:00", "100", None),  # AEDT: 13:05 UTC 31 Dec
            ("2025-02-15T08:00:00", "100", None),  # AEDT: 21:00 UTC 14 Feb
            ("2025-04-05T12:00:00", "100", None),  # AEDT until 6 Apr 2025 (1st Sun): 01:00
            ("2025-04-06T12:00:00", "100", None)]  # AEST: 02:00 UTC 6 Apr
    out = clarity("AU01", rows)
    assert out["timestamp_utc"].to_list() == [
        utc("2024-07-01 02:00"), utc("2024-12-31 12:55"), utc("2024-12-31 13:05"),
        utc("2025-02-14 21:00"), utc("2025-04-05 01:00"), utc("2025-04-06 02:00")]


# --- America/St_Johns: a half-hour offset, with summer time --------------------------------

# 3 Nov 2024: 00:50 NDT (UTC-2:30) = 03:20 UTC; 01:00-01:55 NDT = 03:30-04:25 UTC; 02:00 NDT
# becomes 01:00 NST (UTC-3:30) = 04:30 UTC; 02:05 NST = 05:35 UTC.
ST_JOHNS_NOV = device_series(utc("2024-11-03 03:20"), 28, utc("2024-11-03 04:30"),
                             before=-(2 * H + 30 * M), after=-(3 * H + 30 * M))


def test_st_johns_november_repeated_hour_clarity_lands_on_the_half_hour():
    assert ST_JOHNS_NOV[2][1] == "2024-11-03T01:00:00" == ST_JOHNS_NOV[14][1]
    assert ST_JOHNS_NOV[-1][1] == "2024-11-03T02:05:00"
    in_file = sorted(ST_JOHNS_NOV, key=lambda r: (r[1], -r[2]))
    out = clarity("CA02", [(local, str(100 + i), tt) for i, (_, local, tt) in enumerate(in_file)])
    got = dict(zip(out["glucose_original"].to_list(), out["timestamp_utc"].to_list(), strict=True))
    assert [got[str(100 + in_file.index(r))] for r in ST_JOHNS_NOV] == [u for u, _, _ in
                                                                        ST_JOHNS_NOV]
    # the two 01:00s: 03:30 UTC (NDT) and 04:30 UTC (NST); minutes :20, :25, :30 ... not :50
    assert sorted(u for u, loc in zip(out["timestamp_utc"], out["timestamp_local"], strict=True)
                  if loc == utc("2024-11-03 01:00")) == [utc("2024-11-03 03:30"),
                                                         utc("2024-11-03 04:30")]
    assert {u.minute % 5 for u in got.values()} == {0}
    assert out["record_status"].unique().to_list() == ["current"]

    out = clarity("CA02", [(local, "100", None) for _, local, _ in ST_JOHNS_NOV])
    assert out["timestamp_utc"].to_list() == [u for u, _, _ in ST_JOHNS_NOV]


def test_st_johns_november_repeated_hour_libre_us_format():
    rows = [("11-03-2024 12:45 AM", "0", "100"),  # 00:45 NDT -2:30: 03:15 UTC
            ("11-03-2024 01:00 AM", "0", "101"),  # NDT: 03:30
            ("11-03-2024 01:15 AM", "0", "102"),  # NDT: 03:45
            ("11-03-2024 01:30 AM", "0", "103"),  # NDT: 04:00
            ("11-03-2024 01:45 AM", "0", "104"),  # NDT: 04:15
            ("11-03-2024 01:00 AM", "0", "105"),  # clock back, NST -3:30: 04:30
            ("11-03-2024 01:12 AM", "1", "106"),  # scan, NST: 04:42
            ("11-03-2024 01:15 AM", "0", "107"),  # NST: 04:45
            ("11-03-2024 01:45 AM", "0", "108"),  # NST: 05:15
            ("11-03-2024 02:00 AM", "0", "109")]  # NST: 05:30
    out = libre("CA02", rows)
    assert out["timestamp_utc"].to_list() == [
        utc("2024-11-03 03:15"), utc("2024-11-03 03:30"), utc("2024-11-03 03:45"),
        utc("2024-11-03 04:00"), utc("2024-11-03 04:15"), utc("2024-11-03 04:30"),
        utc("2024-11-03 04:42"), utc("2024-11-03 04:45"), utc("2024-11-03 05:15"),
        utc("2024-11-03 05:30")]
    assert out["record_status"].unique().to_list() == ["current"]


def test_st_johns_march_skipped_hour_and_ordinary_days():
    rows = [("2024-03-10T01:55:00", "100", None),  # NST -3:30: 05:25 UTC
            ("2024-03-10T03:00:00", "100", None),  # NDT -2:30: 05:30 UTC
            ("2024-03-10T02:30:00", "100", None),  # no such time: NST: 06:00 UTC
            ("2024-01-15T23:45:00", "100", None),  # winter NST: 03:15 UTC on 16 Jan
            ("2024-07-01T12:07:00", "100", None)]  # summer NDT: 14:37 UTC
    out = clarity("CA02", rows)
    assert out["timestamp_utc"].to_list() == [
        utc("2024-03-10 05:25"), utc("2024-03-10 05:30"), utc("2024-03-10 06:00"),
        utc("2024-01-16 03:15"), utc("2024-07-01 14:37")]
    # the same readings from a Libre reader in the US format
    out = libre("CA02", [("03-10-2024 01:55 AM", "0", "100"), ("03-10-2024 03:00 AM", "0", "100"),
                         ("03-10-2024 02:30 AM", "1", "100"), ("01-15-2024 11:45 PM", "0", "100"),
                         ("07-01-2024 12:07 PM", "1", "100")])
    assert out["timestamp_utc"].to_list() == [
        utc("2024-03-10 05:25"), utc("2024-03-10 05:30"), utc("2024-03-10 06:00"),
        utc("2024-01-16 03:15"), utc("2024-07-01 14:37")]


# --- Asia/Tokyo and America/Phoenix: one offset all year -----------------------------------

def test_tokyo_and_phoenix_keep_one_offset_across_us_and_eu_change_dates():
    # local times that are skipped or repeated in the US (10 Mar, 3 Nov 2024) or the EU
    # (31 Mar, 27 Oct 2024) exist exactly once here
    local = ["2024-03-10T02:30:00", "2024-03-31T02:30:00", "2024-10-27T02:30:00",
             "2024-11-03T01:30:00", "2024-01-15T12:00:00", "2024-07-01T12:00:00"]
    out = clarity("JP01", [(t, "100", None) for t in local])
    assert out["timestamp_utc"].to_list() == [  # JST, UTC+9
        utc("2024-03-09 17:30"), utc("2024-03-30 17:30"), utc("2024-10-26 17:30"),
        utc("2024-11-02 16:30"), utc("2024-01-15 03:00"), utc("2024-07-01 03:00")]
    out = clarity("US05", [(t, "100", None) for t in local])
    assert out["timestamp_utc"].to_list() == [  # MST, UTC-7
        utc("2024-03-10 09:30"), utc("2024-03-31 09:30"), utc("2024-10-27 09:30"),
        utc("2024-11-03 08:30"), utc("2024-01-15 19:00"), utc("2024-07-01 19:00")]
    # a Libre reader in Phoenix, US format: 02:30 AM on 10 Mar exists (MST): 09:30 UTC
    out = libre("US05", [("03-10-2024 01:45 AM", "0", "100"), ("03-10-2024 02:00 AM", "0", "100"),
                         ("03-10-2024 02:30 AM", "1", "100"), ("03-10-2024 03:00 AM", "0", "100")])
    assert out["timestamp_utc"].to_list() == [utc("2024-03-10 08:45"), utc("2024-03-10 09:00"),
                                              utc("2024-03-10 09:30"), utc("2024-03-10 10:00")]


def test_tokyo_and_phoenix_clarity_with_transmitter_time_run_through_change_days():
    # readings 5 minutes apart, the transmitter clock running on; each zone's one offset
    cases = [("US05", utc("2024-03-10 07:30"), 36, -7 * H),  # 00:30-03:25 MST (UTC-7), US 10 Mar
             ("US05", utc("2024-11-03 07:30"), 24, -7 * H),  # 00:30-02:25 MST, US 3 Nov
             ("JP01", utc("2024-10-26 15:30"), 36, 9 * H),   # 00:30-03:25 JST (UTC+9), EU 27 Oct
             ("JP01", utc("2024-03-30 15:30"), 36, 9 * H)]   # 00:30-03:25 JST, EU 31 Mar
    for site, start, n, offset in cases:
        series = device_series(start, n, start, before=offset, after=offset)
        out = clarity(site, [(local, "100", tt) for _, local, tt in series])
        assert out["timestamp_utc"].to_list() == [u for u, _, _ in series], (site, start)
        assert out["timestamp_utc"].n_unique() == n


def test_phoenix_clarity_whose_own_clock_went_back_is_ordered_by_the_transmitter():
    """Not the zone's rule but the device's clock: a Phoenix participant's phone that kept
    Mountain daylight time (UTC-6, as on the Navajo Nation) until 08:00 UTC on 3 Nov 2024, then
    went back to MST (UTC-7). The transmitter clock shows the local clock going back 60 minutes,
    so the two passes of 01:00-01:55 are told apart as anywhere else: the first (clock an hour
    ahead of the site's zone) is 07:00-07:55 UTC, the second (MST) 08:00-08:55 UTC. (Readings
    of the first setting before the contested hour keep the site zone's offset, MST: the
    header's rule that a reading gets one UTC time in every export; not asserted here.)"""
    series = device_series(utc("2024-11-03 06:30"), 30, utc("2024-11-03 08:00"),
                           before=-6 * H, after=-7 * H)
    out = clarity("US05", [(local, str(100 + i), tt) for i, (_, local, tt) in enumerate(series)])
    in_hour = [(u, got) for (u, local, _), got in zip(series, out["timestamp_utc"], strict=True)
               if local[11:13] == "01"]
    assert len(in_hour) == 24
    assert [got for _, got in in_hour] == [u for u, _ in in_hour]
    assert in_hour[0][1] == utc("2024-11-03 07:00") and in_hour[12][1] == utc("2024-11-03 08:00")


def test_tokyo_and_phoenix_a_sequence_that_looks_like_a_repeated_hour_is_not_reinterpreted():
    """Local times that go back an hour, with nothing but the local times and file order (as
    in Chicago's repeated hour): with no change in the zone each keeps the one offset, so the
    second 01:00 is the same instant as the first, an overlap (same value) or a superseded
    reading (another value; resolve/01_cgm_overlaps.sql: the earlier row of one file is
    current) - never moved an hour later."""
    rows = [("2024/11/03 00:45", "0", "100"),  # Tokyo, JST +9: 15:45 UTC 2 Nov
            ("2024/11/03 01:00", "0", "101"),  # 16:00
            ("2024/11/03 01:15", "0", "102"),  # 16:15
            ("2024/11/03 01:00", "0", "101"),  # 16:00 again, same value: overlap
            ("2024/11/03 01:15", "0", "140")]  # 16:15 again, another value: superseded
    out = libre("JP01", rows)
    assert out["timestamp_utc"].to_list() == [
        utc("2024-11-02 15:45"), utc("2024-11-02 16:00"), utc("2024-11-02 16:15"),
        utc("2024-11-02 16:00"), utc("2024-11-02 16:15")]
    assert out["record_status"].to_list() == ["current", "current", "current", "overlap",
                                              "superseded"]
    # Phoenix on the EU fall-back date and the US one, Clarity without transmitter columns
    for day, utc_day in (("2024-10-27", "2024-10-27"), ("2024-11-03", "2024-11-03")):
        out = clarity("US05", [(f"{day}T01:50:00", "100", None), (f"{day}T01:55:00", "100", None),
                               (f"{day}T01:00:00", "100", None), (f"{day}T01:05:00", "100", None)])
        assert out["timestamp_utc"].to_list() == [  # MST -7: 08:50, 08:55, 08:00, 08:05
            utc(f"{utc_day} 08:50"), utc(f"{utc_day} 08:55"), utc(f"{utc_day} 08:00"),
            utc(f"{utc_day} 08:05")]
