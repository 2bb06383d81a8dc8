-- Rows per file of core.{table} still in core (the denominator of sql/quality/broken_files/
-- find.sql, with the rows validation has already moved to quality.quarantined_rows).
-- {table} is substituted only with a name from schemas.core.CORE_MODELS (never user input).
SELECT source_file_id AS file_id, '{table}' AS table_name, count(*) AS n_rows
FROM core.{table}
GROUP BY ALL
