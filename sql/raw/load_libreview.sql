-- raw.libreview: the rows of the warehouse's FreeStyle LibreView exports as staged, as a VIEW
-- over their Parquet partitions (see load_dexcom_clarity.sql: one text copy, in the stage
-- folder). {files}: the partitions as a quoted SQL list (isletflow/warehouse.py load_raw_cgm).
CREATE OR REPLACE VIEW raw.libreview AS
SELECT file_id::VARCHAR AS file_id, row_number::BIGINT AS row_number, device,
       device_timestamp, record_type, historic_glucose, scan_glucose, strip_glucose,
       glucose_unit, rapid_insulin_u, long_insulin_u, carbohydrates_g, ketone_mmol_l,
       decimal_mark
FROM read_parquet({files}, union_by_name = true);
