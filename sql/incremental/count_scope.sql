-- How many CGM files the night builds and how many it keeps as published (run summary).
UPDATE work.build_state
SET cgm_files_built = (SELECT count(*) FROM work.cgm_scope),
    cgm_files_kept = (SELECT count(*) FROM _kept_loaded)
                     - (SELECT count(*) FROM _kept_loaded SEMI JOIN work.cgm_scope USING (file_id));
