-- The overlap resolution of resolve/01_cgm_overlaps.sql (same rule, same statuses) for the
-- keys of work.touched_keys only: an incremental night resolves again only the UTC times whose
-- readings it added or removed (every other key's rows are as published). Not a file of the
-- numbered run order: isletflow/build.py runs it instead of 01 on an incremental night.
CREATE OR REPLACE TEMP TABLE _touched AS
SELECT DISTINCT participant_id, device, timestamp_utc FROM work.touched_keys;
UPDATE core.cgm_readings AS c SET record_status = 'current'
FROM _touched AS t
WHERE c.participant_id = t.participant_id AND c.device = t.device
  AND c.timestamp_utc = t.timestamp_utc AND c.record_status IS DISTINCT FROM 'current';
UPDATE core.cgm_readings AS c
SET record_status = r.record_status
FROM (
    WITH rows AS (
        SELECT c.source_file_id, c.source_row, c.participant_id, c.device, c.timestamp_utc,
               c.glucose_mg_dl, c.censored
        FROM core.cgm_readings AS c
        SEMI JOIN _touched USING (participant_id, device, timestamp_utc)
    ), repeated AS (
        SELECT participant_id, device, timestamp_utc
        FROM rows GROUP BY ALL HAVING count(*) > 1
    ), ranked AS (
        SELECT c.source_file_id, c.source_row, c.glucose_mg_dl, c.censored,
               row_number() OVER w AS rank,
               first_value(c.glucose_mg_dl) OVER w AS current_value,
               first_value(c.censored) OVER w AS current_censored
        FROM rows AS c
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
DELETE FROM audit.superseded_values AS s
USING _touched AS t
WHERE s.participant_id = t.participant_id AND s.device = t.device
  AND s.timestamp_utc = t.timestamp_utc;
INSERT INTO audit.superseded_values
SELECT o.participant_id, o.device, o.timestamp_utc,
       o.glucose_mg_dl AS old_glucose_mg_dl, o.glucose_original AS old_original,
       o.source_file_id AS old_file_id, o.source_row AS old_row,
       c.glucose_mg_dl AS new_glucose_mg_dl, c.glucose_original AS new_original,
       c.source_file_id AS new_file_id, c.source_row AS new_row
FROM core.cgm_readings AS o
SEMI JOIN _touched AS t USING (participant_id, device, timestamp_utc)
JOIN core.cgm_readings AS c
  ON c.participant_id = o.participant_id AND c.device = o.device
 AND c.timestamp_utc = o.timestamp_utc AND c.record_status = 'current'
WHERE o.record_status = 'superseded'
ORDER BY o.participant_id, o.device, o.timestamp_utc, o.source_file_id, o.source_row;
DROP TABLE _touched;
