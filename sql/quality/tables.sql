-- Row-level issues found by harmonisation and validation, and the rows moved out of core.
CREATE TABLE IF NOT EXISTS quality.issues (
    table_name     VARCHAR NOT NULL,   -- core table of the row, or '(file)' for a whole file
    source_file_id VARCHAR,            -- audit.files.file_id
    source_row     BIGINT,             -- line number in that file (NULL: the whole file)
    rule           VARCHAR NOT NULL,   -- pandera check, GX expectation, or a rule in sql/quality
    severity       VARCHAR NOT NULL,   -- error: row (or file) not loaded; warning: kept, flagged;
                                       -- info: a record of what was done (not a query)
    column_name    VARCHAR,
    value          VARCHAR,
    message        VARCHAR NOT NULL,
    site_id        VARCHAR,            -- only for files not in audit.files (duplicates, strays)
    file           VARCHAR             -- their path under the landing folder
);
CREATE TABLE IF NOT EXISTS quality.quarantined_rows (
    table_name     VARCHAR NOT NULL,
    source_file_id VARCHAR NOT NULL,
    source_row     BIGINT NOT NULL,
    row_json       VARCHAR NOT NULL    -- the core row as it would have been loaded
);
CREATE TABLE IF NOT EXISTS quality.quarantined_files (
    file_id VARCHAR NOT NULL,          -- its rows stay in raw; none reach core
    rule    VARCHAR NOT NULL,
    message VARCHAR NOT NULL
);
-- Missing-data queries (sql/quality/missing_data/), worked out from the data alone each night
-- the data change: each with the day it is missing from (since) and the first reference date
-- on which it is a query (due). The listing (quality.site_queries) shows those due by the
-- published night's reference date, so a night with no new file still moves them on.
CREATE TABLE IF NOT EXISTS quality.missing_data (
    rule           VARCHAR NOT NULL,   -- cgm_gap | visit_no_hba1c | visit_no_form |
                                       -- form_incomplete_overdue
    severity       VARCHAR NOT NULL,   -- warning: nothing is set aside; the site is asked
    site_id        VARCHAR NOT NULL,
    participant_id VARCHAR NOT NULL,
    table_name     VARCHAR NOT NULL,   -- core table the missing data belong in
    source_file_id VARCHAR,            -- a form left incomplete: the export of its current row
    source_row     BIGINT,
    column_name    VARCHAR,
    value          VARCHAR,            -- the last reading's day, the visit, the form status
    since          DATE NOT NULL,      -- missing from this day on
    due            DATE NOT NULL,      -- a query from this reference date on
    message        VARCHAR NOT NULL
);
