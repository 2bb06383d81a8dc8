-- The published night's build state (sql/incremental/build_state.sql), one row.
SELECT build_code, trial_sha256, as_of, sites, file_issue_digest FROM audit.build_state
