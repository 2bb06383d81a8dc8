-- REDCap forms not marked complete (<form>_complete 0 = incomplete, 1 = unverified): the row is
-- loaded, and the site is asked to complete or verify the form. Asked once per record: of its
-- current row (a form re-sent in every cumulative export is not asked about again and again).
WITH forms AS (  -- each core table's form (the trial file's redcap.forms)
    SELECT DISTINCT form, core_table AS table_name FROM raw.trial_redcap_fields
), current_rows AS (
    SELECT 'participants' AS table_name, source_file_id, source_row FROM core.participants
    WHERE record_status = 'current'
    UNION ALL SELECT 'infusions', source_file_id, source_row FROM core.infusions
    WHERE record_status = 'current'
    UNION ALL SELECT 'she_events', source_file_id, source_row FROM core.she_events
    WHERE record_status = 'current'
    UNION ALL SELECT 'insulin_diary', source_file_id, source_row FROM core.insulin_diary
    WHERE record_status = 'current'
    UNION ALL SELECT 'adverse_events', source_file_id, source_row FROM core.adverse_events
    WHERE record_status = 'current'
    UNION ALL SELECT 'concomitant_medications', source_file_id, source_row
    FROM core.concomitant_medications WHERE record_status = 'current'
    UNION ALL SELECT 'disposition', source_file_id, source_row FROM core.disposition
    WHERE record_status = 'current'
)
SELECT DISTINCT f.table_name, r.file_id AS source_file_id, r.row_number AS source_row,
       'form_not_complete' AS rule, 'warning' AS severity, r.form || '_complete' AS column_name,
       r.form_complete AS value,
       'form ' || r.form || ' of ' || r.record_id || ' is '
       || CASE r.form_complete WHEN '0' THEN 'incomplete' ELSE 'unverified' END
       || ' in REDCap; please complete or verify it' AS message
FROM raw.redcap AS r JOIN forms AS f USING (form)
SEMI JOIN current_rows AS c
       ON c.table_name = f.table_name AND c.source_file_id = r.file_id
      AND c.source_row = r.row_number
WHERE r.form_complete IN ('0', '1')
ORDER BY 2, 3
