-- Records of core.{table} counted from an older export because the newer file's row of the
-- record was set aside (quarantined: a bad value, a conflict, a broken file): the older value
-- is used until the site corrects the newer one. One warning per newer file and table, on that
-- file, never silent. Keys are compared as the JSON of their key columns ($paths, from
-- schemas.keys.CORE_KEYS), taken from the quarantined row as it was loaded and from the
-- current row. {table} comes from schemas.keys.CORE_KEYS (never user input).
WITH q AS (
    SELECT source_file_id AS new_file_id,
           json_extract(row_json, $paths)::VARCHAR AS record_key
    FROM quality.quarantined_rows WHERE table_name = '{table}'
), c AS (
    SELECT t.source_file_id AS old_file_id, json_extract(to_json(t), $paths)::VARCHAR AS record_key
    FROM core.{table} AS t WHERE t.record_status = 'current'
      -- every key starts with the participant: only their rows are compared (millions of
      -- CGM readings otherwise turned into JSON)
      AND t.participant_id IN (SELECT json_extract_string(row_json, '$.participant_id')
                               FROM quality.quarantined_rows WHERE table_name = '{table}')
), reinstated AS (
    SELECT DISTINCT q.new_file_id, q.record_key
    FROM q JOIN c USING (record_key)
    JOIN audit.files AS fn ON fn.file_id = q.new_file_id
    JOIN audit.files AS fo ON fo.file_id = c.old_file_id
    WHERE (fo.received_at, fo.rel_path) < (fn.received_at, fn.rel_path)
)
SELECT '{table}' AS table_name, new_file_id AS source_file_id,
       'older_value_in_use' AS rule, 'warning' AS severity, '{key_names}' AS column_name,
       format('{:,} record(s)', count(*)) AS value,
       format('{:,} {} record(s) of this file were set aside (see its other queries); for them '
              || 'the values of an older export are counted until the site corrects this file, '
              || 'e.g. {}', count(*), '{table}', min(record_key)) AS message
FROM reinstated
GROUP BY new_file_id
