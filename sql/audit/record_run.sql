-- Record this run (registered as _run) and its rows per table (_rows).
INSERT INTO audit.runs BY NAME SELECT * FROM _run;
INSERT INTO audit.table_rows BY NAME SELECT * FROM _rows;
