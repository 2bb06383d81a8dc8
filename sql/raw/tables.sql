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
CREATE TABLE raw.redcap (
    file_id VARCHAR NOT NULL, row_number BIGINT NOT NULL,
    form VARCHAR, record_id VARCHAR, redcap_event_name VARCHAR, redcap_repeat_instrument VARCHAR,
    redcap_repeat_instance VARCHAR, form_complete VARCHAR, field VARCHAR, value VARCHAR
);
CREATE TABLE raw.central_lab (
    file_id VARCHAR NOT NULL, row_number BIGINT NOT NULL,
    subject_id VARCHAR, visit VARCHAR, collection_date VARCHAR, test_code VARCHAR,
    test_name VARCHAR, result VARCHAR, unit VARCHAR, accession VARCHAR, decimal_mark VARCHAR
);
