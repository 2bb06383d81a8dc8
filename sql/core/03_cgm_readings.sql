-- CGM glucose readings from Dexcom Clarity (EGV rows) and FreeStyle Libre (record type 0
-- historic, 1 scan, kept apart by `device`), in mg/dL with UTC time. Libre strip (blood)
-- glucose, record type 2 (device 'libre_strip'), is read by the same rules but never into
-- core.cgm_readings: core/03b_fingerstick_glucose.sql takes it from the table macro
-- device_glucose(devices) defined here (the rows of the devices listed; each device's rows are
-- read on their own, so asking for one device reads only its rows).
--
-- Local device time -> UTC, in the site's time zone (core.sites):
--  * A Clarity export with Transmitter Time (the transmitter's monotonic clock, in seconds):
--    the readings whose local time minus transmitter time agree, chained within 10 minutes
--    (the transmitter's clock drifts by seconds a week), were written under one setting of the
--    device's clock, whose offset is the one most of its readings have in the site's zone
--    outside a repeated hour. Where the device's clock was set back (daylight saving, travel),
--    two settings of the file cover the same local times: only those readings ("contested")
--    take their setting's offset, so the two series of a repeated hour are told apart by the
--    device's clock and each keeps its place 5 minutes from its neighbours, even when the
--    device's zone changed on another date than the site's (the real G6 export of 2019-10-27
--    repeats 03:00-03:59, an EET change). Every other reading keeps its own site-zone offset
--    below, so a reading gets the same UTC time in every export that carries it. A "setting"
--    that spans over an hour is no clock (a de-identified export that repeats one transmitter
--    time) and is not used.
--  * Every other reading (Libre; older Clarity without transmitter columns; no usable clock;
--    not contested) is read on its own: an ambiguous local time (the repeated hour when clocks
--    go back) is the earlier instant (summer time) until the device's
--    clock has gone back, i.e. until a reading earlier by the device clock (Transmitter Time,
--    else file order) carried the same or a later local time; then the later instant
--    (standard). A non-existent local time (the skipped hour when clocks go forward) is read
--    with the offset in force before the change (standard time).
--  * Without a site (core.sites has no time zone for it) timestamp_utc is NULL: local times
--    only, never faked as UTC.
-- Libre timestamps: 'MM-DD-YYYY hh:mm AM/PM' (US) when they end in AM/PM, 'YYYY/MM/DD HH:MM'
-- (desktop app), else 'DD-MM-YYYY HH:MM' (Europe). Dexcom "Low"/"High" (German
-- "Niedrig"/"Hoch") are censored readings: kept, flagged, and given the boundary value
-- (40 / 400 mg/dL, Dexcom's reporting range). mmol/L x 18.018, rounded to whole mg/dL; a
-- decimal comma is read as a point. Files in quality.quarantined_files are left out. Overlaps
-- between exports are resolved after validation (sql/resolve/).
-- Only the files of work.cgm_chunk are read: the nightly build harmonises a night's CGM files
-- in chunks (isletflow/build.py; an incremental night only its new and rebuilt files). Used on
-- its own (tests, `isletflow inspect`), the chunk is every loaded CGM file.
CREATE SCHEMA IF NOT EXISTS work;
CREATE TABLE IF NOT EXISTS work.cgm_chunk AS
SELECT DISTINCT file_id FROM raw.dexcom_clarity UNION SELECT DISTINCT file_id FROM raw.libreview;
CREATE OR REPLACE TEMP MACRO device_glucose(devices) AS TABLE
WITH clarity AS (
    SELECT file_id, row_number, 'dexcom' AS device, 5 AS interval_min,
           TRY_STRPTIME("timestamp", '%Y-%m-%dT%H:%M:%S') AS timestamp_local,
           trim(glucose_value) AS glucose_text, glucose_unit, decimal_mark,
           TRY_CAST(transmitter_time AS BIGINT) AS transmitter_time
    FROM raw.dexcom_clarity
    WHERE event_type = 'EGV' AND list_contains(devices, 'dexcom')
      AND file_id IN (SELECT file_id FROM work.cgm_chunk)
), libre AS (
    SELECT * FROM (
    SELECT file_id, row_number,
           CASE record_type WHEN '0' THEN 'libre_historic' WHEN '1' THEN 'libre_scan'
                ELSE 'libre_strip' END AS device,
           CASE record_type WHEN '0' THEN 15 END AS interval_min,
           CASE WHEN regexp_matches(device_timestamp, '(AM|PM)$')
                THEN TRY_STRPTIME(device_timestamp, '%m-%d-%Y %I:%M %p')
                WHEN regexp_matches(device_timestamp, '^\d{4}/')
                THEN TRY_STRPTIME(device_timestamp, '%Y/%m/%d %H:%M')
                ELSE TRY_STRPTIME(device_timestamp, '%d-%m-%Y %H:%M') END AS timestamp_local,
           trim(CASE record_type WHEN '0' THEN historic_glucose WHEN '1' THEN scan_glucose
                     ELSE strip_glucose END) AS glucose_text,
           glucose_unit, decimal_mark, NULL::BIGINT AS transmitter_time
    FROM raw.libreview
    WHERE record_type IN ('0', '1', '2') AND file_id IN (SELECT file_id FROM work.cgm_chunk))
    WHERE list_contains(devices, device)
), readings AS (
    SELECT r.*, f.site_id, f.participant_id, s.timezone
    FROM (SELECT * FROM clarity UNION ALL BY NAME SELECT * FROM libre) AS r
    JOIN audit.files AS f USING (file_id)
    LEFT JOIN core.sites AS s USING (site_id)
    WHERE r.file_id NOT IN (SELECT file_id FROM quality.quarantined_files)
), hours AS (
    -- UTC offsets per site clock hour (zones here change on the hour): two ICU conversions per
    -- distinct hour instead of per reading. DuckDB (ICU) reads an ambiguous local time as the
    -- later (standard-time) instant; "earlier" is the summer-time reading of the same hour.
    SELECT DISTINCT timezone, date_trunc('hour', timestamp_local) AS h
    FROM readings WHERE timestamp_local IS NOT NULL AND timezone IS NOT NULL
), offsets AS (
    SELECT timezone, h,
           timezone('UTC', timezone(timezone, h)) - h AS shift_later,
           timezone('UTC', timezone(timezone, h - INTERVAL 1 HOUR)) + INTERVAL 1 HOUR - h
               AS shift_earlier
    FROM hours
), zoned AS NOT MATERIALIZED (
    SELECT r.*, o.shift_later, o.shift_earlier,
           -- the device-clock minute: local time minus transmitter time, whole minutes
           (epoch(r.timestamp_local)::BIGINT - r.transmitter_time) // 60 AS clock_minute
    FROM readings AS r
    LEFT JOIN offsets AS o
           ON o.timezone = r.timezone AND o.h = date_trunc('hour', r.timestamp_local)
), chained AS (
    -- settings of the device clock: a file's distinct clock minutes chained within 10 min
    SELECT file_id, clock_minute,
           sum(new_setting) OVER (PARTITION BY file_id ORDER BY clock_minute) AS setting
    FROM (SELECT file_id, clock_minute,
                 coalesce(clock_minute - lag(clock_minute) OVER (
                     PARTITION BY file_id ORDER BY clock_minute) > 10, true)::INT AS new_setting
          FROM (SELECT DISTINCT file_id, clock_minute FROM zoned
                WHERE clock_minute IS NOT NULL AND shift_later IS NOT NULL))
), clock AS (
    -- a setting spans minutes of clock drift; one that spans over an hour is no clock (a
    -- de-identified export repeating one transmitter time chains its wall-clock minutes)
    SELECT file_id, clock_minute, setting
    FROM chained
    WINDOW s AS (PARTITION BY file_id, setting)
    QUALIFY max(clock_minute) OVER s - min(clock_minute) OVER s <= 60
), spans AS (
    -- per setting: the local times it covers, widened by the chaining tolerance (a reading a
    -- few seconds past the other pass's last one is still inside); when it began (transmitter
    -- time); its clock (median local time minus transmitter time, seconds)
    SELECT z.file_id, z.device, k.setting,
           min(z.timestamp_local) - INTERVAL 10 MINUTE AS lo,
           max(z.timestamp_local) + INTERVAL 10 MINUTE AS hi,
           min(z.transmitter_time) AS first_tt,
           median(epoch(z.timestamp_local)::BIGINT - z.transmitter_time) AS clock_sec
    FROM zoned AS z JOIN clock AS k USING (file_id, clock_minute)
    GROUP BY ALL
), pairs AS (
    -- two settings whose local times overlap: the device's clock was set back over them;
    -- delta = how far the earlier setting's clock was ahead of the later one's
    SELECT e.file_id, e.device, e.setting AS early, l.setting AS late, l.first_tt AS late_tt,
           greatest(e.lo, l.lo) AS lo, least(e.hi, l.hi) AS hi,
           to_minutes(round((e.clock_sec - l.clock_sec) / 60)::BIGINT) AS delta
    FROM spans AS e
    JOIN spans AS l ON l.file_id = e.file_id AND l.device = e.device AND e.first_tt < l.first_tt
    WHERE e.lo <= l.hi AND l.lo <= e.hi
), late_offset AS (
    -- the later setting's UTC offset: the site zone's (the later instant of a repeated hour)
    -- that most of its readings in the overlap have (a tie: the larger)
    SELECT file_id, device, early, late, arg_max(shift_later, (n, shift_later)) AS shift
    FROM (SELECT p.file_id, p.device, p.early, p.late, z.shift_later, count(*) AS n
          FROM pairs AS p
          JOIN clock AS k ON k.file_id = p.file_id AND k.setting = p.late
          JOIN zoned AS z ON z.file_id = k.file_id AND z.clock_minute = k.clock_minute
                         AND z.device = p.device
          WHERE z.timestamp_local BETWEEN p.lo AND p.hi
          GROUP BY ALL)
    GROUP BY ALL
), contested AS (
    -- readings of either setting in the overlap: the later setting's readings take its
    -- shift (UTC minus local time), the earlier setting's that shift minus the clocks'
    -- difference (its clock was ahead by delta); so the two series
    -- are told apart by the device's own clock and each reading keeps its place 5 minutes
    -- from its neighbours. Several overlaps: the one with the latest later setting decides.
    SELECT z.file_id, z.device, z.row_number,
           arg_max(CASE WHEN k.setting = p.late THEN o.shift ELSE o.shift - p.delta END,
                   p.late_tt) AS shift
    FROM zoned AS z JOIN clock AS k USING (file_id, clock_minute)
    JOIN pairs AS p
      ON p.file_id = z.file_id AND p.device = z.device AND k.setting IN (p.early, p.late)
     AND z.timestamp_local BETWEEN p.lo AND p.hi
    JOIN late_offset AS o
      ON o.file_id = p.file_id AND o.device = p.device AND o.early = p.early
     AND o.late = p.late
    GROUP BY z.file_id, z.device, z.row_number
), timed AS (
    -- outside a repeated hour: no order needed
    SELECT z.*, x.shift AS clock_shift, false AS clock_went_back
    FROM zoned AS z LEFT JOIN clock AS c USING (file_id, clock_minute)
    LEFT JOIN contested AS x USING (file_id, device, row_number)
    WHERE NOT coalesce(z.shift_earlier < z.shift_later, false)
    UNION ALL BY NAME
    -- in a repeated hour: has the device's clock gone back yet? (device clock, else file order)
    SELECT z.*, x.shift AS clock_shift,
           coalesce(z.timestamp_local <= max(z.timestamp_local) OVER (
               PARTITION BY z.file_id
               ORDER BY CASE WHEN c.clock_minute IS NOT NULL THEN z.transmitter_time END,
                        z.row_number
               ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), false) AS clock_went_back
    FROM zoned AS z LEFT JOIN clock AS c USING (file_id, clock_minute)
    LEFT JOIN contested AS x USING (file_id, device, row_number)
    WHERE z.shift_earlier < z.shift_later
), typed AS (
    SELECT *,
           timestamp_local + coalesce(
               clock_shift,
               CASE WHEN shift_earlier < shift_later AND NOT clock_went_back
                    THEN shift_earlier ELSE shift_later END) AS timestamp_utc,
           CASE WHEN glucose_text IN ('Low', 'Niedrig') THEN 'low'
                WHEN glucose_text IN ('High', 'Hoch') THEN 'high' END AS censored,
           TRY_CAST(CASE WHEN decimal_mark = ',' THEN replace(glucose_text, ',', '.')
                         ELSE glucose_text END AS DOUBLE) AS glucose_number
    FROM timed
)
SELECT participant_id, site_id, device, interval_min,
       timestamp_local, timestamp_utc,
       CASE WHEN censored = 'low' THEN 40.0
            WHEN censored = 'high' THEN 400.0
            WHEN glucose_unit = 'mmol/L' THEN round(glucose_number * 18.018)
            WHEN glucose_unit = 'mg/dL' THEN glucose_number
       END AS glucose_mg_dl,
       censored,
       glucose_text AS glucose_original, glucose_unit AS unit_original,
       file_id AS source_file_id, row_number AS source_row
FROM typed;
CREATE TABLE IF NOT EXISTS core.cgm_readings AS
SELECT * FROM device_glucose(['dexcom', 'libre_historic', 'libre_scan']) WHERE false;
INSERT INTO core.cgm_readings BY NAME
SELECT * FROM device_glucose(['dexcom', 'libre_historic', 'libre_scan']);
