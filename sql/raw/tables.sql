-- Rows as exported (text), minus the personal-data columns the readers drop, with lineage.
CREATE TABLE raw.dexcom_clarity (
    file_id VARCHAR NOT NULL, row_number BIGINT NOT NULL,
    export_index VARCHAR, "timestamp" VARCHAR, event_type VARCHAR, event_subtype VARCHAR,
    glucose_value VARCHAR, glucose_unit VARCHAR, insulin_value VARCHAR, carb_value VARCHAR,
    duration VARCHAR, glucose_rate_of_change VARCHAR, transmitter_time VARCHAR,
    export_language VARCHAR, decimal_mark VARCHAR
);
CREATE TABLE raw.libreview (
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
CREATE TABLE raw.redcap (
    file_id VARCHAR NOT NULL, row_number BIGINT NOT NULL,
    form VARCHAR, record_id VARCHAR, redcap_event_name VARCHAR, redcap_repeat_instrument VARCHAR,
    redcap_repeat_instance VARCHAR, redcap_data_access_group VARCHAR, form_complete VARCHAR,
    field VARCHAR, value VARCHAR, value_label VARCHAR, value_type VARCHAR, value_typed VARCHAR,
    dictionary_file_id VARCHAR
);
-- REDCap data dictionaries as sent (isletflow/readers/redcap_dictionary.py): one row per field.
CREATE TABLE raw.redcap_dictionary (
    file_id VARCHAR NOT NULL, row_number BIGINT NOT NULL,
    field_name VARCHAR, form_name VARCHAR, section_header VARCHAR, field_type VARCHAR,
    field_label VARCHAR, choices VARCHAR, field_note VARCHAR, validation VARCHAR,
    validation_min VARCHAR, validation_max VARCHAR, identifier VARCHAR, branching_logic VARCHAR,
    required VARCHAR, custom_alignment VARCHAR, question_number VARCHAR,
    matrix_group_name VARCHAR, matrix_ranking VARCHAR, field_annotation VARCHAR
);
CREATE TABLE raw.central_lab (
    file_id VARCHAR NOT NULL, row_number BIGINT NOT NULL,
    subject_id VARCHAR, visit VARCHAR, collection_date VARCHAR, test_code VARCHAR,
    test_name VARCHAR, result VARCHAR, unit VARCHAR, accession VARCHAR, decimal_mark VARCHAR
);
