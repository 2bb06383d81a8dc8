-- Register the files of this run that the audit has not seen before (manifest: the staged files, registered by the caller).
INSERT INTO audit.files
SELECT m.file_id, m.sha256, m.site_id, m.kind, m.rel_path, m.participant_id, m.size_bytes,
       m.received_at, m.export_format, m.run_id
FROM manifest AS m
WHERE m.file_id NOT IN (SELECT file_id FROM audit.files);
INSERT INTO audit.run_files
SELECT m.run_id, m.file_id,
       CASE WHEN f.first_seen_run <> m.run_id THEN 'unchanged'
            WHEN EXISTS (SELECT 1 FROM audit.files AS o
                         WHERE o.rel_path = m.rel_path AND o.first_seen_run <> m.run_id)
            THEN 'changed'
            ELSE 'new' END
FROM manifest AS m JOIN audit.files AS f USING (file_id);
