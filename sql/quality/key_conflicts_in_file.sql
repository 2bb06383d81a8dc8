-- One file giving two different rows for the same record of core.{table} (key ({key})): neither
-- can be trusted, both are quarantined. (Two identical rows are not a conflict: the second is an
-- 'overlap'.) {table}, {key} and {not_compared} come from schemas.keys.CORE_KEYS.
WITH v AS (
    SELECT source_file_id, source_row, to_json(struct_pack({key}))::VARCHAR AS record_key,
           md5(to_json(struct_pack(*COLUMNS(* EXCLUDE (source_file_id, source_row,
                                                       record_status{not_compared}))))::VARCHAR)
               AS digest
    FROM core.{table}
), w AS (
    SELECT v.*, min(digest) OVER k <> max(digest) OVER k AS conflict
    FROM v WINDOW k AS (PARTITION BY source_file_id, record_key)
)
SELECT '{table}' AS table_name, source_file_id, source_row,
       'conflicting_values_in_file' AS rule, 'error' AS severity, '{key_names}' AS column_name,
       record_key AS value,
       'this file gives different values for the same record (' || record_key
       || '); none of them is used' AS message
FROM w WHERE conflict
