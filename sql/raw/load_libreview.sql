-- Load this night's staged Parquet partitions (one per file, keyed by sha256, rows in file
-- order; the caller passes them sorted by path) into raw.libreview.
INSERT INTO raw.libreview BY NAME SELECT * FROM read_parquet($files);
