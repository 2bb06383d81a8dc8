-- Per site: rows moved out of core, files not loaded, and open data queries (the lines of the
-- site's listing, quality.site_queries).
-- A file is not loaded when nothing of it reaches core because of a file-level query that
-- stops it (other file-level queries, e.g. a REDCap field in the wrong form or a record
-- missing from a later export, are about a file whose rows loaded):
--   * a landing problem (no source_file_id: the landing scan did not take the file: a broken
--     link, a duplicate, a hidden or temporary file, ...);
--   * a staging error: the file could not be read (the rules of isletflow/staging.py
--     ERROR_RULES, listed here);
--   * a file set aside whole (quality.quarantined_files): a CGM export of a participant who is
--     not enrolled or is enrolled at another site, or a broken file (broken_file), except a
--     whole-project REDCap export with rows of other forms in raw.redcap, which loaded those.
WITH q AS (
    SELECT f.site_id, count(*) AS n
    FROM quality.quarantined_rows AS r JOIN audit.files AS f ON f.file_id = r.source_file_id
    GROUP BY ALL
), not_loaded AS (
    SELECT coalesce(f.site_id, i.site_id) AS site_id, coalesce(f.rel_path, i.file) AS file
    FROM quality.issues AS i LEFT JOIN audit.files AS f ON f.file_id = i.source_file_id
    WHERE i.table_name = '(file)' AND i.source_row IS NULL AND i.severity <> 'info'
      AND (i.source_file_id IS NULL
           OR i.rule IN ('empty_file', 'unreadable_archive', 'unknown_format',
                         'wrong_encoding', 'missing_or_renamed_column', 'unreadable_file',
                         'format_not_expected_here', 'header_only'))
    UNION
    SELECT f.site_id, f.rel_path
    FROM quality.quarantined_files AS s JOIN audit.files AS f USING (file_id)
    WHERE s.rule <> 'broken_file'
       OR (SELECT count(DISTINCT r.form) FROM raw.redcap AS r WHERE r.file_id = s.file_id) <= 1
), files AS (
    SELECT site_id, count(DISTINCT file) AS n FROM not_loaded GROUP BY ALL
), issues AS (
    SELECT site_id, count(*) AS n FROM quality.site_queries GROUP BY ALL
)
SELECT coalesce(s.site_id, 'unknown site') AS site, coalesce(q.n, 0) AS rows_quarantined,
       coalesce(files.n, 0) AS files_not_loaded, coalesce(issues.n, 0) AS data_queries
FROM (SELECT site_id FROM core.sites UNION SELECT site_id FROM issues) AS s
LEFT JOIN q ON q.site_id = s.site_id
LEFT JOIN files ON files.site_id IS NOT DISTINCT FROM s.site_id  -- NULL: a file outside a site
LEFT JOIN issues ON issues.site_id IS NOT DISTINCT FROM s.site_id
ORDER BY site;
