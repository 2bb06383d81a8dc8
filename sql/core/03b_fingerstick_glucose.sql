-- Fingerstick (blood, test-strip) glucose that CGM exports carry: FreeStyle Libre record type 2
-- (`Strip Glucose`), in mg/dL with UTC time. Never CGM: CGM metrics do not see these values.
-- The table macro device_glucose (core/03_cgm_readings.sql, run before this file on the same
-- connection) reads them with the same time-zone, unit and decimal-mark rules as the CGM
-- readings of the same export; without a site, timestamp_utc is NULL.
CREATE TABLE IF NOT EXISTS core.fingerstick_glucose AS
SELECT participant_id, site_id, timestamp_local, timestamp_utc, glucose_mg_dl,
       glucose_original, unit_original, source_file_id, source_row
FROM device_glucose(['libre_strip']) WHERE false;
INSERT INTO core.fingerstick_glucose BY NAME
SELECT participant_id, site_id, timestamp_local, timestamp_utc, glucose_mg_dl,
       glucose_original, unit_original, source_file_id, source_row
FROM device_glucose(['libre_strip']);
