-- raw.dexcom_clarity: the rows of the warehouse's Dexcom Clarity exports as staged (one
-- Parquet partition per file, keyed by sha256; rows in file order), as a VIEW over those
-- partitions: the CGM rows are kept once as text (the stage folder) and once typed
-- (core.cgm_readings), never copied into the warehouse a second time. The stage folder must
-- stay where it is for raw.* CGM queries (core does not need it). {files}: the partitions as a
-- quoted SQL list (isletflow/warehouse.py load_raw_cgm), never user input.
CREATE OR REPLACE VIEW raw.dexcom_clarity AS
SELECT file_id::VARCHAR AS file_id, row_number::BIGINT AS row_number, export_index,
       "timestamp", event_type, event_subtype, glucose_value, glucose_unit, insulin_value,
       carb_value, duration, glucose_rate_of_change, transmitter_time, export_language,
       decimal_mark
FROM read_parquet({files}, union_by_name = true);
