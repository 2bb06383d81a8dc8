-- Readings dated in the future (after the run's reference time $now, UTC) or before the
-- participant's enrolment; lab samples collected after $now.
SELECT 'cgm_readings' AS table_name, c.source_file_id, c.source_row,
       CASE WHEN c.timestamp_utc > $now THEN 'future_timestamp' ELSE 'before_enrolment' END AS rule,
       'error' AS severity, 'timestamp' AS column_name,
       strftime(c.timestamp_local, '%Y-%m-%dT%H:%M:%S') AS value,
       CASE WHEN c.timestamp_utc > $now
            THEN 'reading dated in the future (after the run or data cut it was loaded by)'
            ELSE 'reading dated before enrolment on ' || strftime(p.enrolment_date, '%Y-%m-%d')
       END AS message
FROM core.cgm_readings AS c
JOIN (SELECT participant_id, enrolment_date FROM core.participants
      WHERE record_status = 'current') AS p USING (participant_id)
WHERE c.timestamp_utc > $now OR c.timestamp_local::DATE < p.enrolment_date
UNION ALL
SELECT 'lab_results', source_file_id, source_row, 'future_timestamp', 'error', 'collection_date',
       strftime(collection_date, '%Y-%m-%d'),
       'sample dated in the future (after the run or data cut it was loaded by)'
FROM core.lab_results
WHERE collection_date > $now::DATE
