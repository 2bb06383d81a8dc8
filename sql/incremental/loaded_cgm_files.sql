-- The CGM files whose rows the published warehouse holds (its staged partitions).
SELECT file_id FROM audit.staged_partitions
WHERE export_format IN ('dexcom_clarity', 'libreview')
