-- The CGM files the night builds, and those it keeps as published (_kept_loaded, from which
-- the files of the scope are taken out first): the kept files' rows and quality records are
-- carried over (sql/incremental/set_aside_kept.sql), the scope's are found again.
DELETE FROM _kept_loaded WHERE file_id IN (SELECT file_id FROM work.cgm_scope);
UPDATE work.build_state
SET cgm_files_built = (SELECT count(*) FROM work.cgm_scope),
    cgm_files_kept = (SELECT count(*) FROM _kept_loaded);
