-- Per site: rows moved out of core, files not loaded, and open data queries (the lines of the
-- site's listing, quality.site_queries).
WITH q AS (
    SELECT f.site_id, count(*) AS n
    FROM quality.quarantined_rows AS r JOIN audit.files AS f ON f.file_id = r.source_file_id
    GROUP BY ALL
), files AS (
    SELECT site_id, count(DISTINCT file) AS n
    FROM quality.site_queries
    WHERE table_name = '(file)' AND "row" IS NULL AND rows_not_listed IS NULL
    GROUP BY ALL
), issues AS (
    SELECT site_id, count(*) AS n FROM quality.site_queries GROUP BY ALL
)
SELECT coalesce(s.site_id, 'unknown site') AS site, coalesce(q.n, 0) AS rows_quarantined,
       coalesce(files.n, 0) AS files_not_loaded, coalesce(issues.n, 0) AS data_queries
FROM (SELECT site_id FROM core.sites UNION SELECT site_id FROM issues) AS s
LEFT JOIN q USING (site_id) LEFT JOIN files USING (site_id) LEFT JOIN issues USING (site_id)
ORDER BY site;
