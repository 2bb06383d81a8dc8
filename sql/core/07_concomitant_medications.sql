-- Concomitant medication form.
CREATE OR REPLACE TABLE core.concomitant_medications AS
WITH c AS (
    SELECT file_id, row_number, record_id,
           max(value) FILTER (WHERE field = 'cm_name')       AS cm_name,
           max(value) FILTER (WHERE field = 'cm_indication') AS cm_indication,
           max(value) FILTER (WHERE field = 'cm_start_date') AS cm_start_date,
           max(value) FILTER (WHERE field = 'cm_stop_date')  AS cm_stop_date
    FROM raw.redcap WHERE form = 'concomitant_medications'
    GROUP BY ALL
)
SELECT record_id                                     AS participant_id,
       cm_name                                       AS medication,
       cm_indication                                 AS indication,
       TRY_STRPTIME(cm_start_date, '%Y-%m-%d')::DATE AS start_date,
       TRY_STRPTIME(cm_stop_date, '%Y-%m-%d')::DATE  AS stop_date,
       file_id AS source_file_id, row_number AS source_row
FROM c
ORDER BY participant_id, start_date, medication, source_file_id, source_row;
