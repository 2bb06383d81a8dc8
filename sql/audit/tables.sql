-- Every file ever received, and every run. Carried over from the previous warehouse each night.
CREATE TABLE IF NOT EXISTS audit.files (
    file_id        VARCHAR PRIMARY KEY,   -- first 16 hex digits of the file's sha256
    sha256         VARCHAR NOT NULL,
    site_id        VARCHAR,               -- null: the trial definition (kind trial, trial_dictionary)
    kind           VARCHAR NOT NULL,      -- cgm | edc | lab (landing sub-folder) | trial | trial_dictionary
    rel_path       VARCHAR NOT NULL,      -- path under the landing dir (trial: as given)
    participant_id VARCHAR,               -- from a CGM file's name (<participant_id>__*.csv)
    size_bytes     BIGINT NOT NULL,
    received_at    TIMESTAMP NOT NULL,    -- file modification time, UTC
    export_format  VARCHAR,
    first_seen_run VARCHAR NOT NULL
);
CREATE TABLE IF NOT EXISTS audit.runs (
    run_id           VARCHAR PRIMARY KEY,
    flow_run_id      VARCHAR,
    started_at       TIMESTAMP NOT NULL,
    finished_at      TIMESTAMP,           -- null: the run was killed (status interrupted)
    status           VARCHAR NOT NULL,    -- published | failed | interrupted
    as_of            DATE,
    sites            VARCHAR,
    full_refresh     BOOLEAN NOT NULL,
    n_files          INTEGER,             -- files loaded (published runs)
    package_versions VARCHAR NOT NULL,    -- JSON object
    git_commit       VARCHAR,
    error            VARCHAR,             -- failed runs: the error's class (never its message)
    trial_file_id    VARCHAR              -- audit.files.file_id of the trial definition used
);
CREATE TABLE IF NOT EXISTS audit.run_files (
    run_id  VARCHAR NOT NULL,
    file_id VARCHAR NOT NULL,
    status  VARCHAR NOT NULL              -- new | changed (new content at a known path) | unchanged
);
CREATE TABLE IF NOT EXISTS audit.table_rows (
    run_id     VARCHAR NOT NULL,
    table_name VARCHAR NOT NULL,
    n_rows     BIGINT NOT NULL
);
