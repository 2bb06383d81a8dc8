-- Move every row of core.{table} that comes from a file in broken_files (find.sql) to
-- quarantine: the file is set aside as a whole. {table} is substituted only with a name from
-- schemas.core.CORE_MODELS (never user input).
INSERT INTO quality.quarantined_rows
SELECT '{table}', t.source_file_id, t.source_row, to_json(t)::VARCHAR
FROM core.{table} AS t SEMI JOIN broken_files AS b ON b.file_id = t.source_file_id
ORDER BY t.source_file_id, t.source_row;
DELETE FROM core.{table} WHERE source_file_id IN (SELECT file_id FROM broken_files);
