-- Incremental night: the raw tables of EDC and lab files and of the trial definition are
-- loaded anew (CGM raw rows stay: only new files are added, removed ones deleted).
DELETE FROM raw.redcap;
DELETE FROM raw.redcap_dictionary;
DELETE FROM raw.central_lab;
DELETE FROM raw.trial_sites;
DELETE FROM raw.trial_arms;
DELETE FROM raw.trial_visits;
DELETE FROM raw.trial_redcap_fields;
DELETE FROM raw.trial_redcap_codes;
DELETE FROM raw.trial_lab_units;
DELETE FROM raw.trial_parameters;
DELETE FROM raw.trial_cgm_windows;
