-- Load this night's staged Parquet partitions (one per file, keyed by sha256) into raw.libreview.
INSERT INTO raw.libreview BY NAME SELECT * FROM read_parquet($files) ORDER BY file_id, row_number;
