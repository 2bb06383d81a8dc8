-- Move every row of core.{table} that comes from a file whose {table} rows are broken
-- (broken_files, find.sql) to quarantine. Only that table: a whole-project REDCap export with one
-- broken form keeps its other forms. {table} is substituted only with a name from
-- schemas.core.CORE_MODELS (never user input).
INSERT INTO quality.quarantined_rows BY NAME
SELECT '{table}' AS table_name, t.source_file_id, t.source_row, to_json(t)::VARCHAR AS row_json
FROM core.{table} AS t
SEMI JOIN (SELECT file_id FROM broken_files WHERE table_name = '{table}') AS b
       ON b.file_id = t.source_file_id
ORDER BY t.source_file_id, t.source_row;
DELETE FROM core.{table}
WHERE source_file_id IN (SELECT file_id FROM broken_files WHERE table_name = '{table}');
