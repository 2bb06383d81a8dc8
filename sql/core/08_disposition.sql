-- Disposition form (end of study status, date, cause of death).
CREATE OR REPLACE TABLE core.disposition AS
WITH d AS (
    SELECT file_id, row_number, record_id,
           max(value) FILTER (WHERE field = 'dispo_status') AS dispo_status,
           max(value) FILTER (WHERE field = 'dispo_date')   AS dispo_date,
           max(value) FILTER (WHERE field = 'death_cause')  AS death_cause
    FROM raw.redcap WHERE form = 'disposition'
    GROUP BY ALL
)
SELECT record_id AS participant_id,
       CASE dispo_status WHEN '1' THEN 'completed' WHEN '2' THEN 'ongoing'
                         WHEN '3' THEN 'died' WHEN '4' THEN 'withdrew' END AS status,
       TRY_STRPTIME(dispo_date, '%Y-%m-%d')::DATE AS status_date,
       NULLIF(death_cause, '')                    AS death_cause,
       file_id AS source_file_id, row_number AS source_row
FROM d
ORDER BY participant_id, source_file_id, source_row;
