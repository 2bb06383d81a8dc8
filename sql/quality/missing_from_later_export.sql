-- A later export that lacks a record an earlier export of the same site had: a warning query
-- (was the record deleted at the site?), never a silent drop: the record stays current from
-- the file that last sent it. A later file counts as a re-export of an earlier one only when
-- it holds at least half of the earlier one's records (an addendum of new records, or a
-- correction of a few, is not a full export). Compared with the latest file of the site that
-- sent rows of core.{table}.
-- {table} and {key} come from schemas.keys.CORE_KEYS. Needs record_status (sql/resolve/).
WITH rows AS (
    -- record_key: the key's JSON as a 128-bit md5 number (millions of rows of years of
    -- cumulative exports are compared; the JSON text is made for the warnings only)
    SELECT t.source_file_id, t.source_row, t.record_status, t.record_key,
           f.site_id, f.received_at, f.rel_path
    FROM (SELECT source_file_id, source_row, record_status,
                 md5_number(to_json(struct_pack({key}))::VARCHAR) AS record_key
          FROM core.{table}) AS t
    JOIN audit.files AS f ON f.file_id = t.source_file_id
), latest AS (
    SELECT site_id, source_file_id AS latest_file, rel_path AS latest_path
    FROM (SELECT DISTINCT site_id, source_file_id, received_at, rel_path FROM rows)
    QUALIFY row_number() OVER (PARTITION BY site_id ORDER BY received_at DESC, rel_path DESC) = 1
), keys AS (
    SELECT DISTINCT source_file_id, record_key FROM rows
), latest_keys AS (
    SELECT l.site_id, k.record_key
    FROM keys AS k JOIN latest AS l ON l.latest_file = k.source_file_id
), reexported AS (
    -- earlier files that the site's latest file re-exports: it holds at least half of their
    -- records (a correction of a few records, or an addendum of new ones, is not a re-export)
    SELECT k.source_file_id
    FROM keys AS k
    JOIN (SELECT DISTINCT source_file_id, site_id FROM rows) AS fs USING (source_file_id)
    JOIN latest AS l USING (site_id)
    LEFT JOIN latest_keys AS lk ON lk.site_id = fs.site_id AND lk.record_key = k.record_key
    WHERE k.source_file_id <> l.latest_file
    GROUP BY k.source_file_id
    HAVING count(lk.record_key) >= 0.5 * count(*)
)
SELECT '{table}' AS table_name, r.source_file_id, r.source_row,
       'missing_from_later_export' AS rule, 'warning' AS severity, '{key_names}' AS column_name,
       k.record_key AS value,
       'record ' || k.record_key || ' is not in the later export ' || l.latest_path
       || ' of the same data; deleted at the site? It is still counted from this file'
           AS message
FROM rows AS r
JOIN latest AS l USING (site_id)
SEMI JOIN reexported AS x ON x.source_file_id = r.source_file_id
JOIN (SELECT source_file_id, source_row, to_json(struct_pack({key}))::VARCHAR AS record_key
      FROM core.{table}) AS k USING (source_file_id, source_row)
WHERE r.record_status = 'current' AND r.source_file_id <> l.latest_file
