-- The CGM files whose raw rows the warehouse holds.
SELECT DISTINCT file_id FROM raw.dexcom_clarity
UNION SELECT DISTINCT file_id FROM raw.libreview
