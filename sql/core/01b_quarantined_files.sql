-- CGM exports that cannot belong where they landed: the participant named by the file name is
-- not enrolled, or is enrolled at another site. Their rows stay in raw; none reach core.
-- (Enrolment may come in many exports, so a participant may have several enrolment rows.)
-- Only the files of work.cgm_scope (the night's new and rebuilt CGM files; used on its own:
-- every loaded CGM file).
CREATE SCHEMA IF NOT EXISTS work;
CREATE TABLE IF NOT EXISTS work.cgm_scope AS
SELECT DISTINCT file_id FROM raw.dexcom_clarity UNION SELECT DISTINCT file_id FROM raw.libreview;
INSERT INTO quality.quarantined_files
WITH cgm_files AS (
    SELECT file_id FROM work.cgm_scope
), enrolled AS (
    SELECT participant_id, min(site_id) AS site_id
    FROM core.participants GROUP BY participant_id
)
SELECT f.file_id,
       CASE WHEN e.participant_id IS NULL THEN 'unknown_participant' ELSE 'wrong_site' END,
       CASE WHEN e.participant_id IS NULL
            THEN 'participant ' || f.participant_id || ' (from the file name) is not enrolled; '
                 || 'the file is not loaded'
            ELSE 'participant ' || f.participant_id || ' is enrolled at ' || e.site_id
                 || ' but the file was sent by ' || f.site_id || '; the file is not loaded'
       END
FROM cgm_files JOIN audit.files AS f USING (file_id)
LEFT JOIN enrolled AS e ON e.participant_id = f.participant_id
WHERE NOT EXISTS (SELECT 1 FROM core.participants AS p
                  WHERE p.participant_id = f.participant_id AND p.site_id = f.site_id)
ORDER BY f.file_id;
INSERT INTO quality.issues BY NAME
SELECT '(file)' AS table_name, q.file_id AS source_file_id, q.rule, 'error' AS severity,
       'participant_id' AS column_name, f.participant_id AS value, q.message
FROM quality.quarantined_files AS q JOIN audit.files AS f USING (file_id);
