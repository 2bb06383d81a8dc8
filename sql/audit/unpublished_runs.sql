-- Runs that never published (failed or killed), from the run journal (registered as _journal).
INSERT INTO audit.runs BY NAME
SELECT * FROM _journal WHERE run_id NOT IN (SELECT run_id FROM audit.runs);
