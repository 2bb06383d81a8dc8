-- Files of one run ($run) by site and landing folder: new, changed (new content at a path
-- seen before) and unchanged.
SELECT f.site_id AS site, f.kind,
       count(*) FILTER (WHERE r.status = 'new') AS new,
       count(*) FILTER (WHERE r.status = 'changed') AS changed,
       count(*) FILTER (WHERE r.status = 'unchanged') AS unchanged
FROM audit.run_files AS r JOIN audit.files AS f USING (file_id)
WHERE r.run_id = $run AND f.site_id IS NOT NULL  -- the trial definition has no site
GROUP BY ALL
ORDER BY site, kind;
