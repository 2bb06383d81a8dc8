-- Incremental night, before the night's rows are built: the published CGM rows of files this
-- night does not rebuild stay as they are; everything else is built again.
--  * core.cgm_readings / core.fingerstick_glucose move aside (core._kept_*, a rename) without
--    the rows of the rebuilt and removed files, whose keys are recorded as touched; the night
--    builds the two tables anew from the files of work.cgm_scope only, validates them, and
--    sql/incremental/merge_kept.sql puts the kept rows back;
--  * the quality rows of the kept files move to work.kept_* (their issues, quarantined rows
--    and quarantined files), except the 'older_value_in_use' warnings, which depend on other
--    files and are found again for every file; every other quality row is deleted, and found
--    again by this night's validation.
CREATE OR REPLACE TEMP TABLE _redo AS
SELECT file_id FROM work.cgm_scope UNION SELECT file_id FROM work.cgm_removed;
INSERT INTO work.touched_keys
SELECT DISTINCT participant_id, device, timestamp_utc
FROM core.cgm_readings SEMI JOIN _redo ON _redo.file_id = source_file_id;
INSERT INTO work.touched_keys
SELECT DISTINCT json_extract_string(row_json, '$.participant_id'),
       json_extract_string(row_json, '$.device'),
       TRY_CAST(json_extract_string(row_json, '$.timestamp_utc') AS TIMESTAMP)
FROM quality.quarantined_rows SEMI JOIN _redo ON _redo.file_id = source_file_id
WHERE table_name = 'cgm_readings';
DELETE FROM core.cgm_readings WHERE source_file_id IN (SELECT file_id FROM _redo);
DELETE FROM core.fingerstick_glucose WHERE source_file_id IN (SELECT file_id FROM _redo);
ALTER TABLE core.cgm_readings RENAME TO _kept_cgm_readings;
ALTER TABLE core.fingerstick_glucose RENAME TO _kept_fingerstick_glucose;
CREATE OR REPLACE TABLE work.kept_issues AS
SELECT * FROM quality.issues
WHERE source_file_id IN (SELECT file_id FROM _kept_loaded) AND rule <> 'older_value_in_use';
CREATE OR REPLACE TABLE work.kept_quarantined_rows AS
SELECT * FROM quality.quarantined_rows
WHERE source_file_id IN (SELECT file_id FROM _kept_loaded);
CREATE OR REPLACE TABLE work.kept_quarantined_files AS
SELECT * FROM quality.quarantined_files
WHERE file_id IN (SELECT file_id FROM _kept_loaded);
DELETE FROM quality.issues;
DELETE FROM quality.quarantined_rows;
DELETE FROM quality.quarantined_files;
DROP TABLE _redo;
