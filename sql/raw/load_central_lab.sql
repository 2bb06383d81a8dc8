-- Load this night's staged Parquet partitions (one per file, keyed by sha256, rows in file
-- order; the caller passes them sorted by path) into raw.central_lab.
INSERT INTO raw.central_lab BY NAME SELECT * FROM read_parquet($files);
