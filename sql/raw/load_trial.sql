-- The trial definition's rows (isletflow/trial.py Trial.tables, registered as _<table>).
INSERT INTO raw.trial_sites BY NAME SELECT * FROM _trial_sites;
INSERT INTO raw.trial_arms BY NAME SELECT * FROM _trial_arms;
INSERT INTO raw.trial_visits BY NAME SELECT * FROM _trial_visits;
INSERT INTO raw.trial_redcap_fields BY NAME SELECT * FROM _trial_redcap_fields;
INSERT INTO raw.trial_redcap_codes BY NAME SELECT * FROM _trial_redcap_codes;
INSERT INTO raw.trial_lab_units BY NAME SELECT * FROM _trial_lab_units;
INSERT INTO raw.trial_parameters BY NAME SELECT * FROM _trial_parameters;
INSERT INTO raw.trial_cgm_windows BY NAME SELECT * FROM _trial_cgm_windows;
