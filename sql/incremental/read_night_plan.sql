-- How the published night was built (sql/incremental/build_state.sql).
SELECT night, reason, cgm_files_built, cgm_files_kept FROM audit.build_state
