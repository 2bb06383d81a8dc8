-- Record identity of core.{table}, key ({key}) (DESIGN.md "Record identity"; schemas/keys.py).
-- Of the rows of one key, the row from the file received last (audit.files.received_at, then
-- path; within one file the first row) is 'current'. An older row with the same values (every
-- column but the lineage and {not_compared}) is an 'overlap'; with other values it is
-- 'superseded', and audit.superseded_records keeps it next to the row that replaced it.
-- Nothing is deleted. Run again after rows are quarantined: a quarantined newer row leaves the
-- older one current. {table}, {key} and {not_compared} are substituted only with names from
-- schemas.keys.CORE_KEYS (never user input).
ALTER TABLE core.{table} ADD COLUMN IF NOT EXISTS record_status VARCHAR;
CREATE OR REPLACE TEMP TABLE _identity AS
WITH v AS (
    -- (the digest as a 128-bit number, the key's JSON only for superseded rows: years of
    -- cumulative exports are millions of rows)
    SELECT source_file_id, source_row, {key},
           md5_number(to_json(struct_pack(*COLUMNS(* EXCLUDE (source_file_id, source_row,
                                                              record_status{not_compared}))))
                      ::VARCHAR) AS digest
    FROM core.{table}
), ranked AS (
    SELECT v.source_file_id, v.source_row, v.digest,
           row_number() OVER w AS rank,
           first_value(v.digest) OVER w AS current_digest,
           first_value(v.source_file_id) OVER w AS current_file_id,
           first_value(v.source_row) OVER w AS current_row
    FROM v JOIN (SELECT file_id AS source_file_id, received_at AS file_received_at,
                        rel_path AS file_path FROM audit.files) USING (source_file_id)
    WINDOW w AS (PARTITION BY {key} ORDER BY file_received_at DESC, file_path DESC,
                                             v.source_row)
)
SELECT source_file_id, source_row, current_file_id, current_row,
       CASE WHEN rank = 1 THEN 'current' WHEN digest = current_digest THEN 'overlap'
            ELSE 'superseded' END AS record_status
FROM ranked;
UPDATE core.{table} AS c
SET record_status = i.record_status
FROM _identity AS i
WHERE c.source_file_id = i.source_file_id AND c.source_row = i.source_row;
CREATE TABLE IF NOT EXISTS audit.superseded_records (
    table_name     VARCHAR NOT NULL,   -- core table
    record_key     VARCHAR NOT NULL,   -- the key's values, JSON
    old_file_id    VARCHAR NOT NULL,   -- the superseded row ...
    old_row        BIGINT NOT NULL,
    old_values     VARCHAR NOT NULL,   -- ... as it was loaded (JSON)
    new_file_id    VARCHAR NOT NULL,   -- the current row that replaced it
    new_row        BIGINT NOT NULL,
    new_values     VARCHAR NOT NULL
);
DELETE FROM audit.superseded_records WHERE table_name = '{table}';
INSERT INTO audit.superseded_records
SELECT '{table}', k.record_key, i.source_file_id, i.source_row,
       to_json(o)::VARCHAR, i.current_file_id, i.current_row, to_json(n)::VARCHAR
FROM _identity AS i
JOIN core.{table} AS o ON o.source_file_id = i.source_file_id AND o.source_row = i.source_row
JOIN core.{table} AS n ON n.source_file_id = i.current_file_id AND n.source_row = i.current_row
JOIN (SELECT source_file_id, source_row, to_json(struct_pack({key}))::VARCHAR AS record_key
      FROM core.{table}) AS k
  ON k.source_file_id = i.source_file_id AND k.source_row = i.source_row
WHERE i.record_status = 'superseded'
ORDER BY k.record_key, i.source_file_id, i.source_row;
DROP TABLE _identity;
