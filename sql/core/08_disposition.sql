-- Disposition form (end of study status, date, cause of death). Form, fields and codes: the
-- trial file's redcap.forms.disposition.
CREATE OR REPLACE TABLE core.disposition AS
WITH d AS (
    SELECT file_id, row_number, record_id,
           max(value) FILTER (WHERE column_name = 'status')      AS status,
           max(value) FILTER (WHERE column_name = 'status_date') AS status_date,
           max(value) FILTER (WHERE column_name = 'death_cause') AS death_cause
    FROM redcap_values WHERE core_table = 'disposition'
    GROUP BY ALL
)
SELECT record_id AS participant_id,
       status,
       TRY_STRPTIME(status_date, '%Y-%m-%d')::DATE AS status_date,
       NULLIF(death_cause, '')                    AS death_cause,
       file_id AS source_file_id, row_number AS source_row
FROM d
ORDER BY participant_id, source_file_id, source_row;
