-- The data manager's query listing: every issue with its site and file, ready to send back.
CREATE OR REPLACE VIEW quality.site_queries AS
SELECT f.site_id, f.rel_path AS file, i.source_row AS row, i.table_name, i.rule, i.severity,
       i.column_name, i.value, i.message
FROM quality.issues AS i LEFT JOIN audit.files AS f ON f.file_id = i.source_file_id
ORDER BY f.site_id, f.rel_path, i.source_row, i.rule;
