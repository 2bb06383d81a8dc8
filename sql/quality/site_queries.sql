-- The data manager's query listing: every issue with its site and file, ready to send back.
CREATE OR REPLACE VIEW quality.site_queries AS
SELECT coalesce(f.site_id, i.site_id) AS site_id, coalesce(f.rel_path, i.file) AS file, i.source_row AS row, i.table_name, i.rule, i.severity,
       i.column_name, i.value, i.message
FROM quality.issues AS i LEFT JOIN audit.files AS f ON f.file_id = i.source_file_id
ORDER BY 1, 2, i.source_row, i.rule;
