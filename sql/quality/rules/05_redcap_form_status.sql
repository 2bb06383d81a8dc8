-- REDCap forms not marked complete (<form>_complete 0 = incomplete, 1 = unverified): the row is
-- loaded, and the site is asked to complete or verify the form.
WITH forms(form, table_name) AS (VALUES
    ('enrolment', 'participants'), ('infusion', 'infusions'),
    ('severe_hypoglycemia', 'she_events'), ('insulin_diary', 'insulin_diary'),
    ('adverse_events', 'adverse_events'), ('concomitant_medications', 'concomitant_medications'),
    ('disposition', 'disposition'))
SELECT DISTINCT f.table_name, r.file_id AS source_file_id, r.row_number AS source_row,
       'form_not_complete' AS rule, 'warning' AS severity, r.form || '_complete' AS column_name,
       r.form_complete AS value,
       'form ' || r.form || ' of ' || r.record_id || ' is '
       || CASE r.form_complete WHEN '0' THEN 'incomplete' ELSE 'unverified' END
       || ' in REDCap; please complete or verify it' AS message
FROM raw.redcap AS r JOIN forms AS f USING (form)
WHERE r.form_complete IN ('0', '1')
ORDER BY 2, 3
