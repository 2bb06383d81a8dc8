-- Load this night's staged Parquet partitions (one per file, keyed by its sha256 and, when it
-- was read with its site's data dictionary, the dictionary's; rows in file order; the caller
-- passes them sorted by path) into raw.redcap.
INSERT INTO raw.redcap BY NAME SELECT * FROM read_parquet($files, union_by_name = true);
