-- Load this night's staged REDCap data dictionaries (one Parquet partition per file, keyed by
-- sha256; the caller passes them sorted by path) into raw.redcap_dictionary.
INSERT INTO raw.redcap_dictionary BY NAME SELECT * FROM read_parquet($files);
