-- Row-level issues found by harmonisation and validation, and the rows moved out of core.
CREATE TABLE IF NOT EXISTS quality.issues (
    table_name     VARCHAR NOT NULL,   -- core table the row belongs to
    source_file_id VARCHAR,            -- audit.files.file_id
    source_row     BIGINT,             -- line number in that file
    rule           VARCHAR NOT NULL,   -- pandera check, GX expectation, or harmonisation rule
    severity       VARCHAR NOT NULL,   -- error: row quarantined; warning: row kept, flagged
    column_name    VARCHAR,
    value          VARCHAR,
    message        VARCHAR NOT NULL
);
CREATE TABLE IF NOT EXISTS quality.quarantined_rows (
    table_name     VARCHAR NOT NULL,
    source_file_id VARCHAR NOT NULL,
    source_row     BIGINT NOT NULL,
    row_json       VARCHAR NOT NULL    -- the core row as it would have been loaded
);
