-- Values that could not be read: glucose that is not a number, Low or High; a timestamp that
-- is not a time; a lab result that is not a number, or in a unit the lab conversions lack.
-- `value` is the text that could not be read, as exported: for a timestamp or a collection date
-- the raw text of that row (raw.dexcom_clarity, raw.libreview, raw.central_lab), so a broken
-- file's query can say what its dates look like (sql/quality/broken_files/find.sql).
WITH bad AS (
    -- the unreadable readings first: the raw rows are looked up for them only (millions of
    -- readings are never joined with their raw rows)
    SELECT * FROM core.cgm_readings WHERE timestamp_local IS NULL OR glucose_mg_dl IS NULL
), bad_files AS (SELECT DISTINCT source_file_id AS file_id FROM bad)
SELECT 'cgm_readings' AS table_name, c.source_file_id, c.source_row,
       CASE WHEN c.timestamp_local IS NULL THEN 'unreadable_timestamp'
            ELSE 'unreadable_glucose' END AS rule,
       'error' AS severity,
       CASE WHEN c.timestamp_local IS NULL THEN 'timestamp' ELSE 'glucose' END AS column_name,
       CASE WHEN c.timestamp_local IS NULL THEN coalesce(d."timestamp", l.device_timestamp)
            ELSE c.glucose_original END AS value,
       CASE WHEN c.timestamp_local IS NULL THEN 'the timestamp is missing or not a date and time'
            ELSE 'glucose ' || coalesce('''' || c.glucose_original || '''', '(empty)')
                 || ' is not a number, Low or High in ' || coalesce(c.unit_original, '(no unit)')
       END AS message
FROM bad AS c
LEFT JOIN (SELECT file_id, row_number, "timestamp" FROM raw.dexcom_clarity
           SEMI JOIN bad_files USING (file_id)) AS d
       ON d.file_id = c.source_file_id AND d.row_number = c.source_row
LEFT JOIN (SELECT file_id, row_number, device_timestamp FROM raw.libreview
           SEMI JOIN bad_files USING (file_id)) AS l
       ON l.file_id = c.source_file_id AND l.row_number = c.source_row
UNION ALL
SELECT 'lab_results', l.source_file_id, l.source_row,
       CASE WHEN l.collection_date IS NULL THEN 'unreadable_date'
            WHEN l.unit IS NULL THEN 'unknown_analyte'
            WHEN TRY_CAST(replace(l.value_original, ',', '.') AS DOUBLE) IS NULL
                THEN 'unreadable_result'
            ELSE 'unknown_unit' END,
       'error',
       CASE WHEN l.collection_date IS NULL THEN 'collection_date'
            WHEN l.unit IS NULL THEN 'analyte' ELSE 'result' END,
       CASE WHEN l.collection_date IS NULL THEN r.collection_date
            ELSE coalesce(l.value_original, '') || ' ' || coalesce(l.unit_original, '') END,
       CASE WHEN l.collection_date IS NULL THEN 'the collection date is missing or not YYYY-MM-DD'
            WHEN l.unit IS NULL
                THEN 'test code ' || coalesce(l.test_code, '(empty)')
                     || ' is not one the protocol collects'
            WHEN TRY_CAST(replace(l.value_original, ',', '.') AS DOUBLE) IS NULL
                THEN 'result ' || coalesce('''' || l.value_original || '''', '(empty)')
                     || ' is not a number'
            ELSE 'unit ' || coalesce('''' || l.unit_original || '''', '(empty)')
                 || ' is not known for ' || l.test_code
       END
FROM core.lab_results AS l
LEFT JOIN raw.central_lab AS r ON r.file_id = l.source_file_id AND r.row_number = l.source_row
WHERE l.value IS NULL OR l.collection_date IS NULL
