-- Per participant, a digest of the values of core.{table}'s current rows (lineage and status
-- left out): which participants' inputs of a by-participant endpoint changed this night
-- (isletflow/endpoints/registry.py). {table}: a name from schemas.keys.CORE_KEYS only.
SELECT '{table}' AS table_name, participant_id, md5(string_agg(h, ',' ORDER BY h)) AS digest
FROM (SELECT participant_id,
             md5(to_json(struct_pack(*COLUMNS(* EXCLUDE (source_file_id, source_row,
                                                         record_status))))::VARCHAR) AS h
      FROM core.{table} WHERE record_status = 'current')
GROUP BY participant_id
