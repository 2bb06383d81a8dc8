-- One file giving two different glucose values for the same participant, device and time:
-- neither can be trusted, both rows are quarantined.
WITH k AS (
    SELECT participant_id, device, timestamp_utc, source_file_id
    FROM core.cgm_readings
    WHERE timestamp_utc IS NOT NULL
    GROUP BY ALL
    HAVING count(DISTINCT coalesce(censored, '') || glucose_mg_dl::VARCHAR) > 1
)
SELECT 'cgm_readings' AS table_name, c.source_file_id, c.source_row,
       'conflicting_values_in_file' AS rule, 'error' AS severity, 'glucose' AS column_name,
       c.glucose_original AS value,
       'this file gives different glucose values for ' || c.participant_id || ' at '
       || strftime(c.timestamp_local, '%Y-%m-%dT%H:%M:%S') || '; none of them is used' AS message
FROM core.cgm_readings AS c JOIN k USING (participant_id, device, timestamp_utc, source_file_id)
