-- Values that could not be read: glucose that is not a number, Low or High; a timestamp that
-- is not a time; a lab result that is not a number, or in a unit the lab conversions lack.
SELECT 'cgm_readings' AS table_name, source_file_id, source_row,
       CASE WHEN timestamp_local IS NULL THEN 'unreadable_timestamp'
            ELSE 'unreadable_glucose' END AS rule,
       'error' AS severity,
       CASE WHEN timestamp_local IS NULL THEN 'timestamp' ELSE 'glucose' END AS column_name,
       glucose_original AS value,
       CASE WHEN timestamp_local IS NULL THEN 'the timestamp is missing or not a date and time'
            ELSE 'glucose ' || coalesce('''' || glucose_original || '''', '(empty)')
                 || ' is not a number, Low or High in ' || coalesce(unit_original, '(no unit)')
       END AS message
FROM core.cgm_readings
WHERE timestamp_local IS NULL OR glucose_mg_dl IS NULL
UNION ALL
SELECT 'lab_results', source_file_id, source_row,
       CASE WHEN collection_date IS NULL THEN 'unreadable_date'
            WHEN unit IS NULL THEN 'unknown_analyte'
            WHEN TRY_CAST(replace(value_original, ',', '.') AS DOUBLE) IS NULL
                THEN 'unreadable_result'
            ELSE 'unknown_unit' END,
       'error',
       CASE WHEN collection_date IS NULL THEN 'collection_date' WHEN unit IS NULL THEN 'analyte'
            ELSE 'result' END,
       coalesce(value_original, '') || ' ' || coalesce(unit_original, ''),
       CASE WHEN collection_date IS NULL THEN 'the collection date is missing or not YYYY-MM-DD'
            WHEN unit IS NULL THEN 'analyte ' || coalesce(analyte, '(empty)') || ' is not one the protocol collects'
            WHEN TRY_CAST(replace(value_original, ',', '.') AS DOUBLE) IS NULL
                THEN 'result ' || coalesce('''' || value_original || '''', '(empty)') || ' is not a number'
            ELSE 'unit ' || coalesce('''' || unit_original || '''', '(empty)') || ' is not known for ' || analyte
       END
FROM core.lab_results
WHERE value IS NULL OR collection_date IS NULL
