-- The chunk table of the CGM harmonisation (also made by sql/incremental/work_tables.sql in
-- the nightly build; here for a connection that only harmonises, e.g. the benchmark).
CREATE SCHEMA IF NOT EXISTS work;
CREATE TABLE IF NOT EXISTS work.cgm_chunk (file_id VARCHAR PRIMARY KEY);
