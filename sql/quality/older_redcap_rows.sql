-- The older rows (record identity, sql/resolve/: overlap or superseded) of every core table
-- read from REDCap: the EDC checks of the trial's data dictionary ask a site about a record's
-- current row (or a row set aside), not again for each weekly cumulative export that repeated
-- it before.
SELECT source_file_id, source_row FROM core.participants WHERE record_status <> 'current'
UNION ALL SELECT source_file_id, source_row FROM core.infusions WHERE record_status <> 'current'
UNION ALL SELECT source_file_id, source_row FROM core.she_events WHERE record_status <> 'current'
UNION ALL SELECT source_file_id, source_row FROM core.insulin_diary
WHERE record_status <> 'current'
UNION ALL SELECT source_file_id, source_row FROM core.adverse_events
WHERE record_status <> 'current'
UNION ALL SELECT source_file_id, source_row FROM core.concomitant_medications
WHERE record_status <> 'current'
UNION ALL SELECT source_file_id, source_row FROM core.disposition
WHERE record_status <> 'current'
