-- Two current records of one participant in core.{table} with the same values under different
-- keys, from different exports: probably one record filed again under another event or repeat
-- instance (an event renamed in REDCap, a form made repeating, a labels export), which record
-- identity cannot see. Both are counted, so the site is asked (a warning on each). Values are
-- compared without the key and {not_compared}. {table}, {key}, {key_names} and {not_compared}
-- come from schemas.keys.CORE_KEYS (never user input).
WITH v AS (
    SELECT source_file_id, source_row, participant_id,
           to_json(struct_pack({key}))::VARCHAR AS record_key,
           md5(to_json(struct_pack(*COLUMNS(* EXCLUDE (source_file_id, source_row,
                                                       record_status, {key}{not_compared}))))::VARCHAR)
               AS digest
    FROM core.{table} WHERE record_status = 'current'
), alike AS (
    SELECT participant_id, digest, string_agg(DISTINCT record_key, ' and ') AS keys
    FROM v GROUP BY ALL
    HAVING count(DISTINCT record_key) > 1 AND count(DISTINCT source_file_id) > 1
)
SELECT '{table}' AS table_name, v.source_file_id, v.source_row,
       'possible_duplicate_record' AS rule, 'warning' AS severity,
       '{key_names}' AS column_name, v.record_key AS value,
       'records ' || a.keys || ' have the same values and come from different exports: one '
       || 'record filed again under another event or instance? Both are counted' AS message
FROM v JOIN alike AS a USING (participant_id, digest)
