-- Copy the audit history of the previously published warehouse (attached as prev).
INSERT INTO audit.files SELECT * FROM prev.audit.files;
INSERT INTO audit.runs BY NAME SELECT * FROM prev.audit.runs;
INSERT INTO audit.run_files SELECT * FROM prev.audit.run_files;
INSERT INTO audit.table_rows SELECT * FROM prev.audit.table_rows;
