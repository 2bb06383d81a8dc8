-- The missing-data queries are worked out again, whole, each night the data change
-- (isletflow/build.py validate_build): from the core tables as resolved and validated.
DELETE FROM quality.missing_data;
-- The current record of every REDCap core table, with the date that places it in a visit's
-- window (isletflow/trial.py VISIT_FORM_DATES) and its lineage, for 02 and 03.
CREATE OR REPLACE TEMP VIEW _redcap_records AS
SELECT 'participants' AS table_name, participant_id, enrolment_date AS day, source_file_id,
       source_row
FROM core.participants WHERE record_status = 'current'
UNION ALL SELECT 'infusions', participant_id, infusion_date, source_file_id, source_row
FROM core.infusions WHERE record_status = 'current'
UNION ALL SELECT 'she_events', participant_id, event_date, source_file_id, source_row
FROM core.she_events WHERE record_status = 'current'
UNION ALL SELECT 'insulin_diary', participant_id, diary_date, source_file_id, source_row
FROM core.insulin_diary WHERE record_status = 'current'
UNION ALL SELECT 'adverse_events', participant_id, onset_date, source_file_id, source_row
FROM core.adverse_events WHERE record_status = 'current'
UNION ALL SELECT 'concomitant_medications', participant_id, start_date, source_file_id,
       source_row
FROM core.concomitant_medications WHERE record_status = 'current'
UNION ALL SELECT 'disposition', participant_id, status_date, source_file_id, source_row
FROM core.disposition WHERE record_status = 'current';
