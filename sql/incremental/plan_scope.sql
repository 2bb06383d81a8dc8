-- Known CGM files rebuilt this night besides the new ones (work.cgm_scope): every CGM file of
-- a participant whose enrolment context changed (audit.cgm_context against the published
-- warehouse's, kept as _prev_context), and every file that held a reading dated in the future
-- (the reference time moves on: the rule is asked again). _kept_loaded: the CGM files of the
-- published warehouse still loaded tonight.
INSERT OR IGNORE INTO work.cgm_scope
SELECT k.file_id
FROM _kept_loaded AS k JOIN audit.files AS f USING (file_id)
WHERE f.participant_id IN (
    SELECT participant_id
    FROM audit.cgm_context AS n FULL JOIN _prev_context AS p USING (participant_id)
    WHERE n.digest IS DISTINCT FROM p.digest)
UNION
SELECT i.source_file_id
FROM quality.issues AS i SEMI JOIN _kept_loaded AS k ON k.file_id = i.source_file_id
WHERE i.rule = 'future_timestamp' AND i.table_name = 'cgm_readings';
