-- Replace a table with the frame registered as _incoming ({table}: a checked identifier).
CREATE OR REPLACE TABLE {table} AS SELECT * FROM _incoming;
