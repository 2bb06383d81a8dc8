-- Rows of a participant who is not enrolled, or sent by a site other than the participant's.
-- (CGM files are checked as whole files in core/01b_quarantined_files.sql.)
WITH rows AS (
    SELECT 'infusions' AS t, participant_id, source_file_id, source_row FROM core.infusions
    UNION ALL SELECT 'she_events', participant_id, source_file_id, source_row FROM core.she_events
    UNION ALL SELECT 'insulin_diary', participant_id, source_file_id, source_row FROM core.insulin_diary
    UNION ALL SELECT 'adverse_events', participant_id, source_file_id, source_row FROM core.adverse_events
    UNION ALL SELECT 'concomitant_medications', participant_id, source_file_id, source_row
              FROM core.concomitant_medications
    UNION ALL SELECT 'disposition', participant_id, source_file_id, source_row FROM core.disposition
    UNION ALL SELECT 'lab_results', participant_id, source_file_id, source_row FROM core.lab_results
    UNION ALL SELECT 'participants', participant_id, source_file_id, source_row FROM core.participants
)
SELECT r.t AS table_name, r.source_file_id, r.source_row,
       CASE WHEN p.participant_id IS NULL THEN 'unknown_participant' ELSE 'wrong_site' END AS rule,
       'error' AS severity, 'participant_id' AS column_name, r.participant_id AS value,
       CASE WHEN p.participant_id IS NULL
            THEN 'participant ' || coalesce(r.participant_id, '(empty)') || ' is not enrolled'
            ELSE 'participant ' || r.participant_id || ' is enrolled at ' || p.site_id
                 || ' but this row was sent by ' || f.site_id END AS message
FROM rows AS r
JOIN audit.files AS f ON f.file_id = r.source_file_id
LEFT JOIN (SELECT participant_id, site_id FROM core.participants
           WHERE record_status = 'current') AS p
       ON p.participant_id = r.participant_id AND r.t <> 'participants'
WHERE (r.t <> 'participants' AND (p.participant_id IS NULL OR p.site_id <> f.site_id))
   OR (r.t = 'participants' AND r.participant_id NOT LIKE f.site_id || '-%')
