-- Readings for the ambulatory glucose profile: the same series as endpoints.cgm_metrics
-- (current readings of the sensor's own series; Libre scans duplicate the historic series).
SELECT participant_id, timestamp_local, glucose_mg_dl
FROM core.cgm_readings
WHERE record_status = 'current' AND device <> 'libre_scan';
