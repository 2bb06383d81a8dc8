-- Rows per table recorded for a run that published (? = run_id): no row when the run is not
-- in audit.runs as published; one row with a null table_name when it published no table.
SELECT t.table_name, t.n_rows
FROM audit.runs r
LEFT JOIN audit.table_rows t USING (run_id)
WHERE r.run_id = ? AND r.status = 'published'
ORDER BY t.table_name;
