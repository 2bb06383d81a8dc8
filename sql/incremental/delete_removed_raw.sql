-- Raw rows of CGM files no longer in the landing folder (or outside this run's selection).
DELETE FROM raw.dexcom_clarity WHERE file_id IN (SELECT file_id FROM work.cgm_removed);
DELETE FROM raw.libreview WHERE file_id IN (SELECT file_id FROM work.cgm_removed);
