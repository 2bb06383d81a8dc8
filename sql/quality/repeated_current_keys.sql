-- The current rows of core.{table} whose key ({key}) is given more than once: what the
-- uniqueness check of the key must name (isletflow/quality.py check_keys). {table} and {key}
-- from schemas.keys.CORE_KEYS only.
SELECT {key}
FROM core.{table}
SEMI JOIN (SELECT {key} FROM core.{table} WHERE record_status = 'current'
           GROUP BY ALL HAVING count(*) > 1) USING ({key})
WHERE record_status = 'current'
