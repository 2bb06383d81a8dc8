-- The older rows (record identity, sql/resolve/: overlap or superseded) of every core table
-- read from REDCap, by table: the EDC checks of the trial's data dictionary ask a site about
-- a record's current row (or a row set aside), not again for each weekly cumulative export
-- that repeated it before. (By table: one row of a whole-project export holds several forms,
-- one of which may be older while another is current.)
SELECT 'participants' AS core_table, source_file_id, source_row FROM core.participants
WHERE record_status <> 'current'
UNION ALL SELECT 'infusions', source_file_id, source_row FROM core.infusions
WHERE record_status <> 'current'
UNION ALL SELECT 'she_events', source_file_id, source_row FROM core.she_events
WHERE record_status <> 'current'
UNION ALL SELECT 'insulin_diary', source_file_id, source_row FROM core.insulin_diary
WHERE record_status <> 'current'
UNION ALL SELECT 'adverse_events', source_file_id, source_row FROM core.adverse_events
WHERE record_status <> 'current'
UNION ALL SELECT 'concomitant_medications', source_file_id, source_row
FROM core.concomitant_medications WHERE record_status <> 'current'
UNION ALL SELECT 'disposition', source_file_id, source_row FROM core.disposition
WHERE record_status <> 'current'
