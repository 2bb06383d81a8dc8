-- One site's query listing ($site), as sent back to the site: per file, its file-level queries,
-- then rows by line, then the lines counting the rows not listed, then the missing-data
-- queries by participant (quality/site_queries.sql).
SELECT file, row, participant_id, rule, severity, column_name, value, since, message
FROM quality.site_queries
WHERE site_id = $site
ORDER BY file, CASE WHEN rows_not_listed IS NOT NULL THEN 2 WHEN row IS NULL THEN 0 ELSE 1 END,
         row, participant_id, rule, since, value;
