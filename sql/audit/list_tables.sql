-- Tables of the five warehouse layers, in a stable order: base tables, and the raw CGM views
-- over the staged partitions (sql/raw/load_dexcom_clarity.sql).
SELECT table_schema, table_name
FROM information_schema.tables
WHERE table_catalog = current_database()
  AND table_schema IN ('raw', 'core', 'quality', 'endpoints', 'audit')
  AND (table_type = 'BASE TABLE' OR (table_type = 'VIEW' AND table_schema = 'raw'))
ORDER BY table_schema, table_name;
