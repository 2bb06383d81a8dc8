-- The data manager's query listing: every issue (errors and warnings; 'info' issues are a
-- record, not a query) with its site and file, ready to send back.
-- Kept readable for the site: of each file's row issues with one rule (and table and
-- severity), the first 10 rows are listed, then one line says how many more there are and on
-- which lines (rows_not_listed: their number; NULL on every other line). quality.issues keeps
-- every row issue: each quarantined row keeps its reason, and counts stay exact.
-- Order per file: file-level queries, then rows by line, then the lines of rows not listed.
-- Then the missing-data queries (quality.missing_data, sql/quality/missing_data/) due by the
-- published night's reference date: its data cut (as_of), else the day (UTC) it started
-- (audit.runs): a night with no new file still moves them on. participant_id and since (the
-- day the data are missing from) are theirs; NULL on the other lines.
CREATE OR REPLACE VIEW quality.site_queries AS
WITH q AS (
    SELECT coalesce(f.site_id, i.site_id) AS site_id, coalesce(f.rel_path, i.file) AS file,
           i.source_row AS row, i.table_name, i.rule, i.severity, i.column_name, i.value,
           i.message,
           row_number() OVER (PARTITION BY coalesce(f.rel_path, i.file), i.table_name, i.rule,
                                           i.severity, i.source_row IS NULL
                              ORDER BY i.source_row, i.column_name, i.value) AS k
    FROM quality.issues AS i LEFT JOIN audit.files AS f ON f.file_id = i.source_file_id
    WHERE i.severity <> 'info'  -- a record of what was done, nothing for the site to answer
), listed AS (
    SELECT site_id, file, row, table_name, rule, severity, column_name, value, message,
           NULL::BIGINT AS rows_not_listed, NULL::VARCHAR AS participant_id, NULL::DATE AS since
    FROM q WHERE row IS NULL OR k <= 10
    UNION ALL
    SELECT site_id, file, NULL, table_name, rule, severity, NULL, NULL,
           format('... and {:,} more rows of this file with this rule, lines {:,} to {:,}: the '
                  || 'first 10 are listed; please check them all', count(*), min(row), max(row)),
           count(*), NULL, NULL
    FROM q WHERE row IS NOT NULL AND k > 10
    GROUP BY site_id, file, table_name, rule, severity
), reference AS (
    SELECT coalesce(as_of, started_at::DATE) AS day FROM audit.runs WHERE status = 'published'
    ORDER BY finished_at DESC NULLS LAST, started_at DESC LIMIT 1
)
SELECT * FROM listed
UNION ALL
SELECT m.site_id, f.rel_path, m.source_row, m.table_name, m.rule, m.severity, m.column_name,
       m.value, m.message, NULL, m.participant_id, m.since
FROM quality.missing_data AS m LEFT JOIN audit.files AS f ON f.file_id = m.source_file_id
WHERE m.due <= (SELECT day FROM reference)
ORDER BY site_id, file, CASE WHEN rows_not_listed IS NOT NULL THEN 2 WHEN row IS NULL THEN 0
                             ELSE 1 END, row, participant_id, rule, since, value;
