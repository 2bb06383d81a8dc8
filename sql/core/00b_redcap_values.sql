-- REDCap values under the names of the core columns they feed (the trial file's field map,
-- raw.trial_redcap_fields / raw.trial_redcap_codes): one row per export row x core column.
-- value: as exported (how = 'value'); the code's meaning (choice; NULL for a code the trial
-- does not list: the EDC checks query it); 'true' / 'false' for a flag (a true code or not;
-- NULL when empty) and for a checkbox (true when a box with a true code is checked; the
-- column's boxes aggregate with max(): 'true' > 'false').
CREATE OR REPLACE TEMP VIEW redcap_values AS
SELECT r.file_id, r.row_number, r.record_id, r.redcap_event_name, r.redcap_repeat_instance,
       m.core_table, m.column_name,
       CASE m.how
           WHEN 'value' THEN r.value
           WHEN 'choice' THEN c.label
           WHEN 'flag' THEN CASE WHEN NULLIF(trim(r.value), '') IS NULL THEN NULL
                                 WHEN c.code IS NOT NULL THEN 'true' ELSE 'false' END
           WHEN 'checkbox' THEN CASE WHEN r.value = '1' AND c.code IS NOT NULL THEN 'true'
                                     ELSE 'false' END
       END AS value
FROM raw.redcap AS r
JOIN raw.trial_redcap_fields AS m
  ON m.form = r.form
 AND (r.field = m.field OR (m.how = 'checkbox' AND r.field LIKE m.field || '\_\_\_%' ESCAPE '\'))
LEFT JOIN raw.trial_redcap_codes AS c
  ON c.core_table = m.core_table AND c.column_name = m.column_name
 AND c.code = CASE WHEN m.how = 'checkbox' THEN lower(substr(r.field, length(m.field) + 4))
                   ELSE trim(r.value) END;
