-- Every run the published warehouse knows, for `isletflow status` (times UTC).
SELECT run_id, status, started_at, finished_at, error FROM audit.runs ORDER BY started_at;
