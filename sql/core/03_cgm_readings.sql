-- CGM glucose readings from Dexcom Clarity (EGV rows) and LibreView (record type 0 historic,
-- 1 scan, kept apart by `device`), in mg/dL with UTC time.
-- Local device time is read in the site's time zone (core.sites), across daylight-saving changes:
--  * an ambiguous local time (the repeated hour when clocks go back) is read as the earlier
--    instant (summer time) until the file's clock has gone back, i.e. until an earlier row of
--    the same file carried the same or a later local time; then as the later instant (standard);
--  * a non-existent local time (the skipped hour when clocks go forward) is read with the
--    offset in force before the change (standard time), i.e. one hour later on the wall clock.
-- LibreView timestamps: 'MM-DD-YYYY hh:mm AM/PM' (US) when they end in AM/PM, else
-- 'DD-MM-YYYY HH:MM' (Europe). Dexcom "Low"/"High" (German "Niedrig"/"Hoch") are censored
-- readings: kept, flagged, and given the boundary value (40 / 400 mg/dL, Dexcom's reporting
-- range). mmol/L x 18.018, rounded to whole mg/dL; a decimal comma is read as a point.
-- Files in quality.quarantined_files are left out. Overlaps between exports are resolved after
-- validation (sql/resolve/).
CREATE OR REPLACE TABLE core.cgm_readings AS
WITH clarity AS (
    SELECT file_id, row_number, 'dexcom' AS device, 5 AS interval_min,
           TRY_STRPTIME("timestamp", '%Y-%m-%dT%H:%M:%S') AS timestamp_local,
           trim(glucose_value) AS glucose_text, glucose_unit, decimal_mark
    FROM raw.dexcom_clarity
    WHERE event_type = 'EGV'
), libre AS (
    SELECT file_id, row_number,
           CASE record_type WHEN '0' THEN 'libre_historic' ELSE 'libre_scan' END AS device,
           CASE record_type WHEN '0' THEN 15 END AS interval_min,
           CASE WHEN regexp_matches(device_timestamp, '(AM|PM)$')
                THEN TRY_STRPTIME(device_timestamp, '%m-%d-%Y %I:%M %p')
                ELSE TRY_STRPTIME(device_timestamp, '%d-%m-%Y %H:%M') END AS timestamp_local,
           trim(CASE record_type WHEN '0' THEN historic_glucose ELSE scan_glucose END)
               AS glucose_text,
           glucose_unit, decimal_mark
    FROM raw.libreview
    WHERE record_type IN ('0', '1')
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
    FROM readings WHERE timestamp_local IS NOT NULL
), offsets AS (
    SELECT timezone, h,
           timezone('UTC', timezone(timezone, h)) - h AS shift_later,
           timezone('UTC', timezone(timezone, h - INTERVAL 1 HOUR)) + INTERVAL 1 HOUR - h
               AS shift_earlier
    FROM hours
), ambiguous AS (
    -- only readings in a repeated hour need the file's order: has its clock gone back yet?
    SELECT r.file_id, r.device, r.row_number,
           coalesce(r.timestamp_local <= max(r.timestamp_local) OVER (
               PARTITION BY r.file_id, r.device ORDER BY r.row_number
               ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), false) AS clock_went_back
    FROM readings AS r
    SEMI JOIN (SELECT timezone, h FROM offsets WHERE shift_earlier < shift_later) AS rep
           ON rep.timezone = r.timezone AND rep.h = date_trunc('hour', r.timestamp_local)
), zoned AS (
    SELECT r.*, o.shift_later, o.shift_earlier, a.clock_went_back
    FROM readings AS r
    LEFT JOIN offsets AS o
           ON o.timezone = r.timezone AND o.h = date_trunc('hour', r.timestamp_local)
    LEFT JOIN ambiguous AS a USING (file_id, device, row_number)
), typed AS (
    SELECT z.*,
           z.timestamp_local + CASE WHEN z.shift_earlier < z.shift_later
                                         AND NOT z.clock_went_back
                                    THEN z.shift_earlier ELSE z.shift_later END AS timestamp_utc,
           CASE WHEN glucose_text IN ('Low', 'Niedrig') THEN 'low'
                WHEN glucose_text IN ('High', 'Hoch') THEN 'high' END AS censored,
           TRY_CAST(CASE WHEN decimal_mark = ',' THEN replace(glucose_text, ',', '.')
                         ELSE glucose_text END AS DOUBLE) AS glucose_number
    FROM zoned AS z
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
