-- CGM exports that cannot belong where they landed: the participant named by the file name is
-- not enrolled, or is enrolled at another site. Their rows stay in raw; none reach core.
INSERT INTO quality.quarantined_files
WITH cgm_files AS (
    SELECT DISTINCT file_id FROM raw.dexcom_clarity
    UNION SELECT DISTINCT file_id FROM raw.libreview
)
SELECT f.file_id,
       CASE WHEN p.participant_id IS NULL THEN 'unknown_participant' ELSE 'wrong_site' END,
       CASE WHEN p.participant_id IS NULL
            THEN 'participant ' || f.participant_id || ' (from the file name) is not enrolled; '
                 || 'the file is not loaded'
            ELSE 'participant ' || f.participant_id || ' is enrolled at ' || p.site_id
                 || ' but the file was sent by ' || f.site_id || '; the file is not loaded'
       END
FROM cgm_files JOIN audit.files AS f USING (file_id)
LEFT JOIN core.participants AS p ON p.participant_id = f.participant_id
WHERE p.participant_id IS NULL OR p.site_id <> f.site_id
ORDER BY f.file_id;
INSERT INTO quality.issues BY NAME
SELECT '(file)' AS table_name, q.file_id AS source_file_id, q.rule, 'error' AS severity,
       'participant_id' AS column_name, f.participant_id AS value, q.message
FROM quality.quarantined_files AS q JOIN audit.files AS f USING (file_id);
