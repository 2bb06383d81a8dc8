-- Rows as exported (text), minus the personal-data columns the readers drop, with lineage.
CREATE TABLE IF NOT EXISTS raw.dexcom_clarity (
    file_id VARCHAR NOT NULL, row_number BIGINT NOT NULL,
    export_index VARCHAR, "timestamp" VARCHAR, event_type VARCHAR, event_subtype VARCHAR,
    glucose_value VARCHAR, glucose_unit VARCHAR, insulin_value VARCHAR, carb_value VARCHAR,
    duration VARCHAR, glucose_rate_of_change VARCHAR, transmitter_time VARCHAR,
    export_language VARCHAR, decimal_mark VARCHAR
);
CREATE TABLE IF NOT EXISTS raw.libreview (
    file_id VARCHAR NOT NULL, row_number BIGINT NOT NULL,
    device VARCHAR, device_timestamp VARCHAR, record_type VARCHAR, historic_glucose VARCHAR,
    scan_glucose VARCHAR, strip_glucose VARCHAR, glucose_unit VARCHAR, rapid_insulin_u VARCHAR,
    long_insulin_u VARCHAR, carbohydrates_g VARCHAR, ketone_mmol_l VARCHAR, decimal_mark VARCHAR
);
-- REDCap, long: one row per record x event x repeat instrument x instance x form x field of
-- each form with data in an export row (isletflow/readers/redcap.py). value is the text as
-- exported; with the site's data dictionary (dictionary_file_id) value_label is the choice
-- label, value_type one of date, datetime, time, integer, number, choice, checkbox, text, and
-- value_typed the value in a form DuckDB casts to that type (null when it does not fit).
CREATE TABLE IF NOT EXISTS raw.redcap (
    file_id VARCHAR NOT NULL, row_number BIGINT NOT NULL,
    form VARCHAR, record_id VARCHAR, redcap_event_name VARCHAR, redcap_repeat_instrument VARCHAR,
    redcap_repeat_instance VARCHAR, redcap_data_access_group VARCHAR, form_complete VARCHAR,
    field VARCHAR, value VARCHAR, value_label VARCHAR, value_type VARCHAR, value_typed VARCHAR,
    dictionary_file_id VARCHAR
);
-- REDCap data dictionaries as sent (isletflow/readers/redcap_dictionary.py): one row per field.
CREATE TABLE IF NOT EXISTS raw.redcap_dictionary (
    file_id VARCHAR NOT NULL, row_number BIGINT NOT NULL,
    field_name VARCHAR, form_name VARCHAR, section_header VARCHAR, field_type VARCHAR,
    field_label VARCHAR, choices VARCHAR, field_note VARCHAR, validation VARCHAR,
    validation_min VARCHAR, validation_max VARCHAR, identifier VARCHAR, branching_logic VARCHAR,
    required VARCHAR, custom_alignment VARCHAR, question_number VARCHAR,
    matrix_group_name VARCHAR, matrix_ranking VARCHAR, field_annotation VARCHAR
);
CREATE TABLE IF NOT EXISTS raw.central_lab (
    file_id VARCHAR NOT NULL, row_number BIGINT NOT NULL,
    subject_id VARCHAR, visit VARCHAR, collection_date VARCHAR, test_code VARCHAR,
    test_name VARCHAR, result VARCHAR, unit VARCHAR, accession VARCHAR, decimal_mark VARCHAR
);
-- The trial definition file of the run (trials/<name>.toml, read by isletflow/trial.py), as
-- rows: file_id is the trial file's id in audit.files (registered like a landing file).
CREATE TABLE IF NOT EXISTS raw.trial_sites (
    file_id VARCHAR NOT NULL, site_id VARCHAR NOT NULL, city VARCHAR, country VARCHAR,
    region VARCHAR, timezone VARCHAR NOT NULL, redcap_dag VARCHAR
);
CREATE TABLE IF NOT EXISTS raw.trial_arms (
    file_id VARCHAR NOT NULL, arm_id VARCHAR NOT NULL, label VARCHAR,
    dose_fraction DOUBLE NOT NULL, efficacy_population BOOLEAN NOT NULL
);
CREATE TABLE IF NOT EXISTS raw.trial_visits (
    file_id VARCHAR NOT NULL, visit VARCHAR NOT NULL, nominal_day INTEGER NOT NULL,
    window_low INTEGER NOT NULL, window_high INTEGER NOT NULL, redcap_event VARCHAR,
    lab_visit VARCHAR NOT NULL
);
-- Which REDCap form and field feed each core column; how: value (as exported), choice (a code,
-- its meaning in trial_redcap_codes), flag (true when the code is a true code), checkbox (true
-- when a box <field>___<code> with a true code is checked).
CREATE TABLE IF NOT EXISTS raw.trial_redcap_fields (
    file_id VARCHAR NOT NULL, core_table VARCHAR NOT NULL, column_name VARCHAR NOT NULL,
    form VARCHAR NOT NULL, field VARCHAR NOT NULL, how VARCHAR NOT NULL
);
CREATE TABLE IF NOT EXISTS raw.trial_redcap_codes (
    file_id VARCHAR NOT NULL, core_table VARCHAR NOT NULL, column_name VARCHAR NOT NULL,
    code VARCHAR NOT NULL, label VARCHAR NOT NULL
);
-- The lab's test codes: value in analyte_unit = result x factor + addend, for the unit as sent
-- compared by unit_key (lower case, no spaces, '×' as 'x').
CREATE TABLE IF NOT EXISTS raw.trial_lab_units (
    file_id VARCHAR NOT NULL, test_code VARCHAR NOT NULL, analyte VARCHAR NOT NULL,
    unit VARCHAR NOT NULL, unit_key VARCHAR NOT NULL, factor DOUBLE NOT NULL,
    addend DOUBLE NOT NULL, analyte_unit VARCHAR NOT NULL
);
-- Endpoint parameters and safety thresholds (endpoints.*, safety.*), by dotted name, as text.
CREATE TABLE IF NOT EXISTS raw.trial_parameters (
    file_id VARCHAR NOT NULL, name VARCHAR NOT NULL, value VARCHAR
);
CREATE TABLE IF NOT EXISTS raw.trial_cgm_windows (
    file_id VARCHAR NOT NULL, "window" VARCHAR NOT NULL, start_day INTEGER NOT NULL,
    end_day INTEGER NOT NULL
);
