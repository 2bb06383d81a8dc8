-- Load this night's staged Parquet partitions (one per file, keyed by sha256) into raw.central_lab.
INSERT INTO raw.central_lab BY NAME SELECT * FROM read_parquet($files) ORDER BY file_id, row_number;
