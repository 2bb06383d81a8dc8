-- Dexcom EGV rows -> glucose readings in mg/dL with UTC time.
-- Local device time is read in the site's time zone (core.sites), across daylight-saving changes:
--  * an ambiguous local time (the repeated hour when clocks go back) is read as the earlier
--    instant (summer time) until the file's clock has gone back, i.e. until an earlier row of
--    the same file carried the same or a later local time; then as the later instant (standard);
--  * a non-existent local time (the skipped hour when clocks go forward) is read with the
--    offset in force before the change (standard time), i.e. one hour later on the wall clock.
-- "Low"/"High" are censored readings: kept, flagged, and given the boundary value (40 / 400
-- mg/dL, Dexcom's reporting range). mmol/L is converted with x 18.018 and rounded to whole mg/dL.
-- Rows with a duplicate (participant, UTC time) are kept here and flagged; the endpoint layer
-- uses the first by (file, row); quality.issues lists the others (duplicate_timestamp).
CREATE OR REPLACE TABLE core.cgm_readings AS
WITH egv AS (
    SELECT r.file_id, r.row_number, f.site_id, f.participant_id, s.timezone,
           TRY_STRPTIME(r."timestamp", '%Y-%m-%dT%H:%M:%S') AS timestamp_local,
           trim(r.glucose_value) AS glucose_text, r.glucose_unit
    FROM raw.dexcom_clarity AS r
    JOIN audit.files AS f USING (file_id)
    LEFT JOIN core.sites AS s USING (site_id)
    WHERE r.event_type = 'EGV'
), zoned AS (
    SELECT *,
           -- DuckDB (ICU) reads an ambiguous local time as the later (standard-time) instant.
           timezone('UTC', timezone(timezone, timestamp_local)) AS utc_later,
           timezone('UTC', timezone(timezone, timestamp_local - INTERVAL 1 HOUR))
               + INTERVAL 1 HOUR AS utc_earlier,
           max(timestamp_local) OVER (PARTITION BY file_id ORDER BY row_number
               ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS latest_before
    FROM egv
), typed AS (
    SELECT *,
           CASE WHEN utc_earlier < utc_later AND NOT coalesce(timestamp_local <= latest_before, false)
                THEN utc_earlier ELSE utc_later END AS timestamp_utc,
           CASE glucose_text WHEN 'Low' THEN 'low' WHEN 'High' THEN 'high' END AS censored,
           CASE
               WHEN glucose_text = 'Low' THEN 40.0
               WHEN glucose_text = 'High' THEN 400.0
               WHEN glucose_unit = 'mmol/L' THEN round(TRY_CAST(glucose_text AS DOUBLE) * 18.018)
               ELSE TRY_CAST(glucose_text AS DOUBLE)
           END AS glucose_mg_dl
    FROM zoned
)
SELECT participant_id, site_id, 'dexcom' AS device, 5 AS interval_min,
       timestamp_local, timestamp_utc, glucose_mg_dl, censored,
       glucose_text AS glucose_original, glucose_unit AS unit_original,
       row_number() OVER (PARTITION BY participant_id, timestamp_utc
                          ORDER BY file_id, row_number) > 1 AS is_duplicate,
       file_id AS source_file_id, row_number AS source_row
FROM typed
ORDER BY participant_id, timestamp_utc, source_file_id, source_row;
