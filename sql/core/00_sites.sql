-- Sites and the visit schedule come from the trial definition file (raw.trial_*): each row
-- points to that file (source_file_id = audit.files.file_id of trials/<name>.toml).
CREATE OR REPLACE TABLE core.sites AS
SELECT site_id, city, country, region, timezone, redcap_dag, file_id AS source_file_id
FROM raw.trial_sites ORDER BY site_id;
CREATE OR REPLACE TABLE core.visit_schedule AS
SELECT visit, nominal_day, window_low, window_high, redcap_event, lab_visit,
       file_id AS source_file_id
FROM raw.trial_visits ORDER BY nominal_day;
