-- One site's query listing ($site), as sent back to the site.
SELECT file, row, rule, severity, column_name, value, message
FROM quality.site_queries
WHERE site_id = $site
ORDER BY file, row, rule;
