-- The participants whose current rows of a core table read by a by-participant endpoint
-- differ from the published night's (values, not lineage): work.prev_digests (before) and
-- _new_digests (after validation), sql/incremental/participant_digests.sql.
INSERT INTO work.changed
SELECT DISTINCT coalesce(n.table_name, p.table_name), coalesce(n.participant_id, p.participant_id)
FROM _new_digests AS n
FULL JOIN work.prev_digests AS p USING (table_name, participant_id)
WHERE n.digest IS DISTINCT FROM p.digest;
