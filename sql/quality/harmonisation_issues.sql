-- Issues found while harmonising: repeated readings for one participant and UTC time.
INSERT INTO quality.issues
SELECT 'cgm_readings', source_file_id, source_row, 'duplicate_timestamp', 'warning',
       'timestamp_utc', strftime(timestamp_utc, '%Y-%m-%dT%H:%M:%SZ'),
       'a reading for this participant and time was already loaded; this one is not used'
FROM core.cgm_readings WHERE is_duplicate;
