-- Overlapping exports (cumulative re-exports, corrected re-exports) of the same readings.
-- Rule: for one participant, device and UTC time, the reading from the most recently received
-- file (audit.files.received_at, then path) is current. An older reading with the same value
-- is an 'overlap'; with a different value it is 'superseded', and audit.superseded_values
-- keeps what it said and which file replaced it. Nothing is deleted from core. The record
-- identity of every other core table follows the same rule (resolve/record_identity.sql); this
-- one ranks only the UTC times given more than once (millions of readings). Run again after
-- rows are quarantined: a quarantined newer reading leaves the older one current.
UPDATE core.cgm_readings SET record_status = 'current'
WHERE record_status IS DISTINCT FROM 'current';
UPDATE core.cgm_readings AS c
SET record_status = r.record_status
FROM (
    WITH repeated AS (
        -- only times given more than once need ranking (hash aggregate, then a small window)
        SELECT participant_id, device, timestamp_utc
        FROM core.cgm_readings GROUP BY ALL HAVING count(*) > 1
    ), ranked AS (
        SELECT c.source_file_id, c.source_row, c.glucose_mg_dl, c.censored,
               row_number() OVER w AS rank,
               first_value(c.glucose_mg_dl) OVER w AS current_value,
               first_value(c.censored) OVER w AS current_censored
        FROM core.cgm_readings AS c
        SEMI JOIN repeated USING (participant_id, device, timestamp_utc)
        JOIN audit.files AS f ON f.file_id = c.source_file_id
        WINDOW w AS (PARTITION BY c.participant_id, c.device, c.timestamp_utc
                     ORDER BY f.received_at DESC, f.rel_path DESC, c.source_row)
    )
    SELECT source_file_id, source_row,
           CASE WHEN glucose_mg_dl = current_value
                     AND censored IS NOT DISTINCT FROM current_censored THEN 'overlap'
                ELSE 'superseded' END AS record_status
    FROM ranked WHERE rank > 1
) AS r
WHERE c.source_file_id = r.source_file_id AND c.source_row = r.source_row;
CREATE OR REPLACE TABLE audit.superseded_values AS
SELECT o.participant_id, o.device, o.timestamp_utc,
       o.glucose_mg_dl AS old_glucose_mg_dl, o.glucose_original AS old_original,
       o.source_file_id AS old_file_id, o.source_row AS old_row,
       c.glucose_mg_dl AS new_glucose_mg_dl, c.glucose_original AS new_original,
       c.source_file_id AS new_file_id, c.source_row AS new_row
FROM core.cgm_readings AS o
JOIN core.cgm_readings AS c
  ON c.participant_id = o.participant_id AND c.device = o.device
 AND c.timestamp_utc = o.timestamp_utc AND c.record_status = 'current'
WHERE o.record_status = 'superseded'
ORDER BY o.participant_id, o.device, o.timestamp_utc, o.source_file_id, o.source_row;
