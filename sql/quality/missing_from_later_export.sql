-- A later export that lacks a record an earlier export of the same site had: a warning query
-- (was the record deleted at the site?), never a silent drop: the record stays current from
-- the file that last sent it. A later file counts as a re-export of an earlier one only when
-- the two share at least one record (a file with only new records is an addendum, not a full
-- export). Compared with the latest file of the site that sent rows of core.{table}.
-- {table} and {key} come from schemas.keys.CORE_KEYS. Needs record_status (sql/resolve/).
WITH rows AS (
    SELECT t.source_file_id, t.source_row, t.record_status, t.record_key,
           f.site_id, f.received_at, f.rel_path
    FROM (SELECT source_file_id, source_row, record_status,
                 to_json(struct_pack({key}))::VARCHAR AS record_key FROM core.{table}) AS t
    JOIN audit.files AS f ON f.file_id = t.source_file_id
), latest AS (
    SELECT site_id, source_file_id AS latest_file, rel_path AS latest_path
    FROM (SELECT DISTINCT site_id, source_file_id, received_at, rel_path FROM rows)
    QUALIFY row_number() OVER (PARTITION BY site_id ORDER BY received_at DESC, rel_path DESC) = 1
), keys AS (
    SELECT DISTINCT source_file_id, record_key FROM rows
), reexported AS (
    -- earlier files that the site's latest file re-exports (they share a record)
    SELECT DISTINCT a.source_file_id
    FROM keys AS a JOIN keys AS b USING (record_key) JOIN latest AS l
      ON l.latest_file = b.source_file_id
    WHERE a.source_file_id <> b.source_file_id
)
SELECT '{table}' AS table_name, r.source_file_id, r.source_row,
       'missing_from_later_export' AS rule, 'warning' AS severity, '{key_names}' AS column_name,
       r.record_key AS value,
       'record ' || r.record_key || ' is not in the later export ' || l.latest_path
       || ' of the same data; deleted at the site? It is still counted from this file'
           AS message
FROM rows AS r
JOIN latest AS l USING (site_id)
SEMI JOIN reexported AS x ON x.source_file_id = r.source_file_id
WHERE r.record_status = 'current' AND r.source_file_id <> l.latest_file
