-- Move the rows listed in `bad` (source_file_id, source_row) of core.{table} to quarantine.
-- {table} is substituted only with a name from schemas.core.CORE_MODELS (never user input).
INSERT INTO quality.quarantined_rows
SELECT '{table}', t.source_file_id, t.source_row, to_json(t)::VARCHAR
FROM core.{table} AS t SEMI JOIN bad USING (source_file_id, source_row)
ORDER BY t.source_file_id, t.source_row;
DELETE FROM core.{table} USING bad
WHERE core.{table}.source_file_id = bad.source_file_id
  AND core.{table}.source_row = bad.source_row;
