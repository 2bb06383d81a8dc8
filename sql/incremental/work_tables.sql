-- The night's working state in the build file (schema work, dropped before publish): which
-- CGM files this night (re)builds, which it keeps from the published warehouse, and what
-- changed, so validation and the endpoints do only what the night brings (isletflow/build.py).
CREATE SCHEMA IF NOT EXISTS work;
CREATE OR REPLACE TABLE work.night (
    mode VARCHAR NOT NULL,             -- full | incremental | unchanged
    reason VARCHAR NOT NULL,           -- why (a full build: why not incremental)
    other_rebuilt BOOLEAN NOT NULL     -- the tables of EDC and lab files were rebuilt
);
-- CGM files whose rows are (re)built this night: new files, and known files whose
-- participant's enrolment (site, enrolment dates) changed or that held readings dated in the
-- future (audit.cgm_context, sql/incremental/plan_scope.sql)
CREATE OR REPLACE TABLE work.cgm_scope (file_id VARCHAR PRIMARY KEY);
-- the files of the scope harmonised by one statement (core/03_cgm_readings.sql's macro)
CREATE OR REPLACE TABLE work.cgm_chunk (file_id VARCHAR PRIMARY KEY);
-- CGM files loaded before and no longer in the landing folder (or this run's selection)
CREATE OR REPLACE TABLE work.cgm_removed (file_id VARCHAR PRIMARY KEY);
-- CGM keys whose rows changed (record identity is resolved again for them only)
CREATE OR REPLACE TABLE work.touched_keys (
    participant_id VARCHAR, device VARCHAR, timestamp_utc TIMESTAMP
);
-- participants whose inputs of an endpoint changed, per core table
CREATE OR REPLACE TABLE work.changed (table_name VARCHAR NOT NULL, participant_id VARCHAR);
-- the build state publish makes the warehouse's (sql/incremental/build_state.sql)
CREATE OR REPLACE TABLE work.build_state (
    build_code VARCHAR, trial_sha256 VARCHAR, as_of DATE, sites VARCHAR,
    file_issue_digest VARCHAR,
    night VARCHAR,                     -- full | incremental | unchanged (work.night)
    reason VARCHAR,
    cgm_files_built INTEGER,           -- CGM files whose rows this night built ...
    cgm_files_kept INTEGER             -- ... and kept as published
);
