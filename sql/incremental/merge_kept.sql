-- Incremental night, after the rebuilt CGM rows are validated (before record identity): the
-- kept rows join them again (sql/incremental/set_aside_kept.sql), and every key of a rebuilt
-- row counts as touched (its record identity is resolved again).
INSERT INTO work.touched_keys
SELECT DISTINCT participant_id, device, timestamp_utc FROM core.cgm_readings;
INSERT INTO core._kept_cgm_readings BY NAME SELECT * FROM core.cgm_readings;
DROP TABLE core.cgm_readings;
ALTER TABLE core._kept_cgm_readings RENAME TO cgm_readings;
INSERT INTO core._kept_fingerstick_glucose BY NAME SELECT * FROM core.fingerstick_glucose;
DROP TABLE core.fingerstick_glucose;
ALTER TABLE core._kept_fingerstick_glucose RENAME TO fingerstick_glucose;
INSERT INTO quality.issues BY NAME SELECT * FROM work.kept_issues;
INSERT INTO quality.quarantined_rows BY NAME SELECT * FROM work.kept_quarantined_rows;
INSERT INTO quality.quarantined_files BY NAME SELECT * FROM work.kept_quarantined_files;
