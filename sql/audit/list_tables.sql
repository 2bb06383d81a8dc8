-- Base tables of the five warehouse layers, in a stable order.
SELECT table_schema, table_name
FROM information_schema.tables
WHERE table_catalog = current_database()
  AND table_schema IN ('raw', 'core', 'quality', 'endpoints', 'audit')
  AND table_type = 'BASE TABLE'
ORDER BY table_schema, table_name;
