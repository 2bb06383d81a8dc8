-- The run that published this warehouse (or cut).
SELECT run_id FROM audit.runs WHERE status = 'published' ORDER BY finished_at DESC LIMIT 1;
